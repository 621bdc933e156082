"""Collection lists (催收清单): installments falling due soon (reminders) and overdue loans by
bucket with amounts, as pure queries over a sequence of loans, and their CSV text.

Amounts are :class:`~loancore.money.Money` in each loan's currency; a list never adds amounts of
different currencies (:func:`bucket_totals` keeps one total per bucket and currency).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta

import attrs

from loancore.checks import require_date
from loancore.delinquency.aging import DEFAULT_BUCKETS, BucketScheme, dpd, overdue_installments
from loancore.errors import InvalidInput
from loancore.money import Money
from loancore.servicing.loan import Loan, LoanStatus

__all__ = [
    "LOANS_MAX",
    "REMINDER_DAYS",
    "BucketTotal",
    "DueLine",
    "OverdueLine",
    "bucket_totals",
    "due_within",
    "overdue_by_bucket",
    "render_csv",
]

LOANS_MAX = 10_000_000
"""The most loans one list goes through."""

REMINDER_DAYS = 3
"""Reminders go out this many days before the due date."""

DAYS_AHEAD_MAX = 366


def _customer(loan: Loan) -> str:
    return dict(loan.dimensions).get("customer", "")


def _loans(loans: Iterable[Loan]) -> Iterable[tuple[int, Loan]]:
    for count, loan in enumerate(loans, start=1):
        if count > LOANS_MAX:
            raise InvalidInput("loans", f"<more than {LOANS_MAX}>", f"at most {LOANS_MAX} loans")
        yield count, loan


@attrs.frozen(kw_only=True)
class DueLine:
    """Installment ``installment`` of ``loan_id`` falls due on ``due_date``, in ``days`` days,
    with ``amount`` (everything it still owes) to pay."""

    loan_id: str
    customer: str
    installment: int
    due_date: date
    days: int
    amount: Money


def due_within(
    loans: Iterable[Loan], as_of: date, days: int = REMINDER_DAYS
) -> tuple[DueLine, ...]:
    """Installments of active loans due from ``as_of`` to ``days`` days after it (inclusive)
    with something still owed, by due date then loan id."""
    require_date("as_of", as_of)
    if type(days) is not int or not 0 <= days <= DAYS_AHEAD_MAX:
        raise InvalidInput("days", days, f"expected an int from 0 to {DAYS_AHEAD_MAX}")
    last = as_of + timedelta(days=days)
    lines = []
    for _count, loan in _loans(loans):
        if loan.status is not LoanStatus.ACTIVE:
            continue
        for inst in loan.installments:  # bounded by the loan's installments
            owed = inst.outstanding()
            if as_of <= inst.due_date <= last and owed > 0:
                lines.append(
                    DueLine(
                        loan_id=loan.loan_id,
                        customer=_customer(loan),
                        installment=inst.number,
                        due_date=inst.due_date,
                        days=(inst.due_date - as_of).days,
                        amount=loan.money(owed),
                    )
                )
    return tuple(sorted(lines, key=lambda line: (line.due_date, line.loan_id, line.installment)))


@attrs.frozen(kw_only=True)
class OverdueLine:
    """A loan past due: its DPD and bucket, the ``overdue`` amount (everything the installments
    past due still owe: principal, interest, penalty, compound, fees), the principal of those
    installments and the principal outstanding of the whole loan."""

    loan_id: str
    customer: str
    dpd: int
    bucket: str
    installments_overdue: int
    overdue: Money
    principal_overdue: Money
    principal_outstanding: Money


def _grace_for(grace_days: int | Mapping[str, int]) -> Callable[[Loan], int]:
    if isinstance(grace_days, int):
        return lambda _loan: grace_days
    return lambda loan: grace_days.get(loan.product_id, 0)


def overdue_by_bucket(
    loans: Iterable[Loan],
    as_of: date,
    *,
    grace_days: int | Mapping[str, int],
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> tuple[OverdueLine, ...]:
    """Loans past due on ``as_of`` (DPD above 0, after each product's grace: an int for all, or
    by product id, missing ones 0), worst bucket first, then by DPD down and loan id."""
    grace = _grace_for(grace_days)
    lines = []
    for _count, loan in _loans(loans):
        days = dpd(loan, as_of, grace(loan))
        if days == 0:
            continue
        overdue = overdue_installments(loan, as_of)
        lines.append(
            OverdueLine(
                loan_id=loan.loan_id,
                customer=_customer(loan),
                dpd=days,
                bucket=buckets.bucket_of(days).label,
                installments_overdue=len(overdue),
                overdue=loan.money(sum(i.outstanding() for i in overdue)),
                principal_overdue=loan.money(sum(i.principal.outstanding for i in overdue)),
                principal_outstanding=loan.money(loan.principal_outstanding()),
            )
        )
    return tuple(sorted(lines, key=lambda line: (-line.dpd, line.loan_id)))


@attrs.frozen(kw_only=True)
class BucketTotal:
    """One bucket's loans in one currency: how many, overdue and principal outstanding."""

    bucket: str
    currency: str
    loans: int
    overdue: Money
    principal_outstanding: Money


def bucket_totals(
    lines: Sequence[OverdueLine], buckets: BucketScheme = DEFAULT_BUCKETS
) -> tuple[BucketTotal, ...]:
    """Totals of ``lines`` per bucket (M1 first) and currency; empty buckets left out."""
    order = {bucket.label: bucket.index for bucket in buckets.buckets()}
    totals: dict[tuple[str, str], BucketTotal] = {}
    for line in lines:
        key = (line.bucket, line.overdue.currency)
        seen = totals.get(key)
        totals[key] = (
            BucketTotal(
                bucket=line.bucket,
                currency=line.overdue.currency,
                loans=1,
                overdue=line.overdue,
                principal_outstanding=line.principal_outstanding,
            )
            if seen is None
            else attrs.evolve(
                seen,
                loans=seen.loans + 1,
                overdue=seen.overdue + line.overdue,
                principal_outstanding=seen.principal_outstanding + line.principal_outstanding,
            )
        )
    return tuple(sorted(totals.values(), key=lambda t: (order.get(t.bucket, -1), t.currency)))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell: Money as its plain amount; text that a spreadsheet would run as a formula
    quoted with a leading apostrophe (CSV injection)."""
    if isinstance(value, Money):
        return f"{value.amount:f}"
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def render_csv(lines: Sequence[DueLine] | Sequence[OverdueLine] | Sequence[BucketTotal]) -> str:
    """``lines`` as CSV text: a header of the field names, one row per line, a ``currency``
    column after the amounts' fields where the line has none; ``\\n`` line ends."""
    if not lines:
        return ""
    kind = type(lines[0])
    if kind not in (DueLine, OverdueLine, BucketTotal) or any(type(x) is not kind for x in lines):
        raise InvalidInput("lines", lines[0], "one kind of DueLine, OverdueLine or BucketTotal")
    names = [field.name for field in attrs.fields(kind)]
    extra = [] if "currency" in names else ["currency"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names + extra)
    for line in lines:
        row = [_cell(getattr(line, name)) for name in names]
        money = next(v for v in (getattr(line, n) for n in names) if isinstance(v, Money))
        writer.writerow(row + ([money.currency] if extra else []))
    return out.getvalue()
