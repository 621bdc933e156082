"""Closing a day (日终) through what exists today: the ONE function the lender facade calls.

:func:`close_day` brings every active loan to the day with the servicing ``Accrue`` event
(:func:`loancore.services.apply_batch`, chunks of ``CHUNK`` loans, one unit of work each),
classifies each loan with the pure delinquency core (:func:`loancore.delinquency.classify`),
and runs the quota end-of-day batch (:func:`loancore.services.run_end_of_day`: expired holds
released, temporary limits ended, the limit policy fed with each borrower's days past due, so a
borrower past due has the line frozen).

When the end-of-day batch with delinquency (``services.end_of_day``) lands, this function is the
one place to switch to it; the facade and the demo call nothing else to close a day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date

from loancore.app.values import DayClose
from loancore.delinquency import DelinquencyPolicy, classify
from loancore.ports import UnitOfWork
from loancore.quota import CreditRecord, DefaultLimitPolicy, LimitPolicy
from loancore.services import apply_batch, run_end_of_day
from loancore.servicing import Accrue, Loan, LoanStatus

__all__ = ["CHUNK", "LOANS_MAX", "close_day", "loan_ids"]

CHUNK = 1000
"""Loans per unit of work while closing a day."""

LOANS_MAX = 10_000_000


def loan_ids(uow: UnitOfWork) -> list[str]:
    """Every stored loan id, in id order (read in pages of CHUNK)."""
    ids: list[str] = []
    after = ""
    with uow:
        for _ in range(LOANS_MAX // CHUNK):  # bounded: at most LOANS_MAX loans
            page = uow.loans.loan_ids(after=after, limit=CHUNK)
            ids.extend(page)
            if len(page) < CHUNK:
                break
            after = page[-1]
    return ids


def _customer(loan: Loan) -> str:
    return dict(loan.dimensions).get("customer", loan.loan_id)


def close_day(
    uow: UnitOfWork,
    as_of: date,
    *,
    delinquency: DelinquencyPolicy,
    limits: LimitPolicy | None = None,
) -> DayClose:
    """Close ``as_of`` (module docstring). Safe to run again for the same day: the accrual of a
    loan already at the day books nothing more, the quota batch skips what it already did."""
    skipped: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    worst: dict[str, int] = {}
    accrued = 0
    ids = loan_ids(uow)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with uow:
            loans = uow.loans.load_many(chunk)
        active = [i for i in chunk if loans[i].status is LoanStatus.ACTIVE]
        skipped["not active"] += len(chunk) - len(active)
        # entry keys derive from the event id alone: one id per loan and day
        events = [(i, Accrue(event_id=f"accrue:{i}:{as_of:%Y%m%d}", as_of=as_of)) for i in active]
        result = apply_batch(uow, events)
        accrued += len(result.applied)
        for _loan_id, refusal in result.refused:
            skipped[refusal.code.name] += 1
        for loan_id in active:  # accrual pays nothing: the standing is read off the loan loaded
            loan = loans[loan_id]
            if loan.last_date > as_of:
                continue  # an event after the day: its standing is the later day's
            standing = classify(loan, as_of, delinquency)
            buckets[standing.bucket] += 1
            classes[standing.risk_class.name] += 1
            customer = _customer(loan)
            worst[customer] = max(worst.get(customer, 0), standing.dpd)
    records: Mapping[str, CreditRecord] = {
        customer: CreditRecord(borrower_id=customer, days_past_due=days)
        for customer, days in worst.items()
    }
    policy = DefaultLimitPolicy() if limits is None else limits
    with uow:
        quota = uow.quota
        report = run_end_of_day(quota, records, policy, as_of=as_of, key=f"eod:{as_of}")
        uow.commit()
    return DayClose(
        as_of=as_of,
        accrued=accrued,
        skipped=dict(skipped),
        quota_changes=len(report.applied),
        buckets=dict(buckets),
        classes=dict(classes),
    )
