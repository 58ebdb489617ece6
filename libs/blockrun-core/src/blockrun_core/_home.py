"""Where BlockRun keeps its files: ``$BLOCKRUN_HOME``, else ``~/.blockrun``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["blockrun_home"]


def blockrun_home() -> Path:
    """``$BLOCKRUN_HOME`` when set, else ``~/.blockrun`` (read on every call, never created)."""
    home = os.environ.get("BLOCKRUN_HOME", "").strip()
    return Path(home) if home else Path.home() / ".blockrun"
