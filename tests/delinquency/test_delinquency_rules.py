"""The rules one by one: DPD at the grace boundary, buckets, the class tables of both presets,
stages, bad input named, refusals with their codes, collection lists and their CSV."""

from __future__ import annotations

import pickle
from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from loancore.delinquency import (
    CARD_2011,
    CLASS_RATES_2002,
    DEFAULT_BUCKETS,
    RISK_2023,
    BucketScheme,
    DelinquencyPolicy,
    Judgement,
    ProvisionRates,
    RiskClass,
    StageRules,
    bucket_totals,
    classify,
    dpd,
    due_within,
    overdue_by_bucket,
    provision_adjustment,
    render_csv,
    required_allowance,
    sell,
    write_off,
)
from loancore.errors import CurrencyMismatch, DelinquencyRejected, InvalidInput, RejectionCode
from loancore.money import Money, Rounding
from loancore.postings import LoanSold, Stage, entries_for
from loancore.servicing import LoanStatus
from loancore.testing.delinquency import FIRST_DUE, unpaid_clinic_loan

DAY_100 = date(2026, 5, 26)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def test_within_the_grace_a_loan_is_not_late_and_after_it_dpd_counts_from_the_due_date() -> None:
    loan = unpaid_clinic_loan().loan
    assert [dpd(loan, FIRST_DUE + timedelta(days=n), 3) for n in range(6)] == [0, 0, 0, 0, 4, 5]
    assert dpd(loan, FIRST_DUE + timedelta(days=1), 0) == 1


def test_dpd_of_a_loan_not_active_is_zero_and_a_date_before_its_last_event_is_refused() -> None:
    loan = unpaid_clinic_loan(DAY_100).loan
    assert dpd(attrs.evolve(loan, status=LoanStatus.PAID_OFF), DAY_100, 3) == 0
    with pytest.raises(InvalidInput) as error:
        dpd(loan, DAY_100 - timedelta(days=1), 3)
    assert error.value.field == "as_of"
    with pytest.raises(InvalidInput) as error:
        dpd(loan, DAY_100, 91)
    assert error.value.field == "grace_days"


def test_default_buckets_are_30_days_wide_from_m1_to_m6_then_m7_plus() -> None:
    table = [(b.label, b.dpd_min, b.dpd_max) for b in DEFAULT_BUCKETS.buckets()]
    assert table == [
        ("M0", 0, 0),
        ("M1", 1, 30),
        ("M2", 31, 60),
        ("M3", 61, 90),
        ("M4", 91, 120),
        ("M5", 121, 150),
        ("M6", 151, 180),
        ("M7+", 181, None),
    ]
    assert BucketScheme((0, 90)).bucket_of(91).label == "M2+"


@pytest.mark.parametrize("bounds", [(), (30, 60), (0, 30, 30), (0, "30"), "0,30"])
def test_bucket_bounds_must_increase_from_zero(bounds: object) -> None:
    with pytest.raises(InvalidInput) as error:
        BucketScheme(bounds)  # type: ignore[arg-type]
    assert error.value.field == "bounds"


@pytest.mark.parametrize(
    ("rules", "table"),
    [
        (
            RISK_2023,
            [(0, 1), (1, 2), (90, 2), (91, 3), (270, 3), (271, 4), (360, 4), (361, 5)],
        ),
        (
            CARD_2011,
            [(0, 1), (1, 2), (90, 2), (91, 3), (120, 3), (121, 4), (180, 4), (181, 5)],
        ),
    ],
)
def test_class_floors_at_every_bound_of_both_presets(
    rules: object, table: list[tuple[int, int]]
) -> None:
    assert [(days, int(rules.floor(days)[0])) for days, _ in table] == table  # type: ignore[attr-defined]


def test_stages_follow_the_backstops_the_flags_and_the_class() -> None:
    loan = unpaid_clinic_loan().loan
    policy = DelinquencyPolicy(grace_days=3)

    def stage(days: int, judgement: Judgement | None = None, p: DelinquencyPolicy = policy) -> int:
        given = judgement or Judgement()
        return int(classify(loan, FIRST_DUE + timedelta(days=days), p, given).stage)

    assert [stage(d) for d in (0, 30, 31, 90, 91)] == [1, 1, 2, 2, 3]
    assert stage(0, Judgement(significant_increase=True)) == 2
    assert stage(0, Judgement(credit_impaired=True)) == 3
    assert stage(0, Judgement(assessed=RiskClass.SUBSTANDARD)) == 3
    apart = DelinquencyPolicy(grace_days=3, stages=StageRules(stage_3_from=None))
    assert stage(0, Judgement(assessed=RiskClass.SUBSTANDARD), apart) == 1
    with pytest.raises(InvalidInput):
        StageRules(stage_2_dpd=60, stage_3_dpd=30)


def test_the_lenders_judgement_makes_a_class_worse_never_better() -> None:
    loan = unpaid_clinic_loan().loan
    day = FIRST_DUE + timedelta(days=100)
    policy = DelinquencyPolicy(grace_days=3)
    assert classify(loan, day, policy, Judgement(assessed=RiskClass.LOSS)).risk_class == 5
    assert classify(loan, day, policy, Judgement()).risk_class == RiskClass.SUBSTANDARD


def test_provision_rates_need_every_class_and_a_fraction_each() -> None:
    assert CLASS_RATES_2002.rates == (
        (1, Decimal("0.01")),
        (2, Decimal("0.02")),
        (3, Decimal("0.25")),
        (4, Decimal("0.50")),
        (5, Decimal(1)),
    )
    with pytest.raises(InvalidInput):
        ProvisionRates.by_stage({Stage.ONE: Decimal("0.01")})
    with pytest.raises(InvalidInput) as error:
        ProvisionRates.by_stage({Stage.ONE: "0.01", Stage.TWO: "0.1", Stage.THREE: "1.5"})
    assert error.value.field == "rates.3"


def test_the_requirement_is_rounded_once_with_the_mode_named() -> None:
    assert required_allowance(12345, Decimal("0.25"), rounding=Rounding.HALF_UP) == 3086
    assert required_allowance(12345, Decimal("0.25"), rounding=Rounding.DOWN) == 3086
    assert required_allowance(12346, Decimal("0.25"), rounding=Rounding.HALF_EVEN) == 3086
    assert required_allowance(12346, Decimal("0.25"), rounding=Rounding.HALF_UP) == 3087


def test_a_float_rate_is_refused_even_after_an_equal_decimal_rate_was_used() -> None:
    # The exact ratio of a Decimal rate is kept; 1.0 == Decimal(1) and hashes alike, so the
    # kept ratio must never answer for a float.
    assert required_allowance(300, Decimal(1), rounding=Rounding.HALF_UP) == 300
    with pytest.raises(TypeError):
        required_allowance(300, 1.0, rounding=Rounding.HALF_UP)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        required_allowance(300, Decimal("0." + "1" * 29), rounding=Rounding.HALF_UP)


def test_a_provision_adjustment_across_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        provision_adjustment(
            cny("1.00"),
            Money("1.00", "USD"),
            stage=Stage.ONE,
            event_id="p",
            accounting_date=DAY_100,
            dimensions={"loan": "L1"},
        )


def test_a_provision_adjustment_refuses_a_negative_balance_naming_it() -> None:
    with pytest.raises(InvalidInput) as error:
        provision_adjustment(
            cny("1.00"),
            cny("-1.00"),
            stage=Stage.ONE,
            event_id="p",
            accounting_date=DAY_100,
            dimensions={"loan": "L1"},
        )
    assert error.value.field == "current"


def test_a_sale_above_the_carrying_amount_credits_the_gain() -> None:
    sold = LoanSold(
        event_id="s",
        accounting_date=DAY_100,
        dimensions={"loan": "L1"},
        price=cny("3000.00"),
        allowance=cny("8000.00"),
        principal=cny("10000.00"),
    )
    assert sold.difference == cny("1000.00")
    ((entry,),) = (entries_for(sold),)
    assert [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in entry.legs] == [
        ("1002", "debit", "3000.00"),
        ("1304.03", "debit", "8000.00"),
        ("1303.01", "credit", "10000.00"),
        ("6702", "credit", "1000.00"),
    ]


def test_refusals_carry_their_codes() -> None:
    loan = unpaid_clinic_loan(DAY_100).loan
    with pytest.raises(DelinquencyRejected) as refused:
        sell(
            loan,
            cny("1.00"),
            risk_class=RiskClass.SPECIAL_MENTION,
            allowance=cny("0.00"),
            interest_suspended=False,
            as_of=DAY_100,
            event_id="s",
        )
    assert refused.value.code is RejectionCode.SALE_OF_PERFORMING_LOAN
    paid_off = attrs.evolve(loan, status=LoanStatus.PAID_OFF)
    with pytest.raises(DelinquencyRejected) as refused:
        write_off(
            paid_off, allowance=cny("0"), interest_suspended=True, as_of=DAY_100, event_id="w"
        )
    assert refused.value.code is RejectionCode.LOAN_NOT_ACTIVE
    again = pickle.loads(pickle.dumps(refused.value))
    assert (again.code, again.detail) == (refused.value.code, refused.value.detail)


def test_delinquency_codes_keep_their_numbers() -> None:
    assert {c.name: int(c) for c in RejectionCode if 600 <= c < 700} == {
        "CLASSIFICATION_BEFORE_LAST": 600,
        "NOTHING_TO_WRITE_OFF": 601,
        "RECOVERY_EXCEEDS_WRITTEN_OFF": 602,
        "SALE_OF_PERFORMING_LOAN": 603,
        "NON_ACCRUAL_EVENT_REFUSED": 604,
        "LOAN_CLOSE_FAILED": 605,
    }


def test_reminders_list_what_falls_due_within_three_days() -> None:
    loan = unpaid_clinic_loan().loan
    other = attrs.evolve(loan, loan_id="L2", dimensions={"loan": "L2", "customer": "=C2"})
    lines = due_within([other, loan], FIRST_DUE - timedelta(days=3))
    assert [(x.loan_id, x.installment, x.days, str(x.amount.amount)) for x in lines] == [
        ("L1", 1, 3, "1100.16"),
        ("L2", 1, 3, "1100.16"),
    ]
    assert due_within([loan], FIRST_DUE - timedelta(days=4)) == ()
    assert render_csv(lines) == (
        "loan_id,customer,installment,due_date,days,amount,currency\n"
        "L1,C1,1,2026-02-15,3,1100.16,CNY\n"
        "L2,'=C2,1,2026-02-15,3,1100.16,CNY\n"  # a formula-looking cell is quoted
    )


def test_overdue_lists_go_worst_first_with_amounts_and_bucket_totals() -> None:
    late = unpaid_clinic_loan(DAY_100).loan
    newer = attrs.evolve(
        unpaid_clinic_loan().loan, loan_id="L2", dimensions={"loan": "L2", "customer": "C2"}
    )
    lines = overdue_by_bucket([newer, late], date(2026, 5, 26), grace_days={"clinic": 3})
    assert render_csv(lines) == (
        "loan_id,customer,dpd,bucket,installments_overdue,overdue,principal_overdue,"
        "principal_outstanding,currency\n"
        "L1,C1,100,M4,4,4557.17,3764.28,12000.00,CNY\n"
        "L2,C2,100,M4,4,4400.64,3764.28,12000.00,CNY\n"  # penalty not yet accrued on L2
    )
    assert render_csv(bucket_totals(lines)) == (
        "bucket,currency,loans,overdue,principal_outstanding\nM4,CNY,2,8957.81,24000.00\n"
    )
    assert overdue_by_bucket([newer], FIRST_DUE + timedelta(days=3), grace_days=3) == ()
    assert render_csv([]) == ""
