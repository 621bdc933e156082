"""Portfolio reports over loans: aging by bucket, five-level classification, vintage, roll rates.

Pure functions over :class:`~loancore.servicing.Loan` values (the app reads them from the loan
store). A loan's standing on a past day is rebuilt from its history (:func:`position_on`): an
installment due before the day is past due while the principal and interest paid on it by that
day (its history's allocation lines dated on or before the day, payments reversed by then left
out) fall short of what it owes. The installments' amounts owed are today's; a prepayment or a
refund changes only installments not yet due when it happened, so the days before it read the
same. On the loan's last event date and after, :func:`position_on` agrees with the delinquency
core's :func:`~loancore.delinquency.dpd` (a test checks it).

Counts are loans; balances are principal outstanding in minor units of the loans' currency
(one currency per report: mixing currencies is refused). Cancelled loans are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from loancore.delinquency import DEFAULT_BUCKETS, BucketScheme, DelinquencyPolicy, RiskClass
from loancore.delinquency import classify as classify_loan
from loancore.errors import InvalidInput
from loancore.servicing import Loan, LoanStatus, TransactionKind
from loancore.waterfall import Component

__all__ = [
    "DEFAULT_POLICY",
    "AgingRow",
    "ClassRow",
    "Position",
    "RollRates",
    "Vintage",
    "VintageRow",
    "aging",
    "classification",
    "month_ends",
    "position_on",
    "roll_rates",
    "vintage",
]

MONTHS_MAX = 600
"""The most months a vintage or roll-rate report spans (50 years)."""

PAID_OFF = "closed"
"""The roll-rate column of loans that left the book (paid off, refunded) during the month."""

DEFAULT_POLICY = DelinquencyPolicy()
"""The delinquency core's defaults: no grace, M0..M7+, the 2023 risk rules."""

_OWED = (Component.PRINCIPAL.value, Component.INTEREST.value)
_RATE_PLACES = Decimal("0.0001")


@attrs.frozen
class Position:
    """A loan on a day: days past due and principal outstanding (minor units); ``open`` is
    False before it was booked and after it left the book."""

    loan_id: str
    dpd: int
    principal_minor: int
    open: bool


def _booked_on(loan: Loan) -> date:
    return loan.history[0].as_of if loan.history else loan.terms.start_date


def _counted(loan: Loan, day: date) -> list[tuple[int, str, int, int]]:
    """(installment, component, minor, principal_repaid) of the transactions that count on
    ``day``: dated on or before it and not reversed by then."""
    reversal_on = {t.event_id: t.as_of for t in loan.history}
    counted: list[tuple[int, str, int, int]] = []
    for txn in loan.history:  # bounded by HISTORY_MAX
        if txn.as_of > day or txn.kind is TransactionKind.PAYMENT_REVERSED:
            continue
        if txn.reversed_by is not None and reversal_on.get(txn.reversed_by, day) <= day:
            continue
        refunded = txn.amount if txn.kind is TransactionKind.MERCHANT_REFUND else 0
        counted.append((0, "", 0, txn.principal_repaid + refunded))
        counted.extend((number, component, minor, 0) for number, component, minor in txn.lines)
    return counted


def position_on(loan: Loan, day: date, grace_days: int = 0) -> Position:
    """``loan``'s days past due and principal outstanding at the end of ``day`` (see the module
    docstring). Days past due within ``grace_days`` of the due date count as 0."""
    if loan.status is LoanStatus.CANCELLED or day < _booked_on(loan):
        return Position(loan.loan_id, 0, 0, False)
    counted = _counted(loan, day)
    principal = loan.principal_disbursed - sum(item[3] for item in counted)
    if loan.status is LoanStatus.PAID_OFF and day >= loan.last_date:
        principal = 0
    if principal <= 0:
        return Position(loan.loan_id, 0, 0, False)
    paid: dict[int, int] = {}
    for number, component, minor, _ in counted:
        if component in _OWED:
            paid[number] = paid.get(number, 0) + minor
    days = 0
    for inst in loan.installments:  # oldest first
        owed = inst.principal.due - inst.principal.waived + inst.interest.due - inst.interest.waived
        if inst.due_date < day and paid.get(inst.number, 0) < owed:
            days = (day - inst.due_date).days
            break
    return Position(loan.loan_id, days if days > grace_days else 0, principal, True)


def _currency(loans: Sequence[Loan]) -> str:
    currencies = {loan.currency for loan in loans}
    if len(currencies) > 1:
        raise InvalidInput("loans", sorted(currencies), "expected loans of one currency")
    return currencies.pop() if currencies else ""


@attrs.frozen
class AgingRow:
    """One bucket: how many open loans and their principal outstanding (minor units)."""

    bucket: str
    count: int
    principal_minor: int


def aging(
    loans: Iterable[Loan], as_of: date, *, buckets: BucketScheme = DEFAULT_BUCKETS,
    grace_days: int = 0,
) -> tuple[AgingRow, ...]:  # fmt: skip
    """Open loans by aging bucket on ``as_of`` (every bucket listed, empty ones too)."""
    kept = list(loans)
    _currency(kept)
    rows = {bucket.label: [0, 0] for bucket in buckets.buckets()}
    for loan in kept:
        position = position_on(loan, as_of, grace_days)
        if position.open:
            row = rows[buckets.bucket_of(position.dpd).label]
            row[0] += 1
            row[1] += position.principal_minor
    return tuple(AgingRow(label, count, minor) for label, (count, minor) in rows.items())


@attrs.frozen
class ClassRow:
    """One of the five classes (正常 ... 损失): open loans and their principal (minor units)."""

    risk_class: RiskClass
    count: int
    principal_minor: int


def classification(
    loans: Iterable[Loan], as_of: date, policy: DelinquencyPolicy = DEFAULT_POLICY
) -> tuple[ClassRow, ...]:
    """Active loans by five-level class on ``as_of`` under ``policy`` (the delinquency core's
    :func:`~loancore.delinquency.classify`; ``as_of`` on or after each loan's last event)."""
    kept = list(loans)
    _currency(kept)
    rows = {risk_class: [0, 0] for risk_class in RiskClass}
    for loan in kept:
        if loan.status is not LoanStatus.ACTIVE or loan.principal_outstanding() == 0:
            continue
        standing = classify_loan(loan, as_of, policy)
        row = rows[standing.risk_class]
        row[0] += 1
        row[1] += loan.principal_outstanding()
    return tuple(ClassRow(risk_class, count, minor) for risk_class, (count, minor) in rows.items())


def month_ends(first: date, last: date) -> tuple[date, ...]:
    """The last day of every month from ``first``'s month to ``last``'s, ``last`` itself
    standing for its month when it is not a month end."""
    if last < first:
        raise InvalidInput("last", last, f"must not be before {first}")
    start = first.replace(day=1)
    ends: list[date] = []
    for k in range(MONTHS_MAX + 1):
        end = start + relativedelta(months=k + 1) - timedelta(days=1)
        if end >= last:
            ends.append(last)
            return tuple(ends)
        ends.append(end)
    raise InvalidInput("last", last, f"more than {MONTHS_MAX} months after {first}")


def _rate(part: int, whole: int) -> Decimal:
    if whole == 0:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(_RATE_PLACES)


@attrs.frozen
class VintageRow:
    """One cohort (loans booked in ``cohort``, a ``YYYY-MM``): its loans, principal disbursed
    and, by month on book (index 0 = the booking month's end), the share of its loans more than
    ``dpd_min`` days past due (a fraction, 4 places, ROUND_HALF_EVEN)."""

    cohort: str
    loans: int
    disbursed_minor: int
    rates: tuple[Decimal, ...]


@attrs.frozen
class Vintage:
    as_of: date
    dpd_min: int
    rows: tuple[VintageRow, ...]


def vintage(
    loans: Iterable[Loan], as_of: date, *, dpd_min: int = 30, grace_days: int = 0
) -> Vintage:
    """DPD ``dpd_min``+ by booking month and month on book, up to ``as_of``."""
    kept = [loan for loan in loans if loan.status is not LoanStatus.CANCELLED]
    _currency(kept)
    cohorts: dict[str, list[Loan]] = {}
    for loan in kept:
        booked = _booked_on(loan)
        if booked <= as_of:
            cohorts.setdefault(f"{booked:%Y-%m}", []).append(loan)
    rows = []
    for cohort in sorted(cohorts):
        members = cohorts[cohort]
        first = date(int(cohort[:4]), int(cohort[5:]), 1)
        rates = []
        for end in month_ends(first, as_of):
            late = sum(1 for loan in members if position_on(loan, end, grace_days).dpd > dpd_min)
            rates.append(_rate(late, len(members)))
        disbursed = sum(loan.principal_disbursed for loan in members)
        rows.append(VintageRow(cohort, len(members), disbursed, tuple(rates)))
    return Vintage(as_of, dpd_min, tuple(rows))


@attrs.frozen
class RollRates:
    """Loans moving between buckets from one month end to the next, summed over the months:
    ``counts[i][j]`` loans in ``rows[i]`` at a month end were in ``columns[j]`` at the next
    (the last column, ``closed``, left the book)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def rates(self) -> tuple[tuple[Decimal, ...], ...]:
        """Each row as fractions of its total (4 places; a row with no loans is all zero)."""
        return tuple(tuple(_rate(c, sum(row)) for c in row) for row in self.counts)


def roll_rates(
    loans: Iterable[Loan], ends: Sequence[date], *, buckets: BucketScheme = DEFAULT_BUCKETS,
    grace_days: int = 0,
) -> RollRates:  # fmt: skip
    """The roll-rate matrix over consecutive ``ends`` (month ends, increasing)."""
    if any(b <= a for a, b in itertools.pairwise(ends)):
        raise InvalidInput("ends", list(ends)[:3], "expected increasing dates")
    labels = tuple(bucket.label for bucket in buckets.buckets())
    columns = (*labels, PAID_OFF)
    counts = [[0] * len(columns) for _ in labels]
    kept = list(loans)
    _currency(kept)
    index = {label: i for i, label in enumerate(labels)}
    for loan in kept:
        before = position_on(loan, ends[0], grace_days) if ends else None
        for end in ends[1:]:
            after = position_on(loan, end, grace_days)
            if before is not None and before.open:
                row = index[buckets.bucket_of(before.dpd).label]
                column = index[buckets.bucket_of(after.dpd).label] if after.open else len(labels)
                counts[row][column] += 1
            before = after
    return RollRates(labels, columns, tuple(tuple(row) for row in counts))
