"""Core errors become classes that are both the core error and LangChain's typed error."""

from __future__ import annotations

import pytest
from blockrun_core import errors as core
from langchain_blockrun.errors import convert_error, mapped_errors
from langchain_core import exceptions as lc

CASES: list[tuple[core.BlockRunError, type[lc.ModelError], bool]] = [
    (
        core.UnknownModelError("Unknown model 'gpt-9'.", suggestions=["openai/gpt-5"]),
        lc.ModelNotFoundError,
        False,
    ),
    (
        core.CredentialError("The wallet key is malformed: expected 0x..."),
        lc.ModelAuthenticationError,
        False,
    ),
    (
        core.CredentialError("The gateway rejected the account key (HTTP 401)."),
        lc.ModelAuthenticationError,
        False,
    ),
    (core.ConfigurationError("Invalid API URL 'ftp://x'."), lc.ModelInvalidRequestError, False),
    (
        core.NoCapableModelError("no vision model", eliminated=[("a", "vision")]),
        lc.ModelInvalidRequestError,
        False,
    ),
    (core.PaymentRefusedError("over the cap", reason="max_per_call"), lc.ModelError, False),
    (core.PaymentUnfundedError("no USDC", code="PAYMENT_UNFUNDED"), lc.ModelError, False),
    (core.PaymentVerificationUnavailableError("later", code="X"), lc.ModelError, True),
    (
        core.PaymentInDoubtError("?", amount_usd=0.01, model="m", cause="timeout", attempts=1),
        lc.ModelError,
        False,
    ),
    (
        core.BudgetExceededError(budget="team", limit_usd=1.0, spent_usd=1.0, requested_usd=0.1),
        lc.ModelError,
        False,
    ),
    (core.RateLimitError("slow down", retry_after=2.0), lc.ModelRateLimitError, True),
    (core.ContextOverflowError("too long"), lc.ContextOverflowError, False),
    (
        core.UpstreamError("bad", status_code=400, code="INVALID_PARAMETER"),
        lc.ModelInvalidRequestError,
        False,
    ),
    (core.UpstreamError("who", status_code=401), lc.ModelAuthenticationError, False),
    (core.UpstreamError("no", status_code=403), lc.ModelPermissionDeniedError, False),
    (core.UpstreamError("gone", status_code=404), lc.ModelNotFoundError, False),
    (core.UpstreamError("down", status_code=503), lc.ModelAPIError, True),
    (core.UpstreamError("slow", status_code=None, code="TIMEOUT"), lc.ModelTimeoutError, True),
    (
        core.UpstreamError("reset", status_code=None, code="CONNECTION_ERROR"),
        lc.ModelConnectionError,
        True,
    ),
    (core.StreamTruncatedError(), lc.ModelAPIError, True),
    (
        core.AllModelsFailedError(
            [core.AttemptFailure("a", core.UpstreamError("x", status_code=503))]
        ),
        lc.ModelAPIError,
        True,
    ),
]


@pytest.mark.parametrize(("error", "typed", "retryable"), CASES, ids=lambda c: type(c).__name__)
def test_each_core_error_is_also_the_closest_langchain_error(
    error: core.BlockRunError, typed: type[lc.ModelError], retryable: bool
) -> None:
    converted = convert_error(error)
    assert isinstance(converted, type(error)) and isinstance(converted, typed)
    assert type(converted).__name__ == type(error).__name__
    assert str(converted) == str(error) and converted.__dict__.items() >= error.__dict__.items()
    assert converted.is_retryable is retryable is error.retryable  # type: ignore[attr-defined]


def test_fields_survive_conversion() -> None:
    error = convert_error(core.RateLimitError("slow down", retry_after=2.5, code="RATE_LIMITED"))
    assert isinstance(error, core.RateLimitError)
    assert (error.retry_after, error.code, error.status_code) == (2.5, "RATE_LIMITED", 429)


def test_mapped_errors_reraise_converted_with_the_original_as_cause() -> None:
    original = core.PaymentRefusedError("over the cap", reason="max_per_call")
    with pytest.raises(lc.ModelError) as caught, mapped_errors():
        raise original
    assert isinstance(caught.value, core.PaymentRefusedError)
    assert caught.value.__cause__ is original and caught.value.reason == "max_per_call"


def test_mapped_errors_leave_other_exceptions_alone() -> None:
    with pytest.raises(KeyError), mapped_errors():
        raise KeyError("x")


def test_converting_twice_is_a_no_op() -> None:
    once = convert_error(core.ContextOverflowError("too long"))
    assert convert_error(once) is once
