"""What a client remembers between calls when it walks model chains.

Cooldowns keep a model that just failed out of chains for a while (per model, not per
provider). Pins keep the model chosen for a session (an agent run, a thread) until it
fails, so an agent does not switch models in the middle of a task. Both are safe to
share between threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["Cooldowns", "SessionPins"]


class Cooldowns:
    """Models that failed recently, each until its own deadline."""

    def __init__(self, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, model: str) -> None:
        """Cool ``model`` down for ``seconds`` from now."""
        if self.seconds > 0:
            with self._lock:
                self._until[model] = self._clock() + self.seconds

    def active(self) -> frozenset[str]:
        """The models cooling down now."""
        now = self._clock()
        with self._lock:
            for model in [m for m, until in self._until.items() if until <= now]:
                del self._until[model]
            return frozenset(self._until)


class SessionPins:
    """The model pinned to each session id; the least recently used ids are forgotten."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._pins: OrderedDict[str, str] = OrderedDict()
        self._max = max_sessions
        self._lock = threading.Lock()

    def get(self, session_id: str) -> str | None:
        """The model pinned to ``session_id``, if any."""
        with self._lock:
            model = self._pins.get(session_id)
            if model is not None:
                self._pins.move_to_end(session_id)
            return model

    def pin(self, session_id: str, model: str) -> None:
        """Pin ``model`` to ``session_id``."""
        with self._lock:
            self._pins[session_id] = model
            self._pins.move_to_end(session_id)
            while len(self._pins) > self._max:
                self._pins.popitem(last=False)

    def unpin(self, session_id: str, model: str) -> None:
        """Release ``session_id`` if it is pinned to ``model`` (the model failed)."""
        with self._lock:
            if self._pins.get(session_id) == model:
                del self._pins[session_id]
