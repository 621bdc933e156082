"""Merchant settlement summary: per merchant, what its settlement batches captured, kept as fees,
netted for refunds and chargebacks, and paid (pure over
:class:`~loancore.settlement.SettlementBatch` values). Minor units of one currency."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from loancore.errors import InvalidInput
from loancore.settlement import SettlementBatch

__all__ = ["MerchantTotals", "settlement_summary"]


@attrs.frozen
class MerchantTotals:
    merchant_id: str
    batches: int
    captured_minor: int
    fees_minor: int
    refunded_minor: int
    charged_back_minor: int
    paid_minor: int
    carried_minor: int  # the carry-forward after the merchant's latest batch


def settlement_summary(batches: Iterable[SettlementBatch]) -> tuple[MerchantTotals, ...]:
    """Per merchant (by id), totals over ``batches``; a line seen twice (the same batch read
    once per merchant, as a store's ``merchant_batches`` gives it) counts once."""
    seen: set[str] = set()
    totals: dict[str, list[int]] = {}
    latest: dict[str, tuple[object, int]] = {}
    currencies: set[str] = set()
    for batch in batches:
        currencies.add(batch.currency)
        for line in batch.lines:
            if line.line_id in seen:
                continue
            seen.add(line.line_id)
            row = totals.setdefault(line.merchant_id, [0] * 6)
            row[0] += 1
            row[1] += line.captured.minor_units
            row[2] += line.fees.minor_units
            row[3] += line.refunded.minor_units
            row[4] += line.charged_back.minor_units
            row[5] += line.payment.minor_units
            known = latest.get(line.merchant_id)
            if known is None or str(known[0]) <= batch.run_date.isoformat():
                latest[line.merchant_id] = (
                    batch.run_date.isoformat(),
                    line.carried_out.minor_units,
                )
    if len(currencies) > 1:
        raise InvalidInput("batches", sorted(currencies), "expected batches of one currency")
    return tuple(
        MerchantTotals(
            merchant_id=merchant,
            batches=row[0],
            captured_minor=row[1],
            fees_minor=row[2],
            refunded_minor=row[3],
            charged_back_minor=row[4],
            paid_minor=row[5],
            carried_minor=latest[merchant][1],
        )
        for merchant, row in sorted(totals.items())
    )
