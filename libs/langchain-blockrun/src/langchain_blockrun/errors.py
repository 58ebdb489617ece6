"""Core errors, typed the LangChain way too.

``ChatBlockRun`` raises each blockrun-core error as a class that inherits both the core
class and the closest ``langchain_core.exceptions`` type, so ``except
blockrun_core.PaymentRefusedError`` and ``except ModelInvalidRequestError`` both work, and
LangChain's retry and summarisation middleware understand it. ``is_retryable`` mirrors the
core's ``retryable``.

==================================  =================================================
blockrun_core error                 also a langchain_core.exceptions ...
==================================  =================================================
CredentialError (bad key)           ModelAuthenticationError
UnknownModelError                   ModelNotFoundError
ConfigurationError, NoCapable...    ModelInvalidRequestError
PaymentError and subclasses,        ModelError (``is_retryable`` False, except the
BudgetExceededError                 facilitator being unreachable: nothing was charged)
RateLimitError                      ModelRateLimitError
ContextOverflowError                ContextOverflowError
UpstreamError 4xx                   ModelInvalidRequestError (401: Authentication,
                                    403: PermissionDenied, 404: NotFound)
UpstreamError timeout / connection  ModelTimeoutError / ModelConnectionError
UpstreamError 5xx, truncated        ModelAPIError
stream, AllModelsFailedError
==================================  =================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from blockrun_core import errors as core
from langchain_core import exceptions as lc

__all__ = ["convert_error", "langchain_error_type", "mapped_errors"]

_STATUS_TYPES: dict[int, type[lc.ModelError]] = {
    401: lc.ModelAuthenticationError,
    403: lc.ModelPermissionDeniedError,
    404: lc.ModelNotFoundError,
    408: lc.ModelTimeoutError,
}


def langchain_error_type(exc: core.BlockRunError) -> type[lc.ModelError]:
    """The ``langchain_core.exceptions`` type closest to a core error."""
    if isinstance(exc, core.UnknownModelError):
        return lc.ModelNotFoundError
    if isinstance(exc, core.CredentialError):
        return lc.ModelAuthenticationError
    if isinstance(exc, core.ConfigurationError):
        return lc.ModelInvalidRequestError
    if isinstance(exc, core.RateLimitError):
        return lc.ModelRateLimitError
    if isinstance(exc, core.ContextOverflowError):
        return lc.ContextOverflowError
    if isinstance(exc, core.UpstreamError):
        return _upstream_type(exc)
    if isinstance(exc, core.AllModelsFailedError):
        return lc.ModelAPIError
    return lc.ModelError  # payments, budgets, anything new: typed, never retried by type


def _upstream_type(exc: core.UpstreamError) -> type[lc.ModelError]:
    if exc.code == "TIMEOUT":
        return lc.ModelTimeoutError
    if exc.code == "CONNECTION_ERROR":
        return lc.ModelConnectionError
    status = exc.status_code
    if status in _STATUS_TYPES:
        return _STATUS_TYPES[status]
    if status is not None and 400 <= status < 500 and status != 409:
        return lc.ModelInvalidRequestError
    return lc.ModelAPIError


_DUALS: dict[tuple[type[core.BlockRunError], type[lc.ModelError]], type[core.BlockRunError]] = {}


def _dual(
    core_type: type[core.BlockRunError], lc_type: type[lc.ModelError]
) -> type[core.BlockRunError]:
    """A class inheriting both; named like the core class, so tracebacks read naturally."""
    known = _DUALS.get((core_type, lc_type))
    if known is not None:
        return known
    also = f"Also a ``langchain_core.exceptions.{lc_type.__name__}``."
    namespace = {
        "__module__": __name__,
        "__doc__": f"{core_type.__doc__}\n\n{also}",
        "is_retryable": core_type.retryable,
    }
    dual: type[core.BlockRunError] = type(core_type.__name__, (core_type, lc_type), namespace)
    return _DUALS.setdefault((core_type, lc_type), dual)


def convert_error(exc: core.BlockRunError) -> core.BlockRunError:
    """``exc`` as a class that is also the closest LangChain typed error.

    The result is an instance of ``type(exc)`` with the same message and attributes
    (``code``, ``retry_after``, ``attempts``...); ``is_retryable`` is ``exc.retryable``.
    """
    if isinstance(exc, lc.ModelError):
        return exc
    cls = _dual(type(exc), langchain_error_type(exc))
    # Copy the state rather than call __init__: the core constructors differ, and the
    # instance already holds everything (message, args, fields).
    converted = cls.__new__(cls)
    converted.__dict__.update(exc.__dict__)
    converted.args = exc.args
    converted.is_retryable = bool(exc.retryable)  # type: ignore[attr-defined]
    return converted


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Re-raise core errors raised inside the block as their LangChain-typed classes."""
    try:
        yield
    except core.BlockRunError as exc:
        converted = convert_error(exc)
        if converted is exc:
            raise
        raise converted from exc
