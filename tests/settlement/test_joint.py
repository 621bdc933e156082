"""Joint lending: share rule, splits to the fen over a loan's life, funding router."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.errors import InvalidInput, Rejected, RejectionCode, SettlementRejected
from loancore.postings import DEFAULT_MAPPING, Component
from loancore.settlement import (
    Funder,
    FunderKind,
    FundingOption,
    FundingRejected,
    FundingShare,
    JointLoan,
    ShareRule,
    partner_payout_entries,
    route_funding,
)
from loancore.testing.settlement import cny, joint_shares

LENDER_70 = FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.7")
BANK_30 = FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.3")


def test_joint_loan_collections_split_to_the_fen() -> None:
    loan = JointLoan.disburse("L1", cny(1_000_000), [LENDER_70, BANK_30])
    assert loan.disbursed == (cny(700_000), cny(300_000))
    # Twelve interest collections of 33.33: each split alone (70/30 half-up) would give the
    # bank 10.00 x 12 = 120.00; its exact share of 399.96 is 119.988, so cumulative gives 119.99.
    for _month in range(12):
        parts, loan = loan.collect(Component.INTEREST, cny(3_333))
        assert sum(parts, cny(0)) == cny(3_333)
    assert loan.totals("interest") == (cny(27_997), cny(11_999))


def test_principal_repaid_and_written_off_returns_exactly_what_each_funder_lent() -> None:
    loan = JointLoan.disburse("L1", cny(100_001), [LENDER_70, BANK_30])
    for amount in (cny(33_333), cny(33_333)):
        _parts, loan = loan.collect("principal", amount)
    _parts, loan = loan.write_off(Component.PRINCIPAL, cny(33_335))
    assert loan.totals("principal") == loan.disbursed
    parts, loan = loan.write_off(Component.INTEREST, cny(1_001))
    assert parts == (cny(701), cny(300)) and loan.totals("loss.interest") == parts


def test_share_rule_refuses_a_partner_under_thirty_percent() -> None:
    small = FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.29")
    big = FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.71")
    with pytest.raises(SettlementRejected) as raised:
        JointLoan.disburse("L1", cny(100), [big, small])
    assert raised.value.code is RejectionCode.JOINT_SHARE_BELOW_MINIMUM
    assert isinstance(raised.value, Rejected) and "bank" in raised.value.detail
    # A configured rule (20%) accepts it.
    JointLoan.disburse("L1", cny(100), [big, small], rule=ShareRule(share_min="0.2"))


@pytest.mark.parametrize(
    ("field", "shares"),
    [
        ("shares", [LENDER_70]),
        ("shares", [LENDER_70, LENDER_70]),
        ("shares", []),
        ("ratio", None),
    ],
)
def test_bad_shares_name_the_field(field: str, shares: list[FundingShare] | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        if shares is None:
            FundingShare(funder_id="x", kind="partner", ratio="0")
        else:
            JointLoan.disburse("L1", cny(100), shares)
    assert raised.value.field == field


@given(
    shares=joint_shares(),
    principal=st.integers(1, 10**9),
    collections=st.lists(
        st.tuples(st.sampled_from(["interest", "penalty", "fee"]), st.integers(0, 10**7)),
        max_size=60,
    ),
)
def test_life_totals_stay_within_the_documented_bound_of_the_exact_share(
    shares: list[FundingShare], principal: int, collections: list[tuple[str, int]]
) -> None:
    loan = JointLoan.disburse("L", cny(principal), shares, rule=ShareRule(share_min="0.001"))
    assert sum(loan.disbursed, cny(0)) == cny(principal)
    totals: dict[str, int] = {}
    for component, minor in collections:
        parts, loan = loan.collect(component, cny(minor))
        assert sum(parts, cny(0)) == cny(minor)  # every split conserves its amount
        assert all(not p.is_negative() for p in parts)
        totals[component] = totals.get(component, 0) + minor
    bound = len(shares) - 1
    for component, total in totals.items():
        for share, got in zip(shares, loan.totals(component), strict=True):
            exact = Decimal(total) * share.ratio
            assert abs(got.minor_units - exact) <= bound
            if bound == 1:  # two funders: the exact share rounded once, down or up
                assert got.minor_units in (
                    int(exact.to_integral_value(ROUND_FLOOR)),
                    int(-(-exact).to_integral_value(ROUND_FLOOR)),
                )


@given(
    shares=joint_shares(partners_max=1),
    principal=st.integers(1, 10**9),
    cuts=st.lists(st.integers(1, 10**6), max_size=30),
)
def test_principal_returned_over_life_equals_each_funders_part(
    shares: list[FundingShare], principal: int, cuts: list[int]
) -> None:
    loan = JointLoan.disburse("L", cny(principal), shares, rule=ShareRule(share_min="0.001"))
    left = principal
    for cut in cuts:
        step = min(cut, left)
        _parts, loan = loan.collect("principal", cny(step))
        left -= step
    _parts, loan = loan.write_off("principal", cny(left))
    assert loan.totals("principal") == loan.disbursed


FUNDERS = {
    "lender": Funder(funder_id="lender", cost_rate="0.05", limit=cny(10**9), outstanding=cny(0)),
    "bankA": Funder(funder_id="bankA", cost_rate="0.03", limit=cny(500_000), outstanding=cny(0)),
    "bankB": Funder(
        funder_id="bankB",
        cost_rate="0.04",
        limit=cny(10**9),
        outstanding=cny(0),
        loan_amount_max=cny(500_000),
    ),
}


def option(option_id: str, bank: str, bank_ratio: str) -> FundingOption:
    lender_ratio = str(1 - Decimal(bank_ratio))
    return FundingOption(
        option_id=option_id,
        shares=[
            FundingShare(funder_id="lender", kind="lender", ratio=lender_ratio),
            FundingShare(funder_id=bank, kind="partner", ratio=bank_ratio),
        ],
    )


SOLO = FundingOption(
    option_id="solo", shares=[FundingShare(funder_id="lender", kind="lender", ratio="1")]
)


def test_router_picks_the_cheapest_option_with_room() -> None:
    options = [SOLO, option("A70", "bankA", "0.7"), option("B50", "bankB", "0.5")]
    routed = route_funding(cny(100_000), options, FUNDERS)
    assert routed.option_id == "A70"  # 0.3 x 5% + 0.7 x 3% = 3.6%
    assert routed.parts == (("lender", cny(30_000)), ("bankA", cny(70_000)))
    assert routed.cost_rate == Decimal("0.036")
    # bankA has 5,000.00 of room: 70% of 10,000.00 does not fit; bankB's 50% (its per-loan
    # maximum, 5,000.00) does, at 4.5%; 20,000.00 fits no bank, so the lender funds it alone.
    big = route_funding(cny(1_000_000), options, FUNDERS)
    assert big.option_id == "B50"
    assert route_funding(cny(2_000_000), options, FUNDERS).option_id == "solo"


def test_router_refusal_lists_every_options_reason() -> None:
    options = [
        option("A70", "bankA", "0.7"),
        option("B50", "bankB", "0.5"),
        option("B20", "bankB", "0.2"),
    ]
    with pytest.raises(FundingRejected) as raised:
        route_funding(cny(2_000_000), options, FUNDERS)
    assert raised.value.code is RejectionCode.NO_FUNDING_ROUTE
    assert [(o, c) for o, c, _d in raised.value.reasons] == [
        ("A70", RejectionCode.FUNDER_NO_ROOM),
        ("B50", RejectionCode.FUNDER_LOAN_LIMIT_EXCEEDED),
        ("B20", RejectionCode.JOINT_SHARE_BELOW_MINIMUM),
    ]


def test_unknown_component_names_the_field() -> None:
    loan = JointLoan.disburse("L1", cny(100), [LENDER_70, BANK_30])
    with pytest.raises(InvalidInput) as raised:
        loan.collect("tip", cny(1))
    assert raised.value.field == "component"
    with pytest.raises(InvalidInput) as raised:
        loan.collect("interest", cny(-1))
    assert raised.value.field == "amount"


def test_partner_share_and_its_payout_entry() -> None:
    loan = JointLoan.disburse("L1", cny(100_000), [LENDER_70, BANK_30])
    parts, loan = loan.collect("interest", cny(1_001))
    assert loan.partner_share(parts) == cny(300)
    (entry,) = partner_payout_entries("pp:bank:2025-10", "bank", cny(300), date(2025, 10, 31))
    assert entry.idempotency_key == "partner.paid:pp:bank:2025-10"
    assert [(leg.subject_code, leg.signed_minor) for leg in entry.legs] == [
        (DEFAULT_MAPPING.partner_payable, 300),
        (DEFAULT_MAPPING.bank, -300),
    ]
    with pytest.raises(InvalidInput, match="parts"):
        loan.partner_share(parts[:1])
