"""What must hold after any chaos run, however the faults fell, and the figures it yields.

Money is compared in integer micro-USDC. The gateway's ``payments`` are the truth about
money that moved; each is tied to the logical call that signed it by its nonce.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from blockrun_core.errors import BlockRunError, PaymentInDoubtError
from blockrun_core.ledger import UsageRecord

from .runner import RunReport

__all__ = ["Figures", "check", "figures"]


def _micros(usd: float | None) -> int:
    return round((usd or 0.0) * 1_000_000)


def _call_index(record: UsageRecord) -> int:
    assert record.run_id is not None and record.run_id.startswith("chaos-")
    return int(record.run_id.removeprefix("chaos-"))


@dataclass
class Figures:
    """What one run (or several, added up) survived and reconciled."""

    calls: int = 0
    succeeded: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    payments: int = 0
    paid_micros: int = 0
    payments_by_model: Counter[str] = field(default_factory=Counter)
    in_doubt_raised: int = 0
    in_doubt_settled: int = 0  # in-doubt payments that did move money (ledger: in_doubt)
    in_doubt_rows: int = 0  # ledger rows in doubt (the rest moved no money, or not yet)
    second_spends: int = 0  # calls with two payments, each by the allow_second_spend client
    sleeps_requested: int = 0
    seconds: float = 0.0

    def add(self, other: Figures) -> None:
        """Add ``other``'s counts to these."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            else:
                setattr(self, name, mine + value)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and dicts, for printing."""
        return {
            name: dict(sorted(value.items())) if isinstance(value, Counter) else value
            for name, value in vars(self).items()
        }


def _payments_by_call(report: RunReport) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for payment in report.payments:
        index = report.signed.get(payment.nonce.lower())
        grouped[-1 if index is None else index].append(payment)
    return grouped


def check(report: RunReport) -> list[str]:
    """Every broken invariant of ``report``, as readable lines (empty: all held)."""
    problems: list[str] = []
    problems += _documented_errors(report)
    problems += _one_payment_per_call(report)
    problems += _budgets_hold(report)
    problems += _ledger_reconciles(report)
    problems += _in_doubt_reported(report)
    problems += _nothing_leaked(report)
    return problems


def _documented_errors(report: RunReport) -> list[str]:
    return [
        f"call {o.plan.index}: {type(o.error).__module__}.{type(o.error).__name__}: {o.error}"
        for o in report.outcomes
        if o.error is not None and not isinstance(o.error, BlockRunError)
    ]


def _one_payment_per_call(report: RunReport) -> list[str]:
    problems = []
    if report.unattributed_signatures:
        problems.append(f"{report.unattributed_signatures} signatures outside any call")
    plans = {o.plan.index: o.plan for o in report.outcomes}
    for index, paid in _payments_by_call(report).items():
        if index < 0:
            problems.append(f"{len(paid)} payments whose nonce no call signed")
            continue
        plan = plans[index]
        allowed = 1 + len(plan.route.fallbacks) if plan.route.second_spend else 1
        if len(paid) > allowed:
            problems.append(f"call {index} paid {len(paid)} times (allowed {allowed}): {plan}")
    return problems


def _budgets_hold(report: RunReport) -> list[str]:
    problems = []
    spent_by_name: Counter[str] = Counter()
    for record in report.records:
        if record.budget is not None:
            spent_by_name[record.budget] += _micros(record.paid_usd)
    moved_by_call: Counter[int] = Counter()
    for index, paid in _payments_by_call(report).items():
        moved_by_call[index] = sum(p.amount_micros for p in paid)
    for key, budget in report.budgets.items():
        limit, spent, reserved = report.budget_states[budget.name]
        if spent > limit:
            problems.append(f"budget {key}: spent {spent} > limit {limit} micros")
        if reserved:
            problems.append(f"budget {key}: {reserved} micros still reserved after the run")
        members = {b.name for b in report.budgets.values() if _within(b, budget)}
        recorded = sum(spent_by_name[name] for name in members)
        if recorded != spent:
            problems.append(f"budget {key}: spent {spent} but the ledger charged {recorded}")
        moved = sum(
            moved_by_call[o.plan.index]
            for o in report.outcomes
            if o.plan.budget and report.budgets[o.plan.budget].name in members
        )
        if moved > spent:
            problems.append(f"budget {key}: the gateway was paid {moved} > spent {spent}")
    return problems


def _within(budget: Any, ancestor: Any) -> bool:
    while budget is not None:
        if budget is ancestor:
            return True
        budget = budget.parent
    return False


def _ledger_reconciles(report: RunReport) -> list[str]:
    """Settled rows are exactly the gateway's payments with a receipt; the rest are in doubt."""
    problems = []
    by_tx = {p.tx_hash: p for p in report.payments}
    matched: set[str] = set()
    for record in report.records:
        if record.status != "settled":
            continue
        payment = by_tx.get(record.tx_hash or "")
        where = f"ledger row {record.run_id}#{record.attempt} ({record.served_model})"
        if payment is None:
            problems.append(f"{where}: settled {record.paid_usd} with no gateway payment")
            continue
        if record.tx_hash in matched:
            problems.append(f"{where}: tx {record.tx_hash} recorded twice")
        matched.add(payment.tx_hash)
        if _micros(record.paid_usd) != payment.amount_micros or record.served_model != (
            payment.model
        ):
            problems.append(
                f"{where}: {record.paid_usd} on {record.served_model} but the gateway got "
                f"{payment.amount_micros} micros on {payment.model}"
            )
    doubts = _in_doubt_rows(report)
    for index, paid in _payments_by_call(report).items():
        for payment in paid:
            if payment.tx_hash in matched:
                continue
            candidates = doubts.get((index, payment.model, payment.amount_micros), 0)
            if candidates <= 0:
                problems.append(
                    f"call {index}: gateway payment {payment.amount_micros} on {payment.model} "
                    "is neither settled nor in doubt in the ledger"
                )
            doubts[(index, payment.model, payment.amount_micros)] = candidates - 1
    return problems


def _in_doubt_rows(report: RunReport) -> dict[tuple[int, str, int], int]:
    rows: dict[tuple[int, str, int], int] = Counter()
    for record in report.records:
        if record.status == "in_doubt":
            key = (_call_index(record), record.served_model or "", _micros(record.paid_usd))
            rows[key] += 1
    return rows


def _in_doubt_reported(report: RunReport) -> list[str]:
    """A payment in doubt reaches the caller as PaymentInDoubtError and the ledger as such."""
    problems = []
    doubted = {_call_index(r) for r in report.records if r.status == "in_doubt"}
    settled_tx = {r.tx_hash for r in report.records if r.status == "settled"}
    for outcome in report.outcomes:
        index = outcome.plan.index
        if isinstance(outcome.error, PaymentInDoubtError) and index not in doubted:
            problems.append(f"call {index}: PaymentInDoubtError without an in_doubt ledger row")
        reported = isinstance(outcome.error, PaymentInDoubtError) or (
            outcome.error is None and outcome.receipt_doubted
        )
        if index in doubted and not reported:
            problems.append(
                f"call {index}: in_doubt in the ledger but the caller saw {outcome.error!r}"
            )
        if outcome.receipt_doubted:
            continue
        if outcome.error is None and outcome.tx_hash and outcome.tx_hash not in settled_tx:
            problems.append(f"call {index}: receipt {outcome.tx_hash} not settled in the ledger")
    return problems


def _nothing_leaked(report: RunReport) -> list[str]:
    problems = []
    if report.open_connections_after:
        problems.append(f"{report.open_connections_after} connections left open at the gateway")
    if report.descriptors_after > report.descriptors_before:
        problems.append(
            f"file descriptors: {report.descriptors_before} before, "
            f"{report.descriptors_after} after"
        )
    return problems


def figures(report: RunReport) -> Figures:
    """The counts of one run."""
    result = Figures(calls=len(report.outcomes), seconds=report.seconds)
    result.faults_fired.update(+report.faults_fired)
    for outcome in report.outcomes:
        if outcome.error is None:
            result.succeeded += 1
        else:
            result.errors[type(outcome.error).__name__] += 1
        if isinstance(outcome.error, PaymentInDoubtError):
            result.in_doubt_raised += 1
    settled_tx = {r.tx_hash for r in report.records if r.status == "settled"}
    for payment in report.payments:
        result.payments += 1
        result.paid_micros += payment.amount_micros
        result.payments_by_model[payment.model] += 1
        result.in_doubt_settled += payment.tx_hash not in settled_tx
    result.in_doubt_rows = sum(r.status == "in_doubt" for r in report.records)
    result.second_spends = sum(1 for paid in _payments_by_call(report).values() if len(paid) > 1)
    result.sleeps_requested = report.requested_sleeps
    return result
