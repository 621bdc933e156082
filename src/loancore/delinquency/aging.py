"""Days past due (DPD, 逾期天数) and the aging buckets M0, M1 ... M7+.

A loan is late from the due date of its **oldest installment not fully paid**: one whose contract
principal or interest is still outstanding (penalty, compound interest and fees left unpaid do not
make a loan late, as the 2023 classification rules count 本金、利息逾期). The product's grace days
come first: within them the loan is not late (DPD 0); once they pass, DPD counts from the due date
itself (a loan 3 days into a 3-day grace is DPD 0, on day 4 it is DPD 4), the same rule servicing
uses to start penalty interest.

The loan value holds what was paid up to its last event, so DPD is told for ``as_of`` on or after
``loan.last_date`` only; an earlier date would count later payments (refused).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

import attrs

from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.servicing.loan import Installment, Loan, LoanStatus

__all__ = [
    "DEFAULT_BUCKETS",
    "GRACE_DAYS_MAX",
    "Bucket",
    "BucketScheme",
    "days_past_due",
    "dpd",
    "overdue_installments",
    "require_grace_days",
]

GRACE_DAYS_MAX = 90
"""The longest grace a product may give (servicing's own limit)."""

BOUNDS_MAX = 100
"""The most buckets a scheme may have."""


def require_grace_days(grace_days: object) -> int:
    """``grace_days`` if it is an int from 0 to GRACE_DAYS_MAX; else InvalidInput."""
    if type(grace_days) is not int or not 0 <= grace_days <= GRACE_DAYS_MAX:
        raise InvalidInput("grace_days", grace_days, f"expected an int from 0 to {GRACE_DAYS_MAX}")
    return grace_days


def _late(inst: Installment) -> bool:
    return inst.principal.outstanding > 0 or inst.interest.outstanding > 0


def overdue_installments(loan: Loan, as_of: date) -> tuple[Installment, ...]:
    """The installments of ``loan`` past due on ``as_of`` (due before it, principal or interest
    outstanding), oldest first; the grace days do not apply here (see :func:`dpd`)."""
    require_date("as_of", as_of)
    if as_of < loan.last_date:
        reason = f"on or after the loan's last event ({loan.last_date}); later payments are in it"
        raise InvalidInput("as_of", as_of, reason)
    if loan.status is not LoanStatus.ACTIVE:
        return ()
    return tuple(i for i in loan.installments if i.due_date < as_of and _late(i))


def dpd(loan: Loan, as_of: date, grace_days: int) -> int:
    """Days past due of ``loan`` on ``as_of`` (see the module docstring): 0 when nothing is past
    due or the oldest unpaid installment is still within ``grace_days`` of its due date."""
    overdue = overdue_installments(loan, as_of)
    return days_past_due(overdue[0].due_date if overdue else None, as_of, grace_days)


def days_past_due(oldest_due: date | None, as_of: date, grace_days: int) -> int:
    """THE days-past-due rule, for a loan (:func:`dpd`) and a credit line (its oldest unpaid
    minimum): days from ``oldest_due`` (the oldest amount due and not fully paid; None: nothing)
    to ``as_of``, 0 while still within ``grace_days`` of it."""
    require_grace_days(grace_days)
    if oldest_due is None:
        return 0
    days = (as_of - oldest_due).days
    return days if days > grace_days else 0


@attrs.frozen
class Bucket:
    """An aging bucket: ``label`` (M0, M1 ...) for DPD ``dpd_min`` .. ``dpd_max`` (inclusive;
    None: no upper end)."""

    index: int
    label: str
    dpd_min: int
    dpd_max: int | None

    def holds(self, days: int) -> bool:
        return self.dpd_min <= days and (self.dpd_max is None or days <= self.dpd_max)


def _bounds(value: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("bounds", value, "expected a sequence of ints")
    bounds = tuple(value)
    if not 1 <= len(bounds) <= BOUNDS_MAX:
        raise InvalidInput("bounds", value, f"expected 1 to {BOUNDS_MAX} bounds")
    previous = -1
    for bound in bounds:
        if type(bound) is not int or bound <= previous:
            raise InvalidInput("bounds", value, "expected increasing ints from 0")
        previous = bound
    if bounds[0] != 0:
        raise InvalidInput("bounds", value, "the first bound is 0 (M0: not past due)")
    return bounds


@attrs.frozen
class BucketScheme:
    """Aging buckets by upper DPD bound: ``bounds = (0, 30, 60, ..., 180)`` gives M0 (DPD 0), M1
    (1-30), M2 (31-60) ... M6 (151-180) and M7+ (above 180), the usual 30-day buckets of Chinese
    consumer lending. The last bucket has no upper end and is labelled ``M<n>+``."""

    bounds: tuple[int, ...] = attrs.field(converter=_bounds)

    def buckets(self) -> tuple[Bucket, ...]:
        """Every bucket, M0 first."""
        return _buckets(self.bounds)

    def bucket_of(self, days: int) -> Bucket:
        """The bucket holding DPD ``days`` (an int >= 0)."""
        if type(days) is not int or days < 0:
            raise InvalidInput("dpd", days, "expected an int >= 0")
        for bucket in self.buckets():  # bounded by BOUNDS_MAX
            if bucket.holds(days):
                return bucket
        raise AssertionError("the last bucket has no upper end")  # pragma: no cover


@functools.lru_cache(maxsize=64)
def _buckets(bounds: tuple[int, ...]) -> tuple[Bucket, ...]:
    """The buckets of ``bounds`` (checked by BucketScheme), built once per scheme: every loan's
    close of day asks for its bucket."""
    count = len(bounds)
    result = [Bucket(0, "M0", 0, 0)]
    for index in range(1, count):
        low, high = bounds[index - 1] + 1, bounds[index]
        result.append(Bucket(index, f"M{index}", low, high))
    result.append(Bucket(count, f"M{count}+", bounds[-1] + 1, None))
    return tuple(result)


DEFAULT_BUCKETS = BucketScheme((0, 30, 60, 90, 120, 150, 180))
"""M0, M1 (1-30) ... M6 (151-180), M7+ (above 180)."""
