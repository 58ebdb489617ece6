"""``BlockRunCallEvent``: one per served call, through LlamaIndex's instrumentation.

Subscribe with a ``BaseEventHandler`` on the root dispatcher to total spend::

    class Spend(BaseEventHandler):
        total: float = 0.0

        def handle(self, event, **kwargs):
            if isinstance(event, BlockRunCallEvent):
                self.total += event.cost_usd or 0.0
                self.in_doubt += event.in_doubt_usd or 0.0

    get_dispatcher().add_event_handler(Spend())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blockrun_core import PaymentInDoubtError

# llama_index.core re-exports get_dispatcher without declaring it (no __all__).
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import NullEventHandler
from llama_index.core.instrumentation.events import BaseEvent

__all__ = ["BlockRunCallEvent", "dispatcher", "emit", "reporting_in_doubt"]

dispatcher = get_dispatcher("llama_index.llms.blockrun")


class BlockRunCallEvent(BaseEvent):
    """What one call cost and why its model was chosen.

    ``cost_usd`` is what was paid (0.0 for a free model, ``None`` on the account rail,
    where the gateway bills the key); ``savings`` the fraction saved against the routing
    baseline; ``routing`` is the router's decision for
    ``model="auto"`` and the other profiles; ``receipt`` is the gateway's settlement
    receipt for a paid call. A stream reports once, when it ends.

    A call that failed with :class:`~blockrun_core.PaymentInDoubtError` reports too:
    ``in_doubt_usd`` is the signed amount that may have been charged (``cost_usd`` stays
    ``None``), so a handler can keep it apart from what was surely paid.
    """

    model: str
    requested_model: str
    cost_usd: float | None = None
    savings: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    routing: dict[str, Any] | None = None
    receipt: dict[str, Any] | None = None
    streamed: bool = False
    in_doubt_usd: float | None = None

    @classmethod
    def class_name(cls) -> str:
        """The event's name in traces."""
        return "BlockRunCallEvent"


def emit(make_event: Callable[[], BaseEvent | None]) -> None:
    """Dispatch the event ``make_event`` builds, building it only if a handler listens
    (building one costs ~10 µs a call)."""
    if not _listened_to():
        return
    event = make_event()
    if event is not None:
        dispatcher.event(event)


def _listened_to() -> bool:
    current: Any = dispatcher
    while current is not None:
        if any(not isinstance(h, NullEventHandler) for h in current.event_handlers):
            return True
        current = current.parent if current.propagate else None
    return False


class reporting_in_doubt:  # noqa: N801  (used as a function: ``with reporting_in_doubt(m):``)
    """Report a payment in doubt as a :class:`BlockRunCallEvent`, then let it propagate.

    A class rather than a generator-based context manager: it wraps every call.
    """

    __slots__ = ("_requested_model",)

    def __init__(self, requested_model: str) -> None:
        self._requested_model = requested_model

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, PaymentInDoubtError):
            dispatcher.event(
                BlockRunCallEvent(
                    model=exc.model,
                    requested_model=self._requested_model,
                    in_doubt_usd=exc.amount_usd,
                )
            )
