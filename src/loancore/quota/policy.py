"""Limit policy: what the end-of-day batch does to lines given each borrower's credit record.

A policy is any object with a ``review`` method (:class:`LimitPolicy`); it looks at a master line,
its balance and the borrower's :class:`CreditRecord` and returns the commands to apply, with
idempotency keys of its own choosing that make running the batch twice harmless.
:class:`DefaultLimitPolicy` is the one loancore ships (documented in docs/quota.md):

- after every ``repayments_per_raise`` on-time repayments, raise the permanent limit by
  ``raise_rate`` of itself, rounded DOWN to a multiple of ``raise_step``, never above ``ceiling``;
- at M1 (``days_past_due >= freeze_days_past_due``, 1 by default) freeze the whole line;
- on write-off, close the line.

:func:`plan_end_of_day` is pure; :func:`loancore.services.run_end_of_day` applies the plan (and
hold and temporary-limit expiry) through a store.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import attrs

from loancore.errors import InvalidInput
from loancore.money import Money, Rounding, to_decimal
from loancore.quota.commands import (
    AdjustLimit,
    Close,
    Command,
    Freeze,
)
from loancore.quota.model import LineBalance, LineStatus, QuotaLine

__all__ = [
    "CreditRecord",
    "DefaultLimitPolicy",
    "LimitPolicy",
    "plan_end_of_day",
]

LINES_MAX = 10_000_000


def _count(_instance: object, attribute: Any, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(attribute.name, value, "expected an int >= 0")


@attrs.frozen
class CreditRecord:
    """A borrower's repayment behaviour as servicing reports it at the end of the day.

    ``on_time_repayments``: installments ever repaid on or before their due date (a running count;
    the policy keys its raises on it, so a count reached twice raises once).
    ``days_past_due``: days the oldest unpaid installment is overdue (0 when current; M1 is
    1-30). ``written_off``: the borrower's debt was written off.
    """

    borrower_id: str
    on_time_repayments: int = attrs.field(default=0, validator=_count)
    days_past_due: int = attrs.field(default=0, validator=_count)
    written_off: bool = False


class LimitPolicy(Protocol):
    """Decides the end-of-day commands for one master line."""

    def review(
        self, line: QuotaLine, balance: LineBalance, record: CreditRecord, *, as_of: datetime.date
    ) -> tuple[Command, ...]: ...


def _positive_money(_instance: object, attribute: Any, value: object) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive Money")


def _rate(value: Any) -> Decimal:
    rate = to_decimal(value, field="raise_rate")
    if not 0 < rate <= 1:
        raise InvalidInput("raise_rate", value, "expected a fraction in (0, 1]")
    return rate


def _cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


@attrs.frozen
class DefaultLimitPolicy:
    """Raise after on-time repayments, freeze at M1, close on write-off (module docstring).

    Defaults: +10% (``raise_rate`` 0.10) after every 6 on-time repayments, rounded down to a
    multiple of 100 CNY, up to a ceiling of 50,000 CNY; freeze at 1 day past due (M1); close on
    write-off. The raise is computed on the permanent limit; rounding: DOWN to ``raise_step``.
    """

    repayments_per_raise: int = attrs.field(default=6, validator=_count)
    raise_rate: Decimal = attrs.field(default=Decimal("0.10"), converter=_rate)
    raise_step: Money = attrs.field(default=_cny("100.00"), validator=_positive_money)
    ceiling: Money = attrs.field(default=_cny("50000.00"), validator=_positive_money)
    freeze_days_past_due: int = attrs.field(default=1, validator=_count)
    close_on_write_off: bool = True

    def __attrs_post_init__(self) -> None:
        if self.repayments_per_raise < 1:
            raise InvalidInput("repayments_per_raise", self.repayments_per_raise, "expected >= 1")
        if self.freeze_days_past_due < 1:
            raise InvalidInput("freeze_days_past_due", self.freeze_days_past_due, "expected >= 1")

    def review(
        self, line: QuotaLine, balance: LineBalance, record: CreditRecord, *, as_of: datetime.date
    ) -> tuple[Command, ...]:
        if line.status is LineStatus.CLOSED:
            return ()
        if record.written_off:
            if not self.close_on_write_off:
                return ()
            return (Close(key=f"policy:close:{line.line_id}", line_id=line.line_id),)
        if record.days_past_due >= self.freeze_days_past_due:
            if line.frozen_whole:
                return ()
            overdue_since = as_of - datetime.timedelta(days=record.days_past_due)
            key = f"policy:freeze:{line.line_id}:{overdue_since.isoformat()}"
            return (Freeze(key=key, line_id=line.line_id),)
        return self._raise(line, record)

    def _raise(self, line: QuotaLine, record: CreditRecord) -> tuple[Command, ...]:
        rounds = record.on_time_repayments // self.repayments_per_raise
        if rounds == 0 or line.frozen_whole:
            return ()
        current = line.money(line.limit_permanent_minor)
        currencies = {self.ceiling.currency, self.raise_step.currency}
        if currencies != {current.currency}:
            return ()
        step = self.raise_step.amount
        # The one rounding point of the policy: DOWN to a whole number of steps.
        steps = (current.amount * self.raise_rate / step).to_integral_value(Rounding.DOWN.value)
        increase = steps * step
        target = min(current + Money(increase, current.currency), self.ceiling)
        if target <= current:
            return ()
        return (
            AdjustLimit(
                key=f"policy:raise:{line.line_id}:{rounds}", line_id=line.line_id, limit=target
            ),
        )


def plan_end_of_day(
    lines: Iterable[tuple[QuotaLine, LineBalance]],
    records: Mapping[str, CreditRecord],
    policy: LimitPolicy,
    *,
    as_of: datetime.date,
) -> tuple[Command, ...]:
    """The policy's commands for every master line whose borrower has a record (pure)."""
    planned: list[Command] = []
    for count, (line, balance) in enumerate(lines, start=1):
        if count > LINES_MAX:
            raise InvalidInput("lines", count, f"more than {LINES_MAX} lines")
        record = records.get(line.borrower_id)
        if line.master_id is None and record is not None:
            planned.extend(policy.review(line, balance, record, as_of=as_of))
    return tuple(planned)
