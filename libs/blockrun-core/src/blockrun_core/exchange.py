"""One logical call to the gateway: probe, pay, resend, written once for sync and async.

The money rules live here:

- a payment is signed only for an offer that passes the :class:`PaymentPolicy` and only
  once the amount is reserved on the call's :class:`Budget` (and all its ancestors), with
  the domain from our own table; the reservation is committed with what was paid, or
  released when nothing was charged;
- after a signed request has been sent, an ambiguous failure (timeout, reset, 429, 5xx)
  may resend the *same* header, never a new signature; if that still fails the call ends
  with :class:`PaymentInDoubtError`;
- a new signature follows only an unambiguous refusal (HTTP 402: nothing was charged):
  a refused pre-authorisation, or one re-quote after ``PAYMENT_UNDERPAID``;
- redirects are never followed; one answering a signed request leaves it in doubt;
- a served answer whose settlement receipt names another payer, amount or network is
  kept (it is what we paid for), but the payment is recorded as in doubt and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import httpx

from .config import Credentials
from .errors import (
    BlockRunError,
    PaymentInDoubtError,
    PaymentRefusedError,
    PaymentRejectedError,
    PaymentReplayError,
    PaymentUnderpaidError,
    SettlementFailedError,
    UpstreamError,
)
from .http_errors import error_from_response, parse_retry_after
from .preauth import PreauthCache
from .transport import Close, Flow, Invoke, Op, Read, Send, Sleep
from .x402 import (
    PayeePin,
    PaymentPolicy,
    PaymentReceipt,
    SignedPayment,
    decode_receipt,
    match_receipt,
    parse_challenge,
    rejection_error,
    select_offer,
    sign_payment,
)
from .x402.networks import Network

if TYPE_CHECKING:
    from .budget import Budget, Reservation

__all__ = ["AttemptOutcome", "CallSpec", "Exchange", "Exchanged", "PaymentStatus"]

logger = logging.getLogger("blockrun")

MAX_SAME_HEADER_RESENDS = 2
# Transport errors raised before any byte of the request left the client: no connection
# could be made, or none was free in the pool. A payment they carried was not delivered.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class CallSpec:
    """Everything one call needs to know; built by the client."""

    url: str
    body: bytes
    headers: dict[str, str] = field(repr=False)  # content type, user agent, account key
    model: str
    stream: bool
    credentials: Credentials
    policy: PaymentPolicy
    network: Network
    local_quote_micros: int  # our computation of the gateway's quote; 0 for free models
    max_retries: int
    max_amount_micros: int | None = None
    backoff_seconds: float = 0.5
    budget: Budget | None = None
    payee_pin: PayeePin | None = None  # the client's: whom it has paid so far


@dataclass(frozen=True, slots=True)
class Exchanged:
    """A successful answer; for a stream the body is still unread."""

    response: httpx.Response
    payment: SignedPayment | None
    receipt: PaymentReceipt | None
    round_trips: int


PaymentStatus = Literal["free", "settled", "rejected", "in_doubt", "failed", "account"]


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one exchange ended, for the usage ledger."""

    status: PaymentStatus
    quoted_micros: int  # the price we reserved or were asked (0 if none)
    charged_micros: int  # what the budget was charged: signed and possibly settled
    latency_seconds: float
    error: BaseException | None = None
    tx_hash: str | None = None  # the settlement transaction the gateway reported, if any


class Exchange:
    """The state of one call; :meth:`run` is the generator the transport drives.

    After :meth:`run` has finished (either way) ``outcome`` says how, and ``started_at``
    when (wall-clock seconds).
    """

    def __init__(self, spec: CallSpec, preauth: PreauthCache) -> None:
        self.spec = spec
        self._preauth_cache = preauth
        self._payment: SignedPayment | None = None
        self._preauthorised = False
        self._resends = 0
        self._retries = 0
        self._requoted = False
        self._delay = 0.0
        self._holds: list[Reservation] = []
        self._paid_send = False  # a signed request went out: it may have been charged
        self._quoted = 0
        self.round_trips = 0
        self.started_at = 0.0
        self.outcome: AttemptOutcome | None = None

    def run(self) -> Flow[Exchanged]:
        """Send until a success, or raise the error that ends the call.

        Whatever the outcome, the budget reservation is settled before this returns.
        """
        self.started_at = time.time()
        clock = time.perf_counter()
        try:
            done = yield from self._exchange()
        except GeneratorExit:
            raise
        except BaseException as exc:
            charged = self._charged_by_failure(exc)
            self._finish(_failure_status(exc, charged), charged, clock, exc)
            yield from self._settle(charged)
            raise
        charged = self._charged_by_success(done)
        doubt = self._receipt_doubt(done)
        status: PaymentStatus = (
            "in_doubt" if doubt is not None else self._success_status(done, charged)
        )
        receipt = done.receipt if doubt is None else None  # a mismatched tx is not ours
        self._finish(status, charged, clock, doubt, receipt.transaction if receipt else None)
        yield from self._settle(charged)
        return done

    def _finish(
        self,
        status: PaymentStatus,
        charged: int,
        clock: float,
        error: BaseException | None,
        tx_hash: str | None = None,
    ) -> None:
        quoted = self._quoted or (self._payment.amount_micros if self._payment else 0)
        latency = time.perf_counter() - clock
        self.outcome = AttemptOutcome(status, quoted, charged, latency, error, tx_hash)

    def _success_status(self, done: Exchanged, charged: int) -> PaymentStatus:
        if self.spec.credentials.rail == "account":
            return "account"
        if charged and done.receipt is not None and done.receipt.settled is False:
            return "in_doubt"  # served, but the gateway says the payment has not settled
        return "settled" if charged else "free"

    def _exchange(self) -> Flow[Exchanged]:
        headers = yield from self._first_headers()
        while True:
            if self._delay:
                yield Sleep(self._delay)
                self._delay = 0.0
            self.round_trips += 1
            sent_before = self._paid_send
            self._paid_send = sent_before or self._payment is not None
            response: httpx.Response | None = None
            try:
                response = yield Send(
                    self.spec.url, self.spec.body, {**self.spec.headers, **headers}
                )
                if not (self.spec.stream and response.is_success):
                    yield Read(response)
            except httpx.TransportError as exc:
                if response is not None:
                    yield Close(response)  # the body broke off: release the connection
                elif isinstance(exc, _NEVER_SENT):
                    self._paid_send = sent_before  # this request never left the client
                headers = self._after_transport_error(exc)
                continue
            if response.is_success:
                return self._success(response)
            if self._wants_payment(response):
                headers = yield from self._pay(response)
            else:
                headers = self._after_error_response(response)

    # -- the first request ---------------------------------------------------------------

    def _first_headers(self) -> Generator[Op, Any, dict[str, str]]:
        """Reserve the expected price up front; sign it too when a pre-authorisation applies.

        Reserving before the unpaid probe means a call that cannot fit its budget fails
        before anything is sent, and concurrent calls cannot all pass one check.
        """
        spec = self.spec
        if spec.local_quote_micros <= 0:
            return {}
        signer = spec.credentials.signer
        plan = None
        if signer is not None:
            plan = self._preauth_cache.plan(spec.model, spec.local_quote_micros)
            if plan is not None and not self._fits(plan.amount_micros):
                plan = None
        self._quoted = plan.amount_micros if plan else spec.local_quote_micros
        yield from self._hold(self._quoted)
        if plan is None or signer is None:
            return {}
        self._payment = sign_payment(
            signer,
            plan.offer,
            plan.network,
            challenge=plan.challenge,
            resource_url=spec.url,
            policy=spec.policy,
            amount_micros=plan.amount_micros,
        )
        self._preauthorised = True
        logger.debug("pre-authorised %s for %d micro-USDC", spec.model, plan.amount_micros)
        return self._payment_headers()

    def _fits(self, amount_micros: int) -> bool:
        cap = self.spec.max_amount_micros
        return amount_micros <= self.spec.policy.max_per_call_micros and (
            cap is None or amount_micros <= cap
        )

    # -- answers ---------------------------------------------------------------------------

    def _success(self, response: httpx.Response) -> Exchanged:
        payment, receipt = self._payment, None
        if payment is not None:
            receipt = decode_receipt(response.headers)
            if receipt is not None:
                receipt = match_receipt(
                    receipt,
                    payer=payment.payer,
                    amount_micros=payment.amount_micros,
                    network=payment.network,
                )
            if self.spec.payee_pin is not None and (receipt is None or not receipt.mismatch):
                self.spec.payee_pin.remember(payment.pay_to)
        return Exchanged(response, payment, receipt, self.round_trips)

    def _receipt_doubt(self, done: Exchanged) -> PaymentInDoubtError | None:
        """A served answer whose receipt is not about our payment: kept, but in doubt."""
        if done.receipt is None or done.receipt.mismatch is None:
            return None
        assert done.payment is not None
        message = (
            f"{self.spec.model}: the answer was kept, but {done.receipt.mismatch}; whether "
            f"the ${done.payment.amount_micros / 1e6:.6f} signed was settled is in doubt."
        )
        logger.warning("%s", message)
        return PaymentInDoubtError(
            message,
            amount_usd=done.payment.amount_micros / 1e6,
            model=self.spec.model,
            cause=done.receipt.mismatch,
            attempts=self._resends + 1,
        )

    def _after_error_response(self, response: httpx.Response) -> dict[str, str]:
        status, body = response.status_code, response.content
        if self.spec.credentials.rail == "account":
            # The first POST is the billed one: never replay it.
            raise error_from_response(status, response.headers, body, model=self.spec.model)
        if status == 402:
            return self._after_402(response)
        if 300 <= status < 400 and self._payment is not None:
            # Redirects are never followed; the configured host had the signed header.
            raise self._in_doubt(f"HTTP {status} redirect, not followed")
        if status == 429 or status >= 500:
            cause = f"HTTP {status}"
            if self._payment is not None:
                return self._resend_same_payment(cause, parse_retry_after(response.headers))
            error = error_from_response(status, response.headers, body, model=self.spec.model)
            return self._retry_unpaid(error, parse_retry_after(response.headers))
        raise error_from_response(status, response.headers, body, model=self.spec.model)

    def _after_402(self, response: httpx.Response) -> dict[str, str]:
        """A signed request was refused (the unpaid 402 goes to :meth:`_pay`)."""
        if self._payment is None:  # the account rail: a 402 is its final answer
            raise error_from_response(
                402, response.headers, response.content, model=self.spec.model
            )
        rejection = rejection_error(response.status_code, response.content) or (
            PaymentRejectedError(
                f"{self.spec.model}: the gateway refused the payment.", code="PAYMENT_REJECTED"
            )
        )
        if self._resends or isinstance(rejection, (PaymentReplayError, SettlementFailedError)):
            # An earlier send of this very header may have been served and charged.
            raise self._in_doubt(rejection.message)
        if self._preauthorised:
            self._preauth_cache.forget(self.spec.model)
        elif isinstance(rejection, PaymentUnderpaidError) and not self._requoted:
            self._requoted = True  # the price moved between the probe and the payment
        else:
            raise rejection
        # A 402 comes before settlement: nothing was charged, so a fresh quote is safe.
        self._payment = None
        self._preauthorised = False
        return {}

    def _wants_payment(self, response: httpx.Response) -> bool:
        """An unpaid request answered 402: the gateway's price, to pay or refuse."""
        return (
            response.status_code == 402
            and self._payment is None
            and self.spec.credentials.rail != "account"
        )

    def _pay(self, response: httpx.Response) -> Generator[Op, Any, dict[str, str]]:
        spec = self.spec
        challenge = parse_challenge(response.headers, response.content)
        offer, network = select_offer(
            challenge,
            spec.policy,
            default_network=spec.network,
            max_amount_micros=spec.max_amount_micros,
            paid_to=spec.payee_pin.pay_to if spec.payee_pin is not None else None,
        )
        signer = spec.credentials.signer
        if signer is None:
            raise PaymentRefusedError(
                f"{spec.model} costs ${offer.amount / 1e6:.6f} per call and no wallet is "
                "configured: set BLOCKRUN_WALLET_KEY, pass wallet_key=, or use a free model.",
                reason="no_wallet",
            )
        self._quoted = offer.amount
        yield from self._hold(offer.amount)
        self._payment = sign_payment(
            signer, offer, network, challenge=challenge, resource_url=spec.url, policy=spec.policy
        )
        self._preauth_cache.remember(spec.model, challenge, offer, network, spec.local_quote_micros)
        logger.debug("paying %s: %d micro-USDC on %s", spec.model, offer.amount, network.caip2)
        return self._payment_headers()

    def _payment_headers(self) -> dict[str, str]:
        assert self._payment is not None
        return {self._payment.header_name: self._payment.header_value}

    # -- the budget ------------------------------------------------------------------------

    def _hold(self, micros: int) -> Generator[Op, Any, None]:
        """Make sure ``micros`` is reserved on the budget before it is signed."""
        budget = self.spec.budget
        missing = micros - sum(hold.micros for hold in self._holds)
        if budget is None or missing <= 0:
            return
        reservation = yield Invoke(
            lambda: budget.reserve(missing), lambda: budget.areserve(missing)
        )
        self._holds.append(reservation)

    def _charged_by_success(self, done: Exchanged) -> int:
        if self.spec.credentials.rail == "account":
            return self.spec.local_quote_micros  # billed by the same formula, not signed
        if done.payment is None or done.response.headers.get("x-settlement-skipped"):
            return 0
        return done.payment.amount_micros

    def _charged_by_failure(self, error: BaseException) -> int:
        """What a failed call may have cost: a paid send whose outcome is unknown counts."""
        if self._payment is None or not self._paid_send:
            return 0
        if isinstance(error, (PaymentRejectedError, PaymentRefusedError)) and not isinstance(
            error, SettlementFailedError
        ):
            return 0  # a 402: verification failed before settlement
        status = error.status_code if isinstance(error, UpstreamError) else None
        if status is not None and 400 <= status < 500:
            return 0  # refused before the model ran; the gateway settles after it
        return self._payment.amount_micros

    def _settle(self, charged_micros: int) -> Generator[Op, Any, None]:
        """Commit what was charged in place of the reservations, or release them."""
        budget, holds = self.spec.budget, self._holds
        if budget is None or not holds:
            return
        self._holds = []
        first, rest = holds[0], holds[1:]
        if charged_micros > 0:
            yield Invoke(
                lambda: budget.commit(first, charged_micros),
                lambda: budget.acommit(first, charged_micros),
            )
        else:
            rest = holds
        for hold in rest:
            yield Invoke(partial(budget.release, hold), partial(budget.arelease, hold))

    # -- failures --------------------------------------------------------------------------

    def _after_transport_error(self, exc: httpx.TransportError) -> dict[str, str]:
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        never_sent = isinstance(exc, _NEVER_SENT)
        if self._payment is not None and (self._paid_send or not never_sent):
            return self._resend_same_payment(cause, None)
        error = UpstreamError(
            f"{self.spec.model}: could not reach the gateway ({cause}).",
            status_code=None,
            code="TIMEOUT" if isinstance(exc, httpx.TimeoutException) else "CONNECTION_ERROR",
        )
        if self.spec.credentials.rail == "account" and not never_sent:
            error.message += " The request may already have been billed; not retried."
            raise error from exc
        headers = self._retry_unpaid(error, None)
        # A signed payment that never left is sent as it is: nothing new is signed.
        return self._payment_headers() if self._payment is not None else headers

    def _retry_unpaid(self, error: BlockRunError, retry_after: float | None) -> dict[str, str]:
        """Nothing was paid yet: retrying the unpaid request is free and safe."""
        if self._retries >= self.spec.max_retries or (
            retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS
        ):
            raise error
        self._retries += 1
        self._delay = (
            retry_after
            if retry_after is not None
            else self.spec.backoff_seconds * 2 ** (self._retries - 1)
        )
        return {}

    def _resend_same_payment(self, cause: str, retry_after: float | None) -> dict[str, str]:
        """A signed request had an ambiguous outcome: resend it byte for byte, or give up."""
        if self._resends >= MAX_SAME_HEADER_RESENDS or (
            retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS
        ):
            raise self._in_doubt(cause)
        self._resends += 1
        self._delay = retry_after if retry_after is not None else self.spec.backoff_seconds
        logger.debug("resending the same payment for %s after %s", self.spec.model, cause)
        return self._payment_headers()

    def _in_doubt(self, cause: str) -> PaymentInDoubtError:
        assert self._payment is not None
        amount = self._payment.amount_micros / 1e6
        return PaymentInDoubtError(
            f"{self.spec.model}: a payment of ${amount:.6f} was sent and the call failed "
            f"({cause}) after {self._resends + 1} attempt(s) with the same signature. It may "
            "have been charged; no second payment was signed.",
            amount_usd=amount,
            model=self.spec.model,
            cause=cause,
            attempts=self._resends + 1,
        )


def _failure_status(error: BaseException, charged: int) -> PaymentStatus:
    if charged:
        return "in_doubt"
    if isinstance(error, PaymentRejectedError):
        return "rejected"
    return "failed"
