"""Closing a day (日终): the ONE function the lender facade calls.

:func:`close_day` runs the end-of-day batch, :func:`loancore.services.close_business_day`: every
active loan behind the day is caught up to it day by day (accrual, due moves, days past due,
penalty interest, classification, non-accrual, provisions), ``CHUNK`` loans a unit of work, then
the quota's end of day (expired holds released, temporary limits ended, the limit policy fed
with each borrower's record from the standings, so a borrower past due has the line frozen).

The buckets and classes it returns are read from the stored standings (the batch's own
classification, :class:`~loancore.delinquency.daily.LoanStanding`) of the loans still active
after the close: one copy of the rules, the batch's.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from loancore.adapters.process_batch import ProcessBatch
from loancore.app.values import DayClose
from loancore.checks import DATE_MAX
from loancore.delinquency import DelinquencyPolicy, RiskClass
from loancore.delinquency.daily import DailyRules
from loancore.ports import UnitOfWork
from loancore.quota import DefaultLimitPolicy, LimitPolicy
from loancore.services import close_business_day

__all__ = ["CHUNK", "LOANS_MAX", "close_day", "loan_ids", "standing_counts"]

CHUNK = 2000
"""Loans per unit of work while closing a day (and per page when reading ids or standings)."""

LOANS_MAX = 10_000_000

_NORMAL_BUCKET = "M0"


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


def standing_counts(uow: UnitOfWork, as_of: date) -> tuple[dict[str, int], dict[str, int]]:
    """The loans active after closing ``as_of`` by aging bucket and by five-level class (name),
    from their stored standings; a loan with no classification change yet (or no standing)
    counts as M0 and 正常 (NORMAL). The active loans are the ones the next day's batch would
    select (``loans_to_close`` of the day after), so no loan document is read."""
    buckets: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    following = min(as_of + timedelta(days=1), DATE_MAX)
    after = ""
    for _ in range(LOANS_MAX // CHUNK):  # bounded: at most LOANS_MAX loans
        with uow:
            ids = uow.loans.loans_to_close(following, after=after, limit=CHUNK)
            standings = uow.loans.load_standings(ids)
        for loan_id in ids:
            standing = standings.get(loan_id)
            current = None if standing is None else standing.history.current
            buckets[_NORMAL_BUCKET if current is None else current.bucket] += 1
            risk = RiskClass.NORMAL if current is None else current.risk_class
            classes[risk.name] += 1
        if len(ids) < CHUNK:
            break
        after = ids[-1]
    return dict(buckets), dict(classes)


def close_day(
    uow: UnitOfWork,
    as_of: date,
    *,
    delinquency: DelinquencyPolicy,
    limits: LimitPolicy | None = None,
    rules: DailyRules | None = None,
    processes: ProcessBatch | None = None,
) -> DayClose:
    """Close ``as_of`` (module docstring) under ``rules`` (None: ``DailyRules(policy=
    delinquency)``) and the limit policy ``limits`` (None: :class:`DefaultLimitPolicy`). Safe to
    run again for the same day: a loan closed through the day is not selected again and the
    quota batch's keys derive from the day. ``processes``: worker processes on the same SQLite
    book that close the loans (:class:`~loancore.adapters.process_batch.ProcessBatch`: the
    same book as this process leaves)."""
    chosen = DailyRules(policy=delinquency) if rules is None else rules
    policy = DefaultLimitPolicy() if limits is None else limits
    if processes is None:
        report = close_business_day(uow, as_of, rules=chosen, limit_policy=policy, chunk_size=CHUNK)
    else:
        report = processes.close_business_day(
            uow, as_of, rules=chosen, limit_policy=policy, chunk_size=CHUNK
        )
    skipped = Counter(refusal.code.name for refusal in report.failed)
    buckets, classes = standing_counts(uow, as_of)
    return DayClose(
        as_of=as_of,
        accrued=report.loans_closed,
        skipped=dict(skipped),
        quota_changes=len(report.quota.applied),
        buckets=buckets,
        classes=classes,
        days_closed=report.days_closed,
    )
