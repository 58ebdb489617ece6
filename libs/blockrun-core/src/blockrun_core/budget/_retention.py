"""How long stores remember a committed reservation id, so that a repeated commit counts once."""

from __future__ import annotations

__all__ = ["COMMIT_RETENTION_SECONDS", "commit_retention"]

# A repeated commit comes from a retry within seconds; a day leaves a wide margin while keeping
# the remembered ids bounded.
COMMIT_RETENTION_SECONDS = 86_400.0


def commit_retention(window_seconds: float | None) -> float:
    """Seconds a committed id is kept: a day, or the whole window if that is longer."""
    return max(COMMIT_RETENTION_SECONDS, window_seconds or 0.0)
