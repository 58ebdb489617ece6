"""Remembering whom a client pays, so a gateway cannot switch its treasury mid-session."""

from __future__ import annotations

import threading

__all__ = ["PayeePin"]


class PayeePin:
    """The first recipient (``payTo``) a client's gateway served a paid answer for.

    Pinned only after a paid success, so a first bad challenge cannot pin anything. Checked
    by :func:`~blockrun_core.x402.select_offer` (``paid_to``); safe to share between threads.
    """

    def __init__(self) -> None:
        self._pay_to: str | None = None
        self._lock = threading.Lock()

    @property
    def pay_to(self) -> str | None:
        """The pinned recipient, once there is one."""
        return self._pay_to

    def remember(self, pay_to: str) -> None:
        """Pin ``pay_to`` unless a recipient is pinned already."""
        with self._lock:
            if self._pay_to is None:
                self._pay_to = pay_to

    def __repr__(self) -> str:
        return f"PayeePin(pay_to={self._pay_to!r})"
