"""A merchant's statement for a period (对账单): captures, refunds, chargebacks, fees, payouts.

Built from the batches whose run date falls in the period and the reconciliations of those
batches. Sums are exact; ``paid`` counts confirmed payouts only, ``failed`` the payouts the
channel returned (paid again in a later run, through a retry), ``in_transit`` what was
instructed and not yet confirmed or failed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import attrs

from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.money import Money
from loancore.settlement.model import SettlementBatch, SettlementLine
from loancore.settlement.reconcile import Reconciliation

__all__ = ["MerchantStatement", "merchant_statement"]


@attrs.frozen(kw_only=True)
class MerchantStatement:
    """One merchant's settlement over ``period_start..period_end`` (both included)."""

    merchant_id: str
    period_start: datetime.date
    period_end: datetime.date
    lines: tuple[tuple[datetime.date, SettlementLine], ...]
    order_count: int
    captured: Money
    refunded: Money
    charged_back: Money
    fees: Money
    instructed: Money
    paid: Money
    failed: Money
    in_transit: Money
    opening_carried: Money
    closing_carried: Money


def merchant_statement(
    merchant_id: str,
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    batches: Iterable[SettlementBatch],
    reconciliations: Iterable[Reconciliation] = (),
    currency: str = "CNY",
) -> MerchantStatement:
    """The statement of ``merchant_id`` (module docstring); batches outside the period are
    skipped, so the caller may pass a superset."""
    start = require_date("period_start", period_start)
    end = require_date("period_end", period_end)
    if end < start:
        raise InvalidInput("period_end", period_end, f"must be on or after {period_start}")
    dated = sorted(
        ((b.run_date, line) for b in batches if start <= b.run_date <= end for line in b.lines
         if line.merchant_id == merchant_id),
        key=lambda pair: pair[0],
    )  # fmt: skip
    line_ids = {line.line_id for _day, line in dated}
    confirmed = failed = 0
    for outcome in reconciliations:  # bounded by the caller's reconciliations
        confirmed += sum(i.amount.minor_units for i in outcome.confirmed if i.line_id in line_ids)
        failed += sum(i.amount.minor_units for i in outcome.failed if i.line_id in line_ids)
    zero = Money.zero(currency)

    def total(name: str) -> Money:
        return sum((getattr(line, name) for _day, line in dated), zero)

    instructed = total("payment")
    paid, returned = Money.from_minor(confirmed, currency), Money.from_minor(failed, currency)
    return MerchantStatement(
        merchant_id=merchant_id,
        period_start=start,
        period_end=end,
        lines=tuple(dated),
        order_count=sum(len(line.order_ids) for _day, line in dated),
        captured=total("captured"),
        refunded=total("refunded"),
        charged_back=total("charged_back"),
        fees=total("fees"),
        instructed=instructed,
        paid=paid,
        failed=returned,
        in_transit=instructed - paid - returned,
        opening_carried=dated[0][1].carried_in if dated else zero,
        closing_carried=dated[-1][1].carried_out if dated else zero,
    )
