"""Small builders shared by the settlement tests."""

from __future__ import annotations

import datetime

from loancore.money import Rounding
from loancore.settlement import MerchantTerms, ServiceFee, SettlementSchedule
from loancore.testing.settlement import cny


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute)


def fee_0_6pct(fee_min: int = 0, fee_max: int | None = None) -> ServiceFee:
    """0.6% half-up, minimum and maximum in fen."""
    return ServiceFee(
        rate="0.006",
        rounding=Rounding.HALF_UP,
        fee_min=cny(fee_min),
        fee_max=None if fee_max is None else cny(fee_max),
    )


def t1(merchant_id: str, **extra: object) -> MerchantTerms:
    return MerchantTerms(
        merchant_id=merchant_id,
        schedule=SettlementSchedule.t_plus(1),
        fee=fee_0_6pct(),
        payee_account=f"6222{merchant_id}",
        **extra,  # type: ignore[arg-type]
    )
