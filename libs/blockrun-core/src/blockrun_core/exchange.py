"""One logical call to the gateway: probe, pay, resend, written once for sync and async.

The money rules live here:

- a payment is signed only for an offer that passes the :class:`PaymentPolicy` (and the
  caller's ``max_amount_micros``, the budget), with the domain from our own table;
- after a signed request has been sent, an ambiguous failure (timeout, reset, 429, 5xx)
  may resend the *same* header, never a new signature; if that still fails the call ends
  with :class:`PaymentInDoubtError`;
- a new signature follows only an unambiguous refusal (HTTP 402: nothing was charged):
  a refused pre-authorisation, or one re-quote after ``PAYMENT_UNDERPAID``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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
from .transport import Close, Flow, Read, Send, Sleep
from .x402 import (
    PaymentPolicy,
    PaymentReceipt,
    SignedPayment,
    decode_receipt,
    parse_challenge,
    rejection_error,
    select_offer,
    sign_payment,
)
from .x402.networks import Network

__all__ = ["CallSpec", "Exchange", "Exchanged"]

logger = logging.getLogger("blockrun")

MAX_SAME_HEADER_RESENDS = 2
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


@dataclass(frozen=True, slots=True)
class Exchanged:
    """A successful answer; for a stream the body is still unread."""

    response: httpx.Response
    payment: SignedPayment | None
    receipt: PaymentReceipt | None
    round_trips: int


class Exchange:
    """The state of one call; :meth:`run` is the generator the transport drives."""

    def __init__(self, spec: CallSpec, preauth: PreauthCache) -> None:
        self.spec = spec
        self._preauth_cache = preauth
        self._payment: SignedPayment | None = None
        self._preauthorised = False
        self._resends = 0
        self._retries = 0
        self._requoted = False
        self._delay = 0.0
        self.round_trips = 0

    def run(self) -> Flow[Exchanged]:
        """Send until a success, or raise the error that ends the call."""
        headers = self._first_headers()
        while True:
            if self._delay:
                yield Sleep(self._delay)
                self._delay = 0.0
            self.round_trips += 1
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
                headers = self._after_transport_error(exc)
                continue
            if response.is_success:
                return self._success(response)
            headers = self._after_error_response(response)

    # -- the first request ---------------------------------------------------------------

    def _first_headers(self) -> dict[str, str]:
        spec = self.spec
        signer = spec.credentials.signer
        if signer is None or spec.local_quote_micros <= 0:
            return {}
        plan = self._preauth_cache.plan(spec.model, spec.local_quote_micros)
        if plan is None or not self._fits(plan.amount_micros):
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
        receipt = decode_receipt(response.headers) if self._payment else None
        return Exchanged(response, self._payment, receipt, self.round_trips)

    def _after_error_response(self, response: httpx.Response) -> dict[str, str]:
        status, body = response.status_code, response.content
        if self.spec.credentials.rail == "account":
            # The first POST is the billed one: never replay it.
            raise error_from_response(status, response.headers, body, model=self.spec.model)
        if status == 402:
            return self._after_402(response)
        if status == 429 or status >= 500:
            cause = f"HTTP {status}"
            if self._payment is not None:
                return self._resend_same_payment(cause, parse_retry_after(response.headers))
            error = error_from_response(status, response.headers, body, model=self.spec.model)
            return self._retry_unpaid(error, parse_retry_after(response.headers))
        raise error_from_response(status, response.headers, body, model=self.spec.model)

    def _after_402(self, response: httpx.Response) -> dict[str, str]:
        if self._payment is None:
            return self._pay(response)
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

    def _pay(self, response: httpx.Response) -> dict[str, str]:
        spec = self.spec
        challenge = parse_challenge(response.headers, response.content)
        offer, network = select_offer(
            challenge,
            spec.policy,
            default_network=spec.network,
            max_amount_micros=spec.max_amount_micros,
        )
        signer = spec.credentials.signer
        if signer is None:
            raise PaymentRefusedError(
                f"{spec.model} costs ${offer.amount / 1e6:.6f} per call and no wallet is "
                "configured: set BLOCKRUN_WALLET_KEY, pass wallet_key=, or use a free model.",
                reason="no_wallet",
            )
        self._payment = sign_payment(
            signer, offer, network, challenge=challenge, resource_url=spec.url, policy=spec.policy
        )
        self._preauth_cache.remember(spec.model, challenge, offer, network, spec.local_quote_micros)
        logger.debug("paying %s: %d micro-USDC on %s", spec.model, offer.amount, network.caip2)
        return self._payment_headers()

    def _payment_headers(self) -> dict[str, str]:
        assert self._payment is not None
        return {self._payment.header_name: self._payment.header_value}

    # -- failures --------------------------------------------------------------------------

    def _after_transport_error(self, exc: httpx.TransportError) -> dict[str, str]:
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._payment is not None:
            return self._resend_same_payment(cause, None)
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        error = UpstreamError(
            f"{self.spec.model}: could not reach the gateway ({cause}).",
            status_code=None,
            code="TIMEOUT" if isinstance(exc, httpx.TimeoutException) else "CONNECTION_ERROR",
        )
        if self.spec.credentials.rail == "account" and not never_sent:
            error.message += " The request may already have been billed; not retried."
            raise error from exc
        return self._retry_unpaid(error, None)

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
