"""Hypothesis strategies for settlement: fees, terms, captures, deductions, funding shares.

For an application's own property tests::

    from hypothesis import given
    from loancore.testing.settlement import service_fees, cny

    @given(service_fees(), st.integers(1, 10**9))
    def test_fee_within_bounds(fee, minor): ...
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from hypothesis import strategies as st

from loancore.money import Money, Rounding
from loancore.settlement import (
    Capture,
    Deduction,
    DeductionKind,
    FunderKind,
    FundingShare,
    MerchantTerms,
    ServiceFee,
    SettlementSchedule,
)

__all__ = [
    "captures",
    "cny",
    "deductions",
    "joint_shares",
    "merchant_terms",
    "service_fees",
]


def cny(minor: int) -> Money:
    """``minor`` fen as CNY Money."""
    return Money.from_minor(minor, "CNY")


@st.composite
def service_fees(draw: st.DrawFn, *, fee_max_minor: int = 100_000) -> ServiceFee:
    """Fees with a rate of 0 to 5% (to 4 decimal places), any rounding mode, a minimum and
    (or not) a maximum at or above it, in CNY."""
    rate = Decimal(draw(st.integers(0, 500))).scaleb(-4)
    fee_min = draw(st.integers(0, 1_000))
    fee_max = draw(st.none() | st.integers(fee_min, max(fee_min, fee_max_minor)))
    return ServiceFee(
        rate=rate,
        rounding=draw(st.sampled_from(list(Rounding))),
        fee_min=cny(fee_min),
        fee_max=None if fee_max is None else cny(fee_max),
    )


def merchant_terms(merchant_id: str, *, lag_days: int = 1) -> st.SearchStrategy[MerchantTerms]:
    """T+``lag_days`` terms for ``merchant_id`` with a random fee and cut-off (or none)."""
    cutoffs = st.none() | st.times(min_value=datetime.time(12), max_value=datetime.time(23, 59))
    return st.builds(
        MerchantTerms,
        merchant_id=st.just(merchant_id),
        schedule=st.just(SettlementSchedule.t_plus(lag_days)),
        fee=service_fees(),
        cutoff=cutoffs,
    )


def _moments(day: datetime.date) -> st.SearchStrategy[datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time())
    return st.integers(0, 86_399).map(lambda s: start + datetime.timedelta(seconds=s))


@st.composite
def captures(
    draw: st.DrawFn,
    merchant_ids: list[str],
    day: datetime.date,
    *,
    size_max: int = 30,
    id_prefix: str = "",
) -> list[Capture]:
    """Captures on ``day`` (any time) spread over ``merchant_ids``, unique order ids
    (``<id_prefix>O<n>``)."""
    count = draw(st.integers(0, size_max))
    return [
        Capture(
            order_id=f"{id_prefix}O{i}",
            merchant_id=draw(st.sampled_from(merchant_ids)),
            amount=cny(draw(st.integers(1, 5_000_000))),
            captured_at=draw(_moments(day)),
        )
        for i in range(count)
    ]


@st.composite
def deductions(
    draw: st.DrawFn,
    merchant_ids: list[str],
    day: datetime.date,
    *,
    size_max: int = 10,
    id_prefix: str = "",
) -> list[Deduction]:
    """Refunds and chargebacks on ``day`` spread over ``merchant_ids``, unique ids
    (``<id_prefix>D<n>``)."""
    count = draw(st.integers(0, size_max))
    return [
        Deduction(
            deduction_id=f"{id_prefix}D{i}",
            kind=draw(st.sampled_from(list(DeductionKind))),
            merchant_id=draw(st.sampled_from(merchant_ids)),
            order_id=f"O{i}",
            amount=cny(draw(st.integers(1, 5_000_000))),
            occurred_at=draw(_moments(day)),
        )
        for i in range(count)
    ]


@st.composite
def joint_shares(draw: st.DrawFn, *, partners_max: int = 3) -> list[FundingShare]:
    """A lender and one to ``partners_max`` partners whose ratios (in 1/1000) sum to 1, each
    partner at 30% or more when that fits."""
    partners = draw(st.integers(1, partners_max))
    floor = 300 if partners * 300 < 1000 else 1
    cuts = sorted(
        draw(
            st.lists(
                st.integers(0, 1000 - partners * floor - 1), min_size=partners, max_size=partners
            )
        )
    )
    extra = [b - a for a, b in zip([0, *cuts], [*cuts, 1000 - partners * floor - 1], strict=False)]
    partner_parts = [floor + e for e in extra[:partners]]
    lender = 1000 - sum(partner_parts)
    shares = [
        FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio=Decimal(lender).scaleb(-3))
    ]
    shares += [
        FundingShare(funder_id=f"bank{i}", kind=FunderKind.PARTNER, ratio=Decimal(p).scaleb(-3))
        for i, p in enumerate(partner_parts)
    ]
    return shares
