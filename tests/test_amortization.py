"""Amortization schedules: exact to the minor unit, residue on the last installment."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, given
from hypothesis import strategies as st

from loancore.amortization import (
    Installment,
    InterestBasis,
    LoanTerms,
    Method,
    Reamortization,
    amortize,
    payoff_quote,
    reamortize,
)
from loancore.errors import FloatNotAllowed, InvalidInput
from loancore.money import minor_unit
from loancore.testing.calculators import loan_terms
from loancore.testing.money import assert_context_independent

D = Decimal


def terms(**overrides) -> LoanTerms:
    base = {
        "principal": D("10000"),
        "currency": "CNY",
        "annual_rate": D("0.18"),
        "installments": 12,
        "method": "equal_installment",
        "start_date": dt.date(2025, 1, 31),
        "rounding": "HALF_UP",
    }
    return LoanTerms(**(base | overrides))


# -- properties (the invariants named in issue 3) -------------------------------------------------


@given(loan_terms())
def test_principal_parts_sum_exactly_to_the_principal(t: LoanTerms) -> None:
    assert amortize(t).total_principal == t.principal


@given(loan_terms())
def test_balances_never_go_negative_and_end_at_zero(t: LoanTerms) -> None:
    schedule = amortize(t)
    assert all(b >= 0 for b in schedule.balance_after)
    assert schedule.balance_after[-1] == 0
    assert all(
        p >= 0 and i >= 0 and f >= 0
        for p, i, f in zip(schedule.principal, schedule.interest, schedule.fee, strict=True)
    )


@given(loan_terms(methods=["equal_installment"], options=False))
def test_equal_installments_are_equal_except_the_last(t: LoanTerms) -> None:
    totals = amortize(t).totals
    assert len(set(totals[:-1])) <= 1


@given(loan_terms(methods=["equal_installment", "equal_principal", "interest_only"]), st.data())
def test_reamortization_conserves_principal(t: LoanTerms, data) -> None:
    schedule = amortize(t)
    after = data.draw(st.integers(0, len(schedule) - 1))
    balance = schedule.balance_after[after - 1] if after else t.principal
    assume(balance > 0)
    low = 0 if after else 1  # a prepayment of everything before installment 1 is refused
    minor = data.draw(st.integers(1, max(1, int(balance * 100) - low)))
    mode = data.draw(st.sampled_from(list(Reamortization)))
    remaining = int(balance * 100) - minor
    periods = len(schedule) - max(after, t.grace_periods)
    if (
        mode is Reamortization.KEEP_TERM
        and t.method.value != "interest_only"
        and 0 < remaining < periods
    ):
        # issue 10: less than one minor unit per remaining installment is refused, not spread
        # as installments of 0.00.
        with pytest.raises(InvalidInput) as caught:
            reamortize(schedule, after_installment=after, prepayment=D(minor) / 100, mode=mode)
        assert caught.value.field == "prepayment"
        return
    result = reamortize(schedule, after_installment=after, prepayment=D(minor) / 100, mode=mode)
    assert result.total_principal + result.prepaid_principal == t.principal
    assert min(result.balance_after) >= 0
    assert len(result) <= len(schedule)


@given(loan_terms(methods=["equal_installment"], options=False), st.data())
def test_keep_term_lowers_the_installment_and_keep_installment_shortens(t: LoanTerms, data) -> None:
    schedule = amortize(t)
    if len(schedule) < 3 or t.annual_rate == 0:
        return
    after = data.draw(st.integers(1, len(schedule) - 2))
    half = (schedule.balance_after[after - 1] / 2).quantize(D("0.01"))
    if half < 1:
        return
    kept = reamortize(schedule, after_installment=after, prepayment=half, mode="keep_installment")
    lower = reamortize(schedule, after_installment=after, prepayment=half, mode="keep_term")
    assert len(kept) <= len(schedule)
    assert len(lower) == len(schedule)
    assert lower.totals[after] <= schedule.totals[after]


# -- worked examples ---------------------------------------------------------------------------


def test_equal_installment_10000_at_18_percent() -> None:
    schedule = amortize(terms())
    assert schedule.totals[:-1] == (D("916.80"),) * 11
    assert schedule.totals[-1] == D("916.81")
    assert schedule.total_interest == D("1001.61")
    assert schedule.total_quoted == D("11001.60")  # installment x n: one fen less
    assert schedule.due_dates[:2] == (dt.date(2025, 2, 28), dt.date(2025, 3, 31))


def test_flat_10000_at_18_percent_repays_11800() -> None:
    schedule = amortize(terms(method=Method.FLAT))
    assert schedule.total_paid == D("11800.00")
    assert set(schedule.interest) == {D("150.00")}


def test_fee_installment_splits_principal_and_charges_fee_on_original() -> None:
    schedule = amortize(
        terms(method="fee_installment", annual_rate=0, fee_rate_per_period=D("0.006"))
    )
    assert set(schedule.fee) == {D("60.00")}
    assert schedule.principal[0] == D("833.33") and schedule.principal[-1] == D("833.37")
    assert schedule.total_paid == D("10720.00")


def test_up_front_fee_lowers_net_disbursement() -> None:
    schedule = amortize(terms(fee_rate_per_period=D("0.005"), fee_timing="upfront"))
    assert schedule.fee_upfront == D("600.00")
    assert schedule.net_disbursement == D("9400.00")
    assert set(schedule.fee) == {D("0.00")}


def test_bullet_pays_once_at_maturity() -> None:
    schedule = amortize(terms(method="bullet"))
    assert len(schedule) == 1
    assert schedule.totals == (D("11800.00"),)
    assert schedule.due_dates == (dt.date(2026, 1, 31),)


def test_interest_only_then_principal() -> None:
    schedule = amortize(terms(method="interest_only", installments=3))
    assert schedule.totals == (D("150.00"), D("150.00"), D("10150.00"))


def test_grace_and_interest_free_periods() -> None:
    schedule = amortize(terms(grace_periods=2, interest_free_periods=1))
    assert schedule.principal[:2] == (D("0.00"), D("0.00"))
    assert schedule.interest[:2] == (D("0.00"), D("150.00"))
    assert len(set(schedule.totals[2:-1])) == 1


def test_installment_multiple_rounds_to_whole_yuan() -> None:
    schedule = amortize(terms(installment_multiple=1))
    assert schedule.totals[0] == D("917.00")
    assert schedule.total_principal == D("10000.00")


def test_daily_basis_uses_actual_days() -> None:
    schedule = amortize(terms(interest_basis="daily", day_count="ACT/360"))
    assert schedule.interest[0] == D("140.00")  # 10000 x 0.18 x 28 / 360
    assert schedule.interest[1] == (schedule.balance_after[0] * D("0.18") * 31 / 360).quantize(
        D("0.01")
    )


def test_odd_first_period_charges_its_days() -> None:
    schedule = amortize(terms(first_due_date=dt.date(2025, 3, 15)))
    # Mar 15 back one month is Feb 15 (a whole period), then Jan 31..Feb 15 = 15 of 31 days.
    assert schedule.interest[0] == (D(10000) * D("0.015") * (1 + D(15) / 31)).quantize(D("0.01"))
    assert schedule.due_dates[1] == dt.date(2025, 4, 15)


def test_rounding_mode_is_the_products() -> None:
    up = amortize(terms(principal=D("1000.10"), rounding="UP"))
    down = amortize(terms(principal=D("1000.10"), rounding="DOWN"))
    assert up.totals[0] > down.totals[0]


def test_jpy_has_no_minor_unit() -> None:
    schedule = amortize(terms(currency="JPY", principal=D(100000)))
    assert all(p == p.to_integral_value() for p in schedule.principal)


def test_rows_for_csv() -> None:
    rows = amortize(terms(installments=2)).to_rows()
    assert list(rows[0]) == [
        "number",
        "due_date",
        "principal",
        "interest",
        "fee",
        "total",
        "balance_after",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    assert "5075.19" in out.getvalue() or len(out.getvalue()) > 50
    assert isinstance(amortize(terms()).installments[0], Installment)


def test_reamortize_keep_installment_shortens() -> None:
    schedule = amortize(terms())
    result = reamortize(
        schedule, after_installment=4, prepayment=D("2000"), mode="keep_installment"
    )
    assert len(result) == 10
    assert result.totals[:9] == (D("916.80"),) * 9
    assert result.prepaid_principal == D("2000.00")


def test_reamortize_keep_term_lowers_installment() -> None:
    result = reamortize(
        amortize(terms()), after_installment=4, prepayment=D("2000"), mode="keep_term"
    )
    assert len(result) == 12
    assert result.totals[4] == D("649.63")


def test_reamortize_full_prepayment_ends_the_schedule() -> None:
    schedule = amortize(terms())
    result = reamortize(
        schedule, after_installment=3, prepayment=schedule.balance_after[2], mode="keep_term"
    )
    assert len(result) == 3 and result.total_principal + result.prepaid_principal == D(10000)


def test_payoff_quote() -> None:
    schedule = amortize(terms())
    quote = payoff_quote(
        schedule, dt.date(2025, 5, 15), installments_paid=3, prepayment_fee_rate=D("0.01")
    )
    assert quote.principal == D("7664.92")
    # 15 of the 31 days of May's period at 1.5% a month
    assert quote.interest == (D("7664.92") * D("0.015") * 15 / 31).quantize(D("0.01"))
    assert quote.fee == D("76.65")
    assert quote.total == quote.principal + quote.interest + quote.fee


def test_payoff_quote_with_day_count() -> None:
    schedule = amortize(terms(day_count="ACT/360"))
    quote = payoff_quote(schedule, dt.date(2025, 2, 10), installments_paid=0)
    assert quote.interest == D("50.00")  # 10000 x 0.18 x 10 / 360


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": D("-1")}, "principal"),
        ({"principal": D("0")}, "principal"),
        ({"principal": D("1.001")}, "principal"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"annual_rate": D("10")}, "annual_rate"),
        ({"installments": 0}, "installments"),
        ({"method": "balloon"}, "method"),
        ({"first_due_date": dt.date(2025, 1, 1)}, "first_due_date"),
        ({"currency": "XXX"}, "currency"),
        ({"rounding": "NEAREST"}, "rounding"),
        ({"interest_basis": "daily"}, "day_count"),
        ({"day_count": "ACT/999"}, "day_count"),
        ({"grace_periods": 12}, "grace_periods"),
        ({"interest_free_periods": 13}, "interest_free_periods"),
        ({"method": "fee_installment"}, "annual_rate"),
        ({"installment_multiple": D("0.001")}, "installment_multiple"),
        ({"fee_rate_per_period": D("1")}, "fee_rate_per_period"),
        ({"frequency": "every_n_days"}, "every_days"),
        ({"every_days": 7}, "every_days"),
        ({"start_date": "2025-01-01"}, "start_date"),
    ],
)
def test_invalid_terms_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        terms(**overrides)
    assert info.value.field == field


def test_float_rate_is_refused() -> None:
    with pytest.raises(FloatNotAllowed):
        terms(annual_rate=0.18)


def test_rounding_is_required() -> None:
    with pytest.raises(TypeError):
        LoanTerms(
            principal=D(1),
            currency="CNY",
            annual_rate=D(0),
            installments=1,
            method="bullet",
            start_date=dt.date(2025, 1, 1),
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"after_installment": 12, "prepayment": D(1), "mode": "keep_term"}, "after_installment"),
        ({"after_installment": 1, "prepayment": D("0"), "mode": "keep_term"}, "prepayment"),
        ({"after_installment": 1, "prepayment": D("99999"), "mode": "keep_term"}, "prepayment"),
        ({"after_installment": 1, "prepayment": D("1"), "mode": "shorter"}, "mode"),
        ({"after_installment": 0, "prepayment": D("10000"), "mode": "keep_term"}, "prepayment"),
    ],
)
def test_bad_reamortization_input(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        reamortize(amortize(terms()), **kwargs)
    assert info.value.field == field


def test_reamortize_refuses_flat() -> None:
    with pytest.raises(InvalidInput):
        reamortize(
            amortize(terms(method="flat")), after_installment=1, prepayment=D(1), mode="keep_term"
        )


def test_payoff_outside_the_current_period_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        payoff_quote(amortize(terms()), dt.date(2025, 6, 1), installments_paid=1)
    assert info.value.field == "as_of"


def test_terms_evolve_revalidates() -> None:
    with pytest.raises(InvalidInput):
        attrs.evolve(terms(), installments=0)


def test_balance_column_accounts_for_the_prepayment() -> None:
    schedule = amortize(terms())
    result = reamortize(schedule, after_installment=4, prepayment=D("2000"), mode="keep_term")
    assert result.balance_after[3] == schedule.balance_after[3]  # before the prepayment
    assert result.balance_after[4] == schedule.balance_after[3] - D("2000") - result.principal[4]
    assert result.balance_after[-1] == 0


# -- review: corners, an independent reference model, the caller's decimal context --------------


def _reference_minor(t: LoanTerms) -> tuple[list[int], list[int]]:
    """A deliberately plain model of a period-basis schedule (no options): per period, interest
    = round(basis x rate) with the terms' mode, principal = level - interest (annuity) or
    principal // n (level-principal methods), the last period takes the balance."""
    mode = t.rounding.value
    scale = -minor_unit(t.currency).as_tuple().exponent
    principal = int(t.principal.scaleb(scale))
    n, r = t.installments, Fraction(t.annual_rate) / 12

    def rounded(x: Fraction) -> int:
        with decimal.localcontext(prec=100):
            return int((Decimal(x.numerator) / Decimal(x.denominator)).quantize(1, mode))

    level = rounded(principal * r / (1 - (1 + r) ** -n)) if r else rounded(Fraction(principal, n))
    # Level principal: P / n in the contract's mode (issue 10), rounded down instead if rounding
    # up would leave the last installment no principal.
    level_principal = rounded(Fraction(principal, n))
    if (n - 1) * level_principal >= principal:
        level_principal = principal // n
    balance, parts, interests = principal, [], []
    for k in range(n):
        interest = rounded((principal if t.method is Method.FLAT else balance) * r)
        if k == n - 1:
            part = balance
        elif t.method is Method.EQUAL_INSTALLMENT:
            part = min(max(level - interest, 0), balance)
        elif t.method is Method.INTEREST_ONLY:
            part = 0
        else:
            part = min(level_principal, balance)
        balance -= part
        parts.append(part)
        interests.append(interest)
    return parts, interests


@given(
    loan_terms(
        methods=["equal_installment", "equal_principal", "interest_only", "flat"],
        options=False,
        frequencies=["monthly"],
        installments_max=120,
        rate_bp_max=99_999,
    ),
    st.sampled_from(["CNY", "JPY", "KWD"]),
)
def test_schedule_matches_a_plain_reference_model(t: LoanTerms, currency: str) -> None:
    scale = -minor_unit(currency).as_tuple().exponent
    t = attrs.evolve(t, currency=currency, principal=D(int(t.principal * 100)).scaleb(-scale))
    parts, interests = _reference_minor(t)
    # The model has no "installment too high, the loan clears early" correction: compare only
    # where it is not needed (the other tests cover the corrected cases).
    assume(t.method is not Method.EQUAL_INSTALLMENT or len(parts) == 1 or parts[-1] > 0)
    schedule = amortize(t)
    assert list(schedule.principal_minor) == parts
    assert list(schedule.interest_minor) == interests


@given(
    loan_terms(
        methods=["equal_installment"],
        installments_max=120,
        rate_bp_max=99_999,
        first_period_days_max=800,
    )
)
def test_an_annuity_never_clears_before_its_last_installment(t: LoanTerms) -> None:
    # Found in review: at high rates, with daily interest or a long odd first period, a period's
    # interest can exceed the level installment; the schedule then paid off early and ended
    # with installments of 0.00 (and the correction loop ran up to 1200 schedules).
    schedule = amortize(t)
    assert len(schedule) == t.installments
    assert t.installments == 1 or schedule.principal_minor[-1] > 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"annual_rate": D("9.99"), "first_due_date": dt.date(2025, 4, 15)},
        {"annual_rate": D("0.24"), "installments": 24, "first_due_date": dt.date(2026, 1, 31)},
        {
            "annual_rate": D("3.414"),
            "installments": 100,
            "interest_basis": "daily",
            "day_count": "ACT/365F",
        },
        {
            "annual_rate": D("3.414"),
            "installments": 1200,
            "interest_basis": "daily",
            "day_count": "ACT/365F",
        },
    ],
)
def test_high_interest_corner_schedules_keep_every_installment(overrides: dict) -> None:
    t = terms(**overrides)
    schedule = amortize(t)
    assert min(schedule.totals) > 0
    assert schedule.total_principal == t.principal
    # The level installment is what every installment after the first pays (except the last
    # and any whose interest alone exceeds it).
    assert schedule.level_payment in schedule.totals[1:]


def test_rounding_mode_is_honoured_on_a_half_minor_unit() -> None:
    # 3.00 at 1.5% a month: 4.5 fen of interest; HALF_UP gives 5, HALF_EVEN 4, DOWN 4, UP 5.
    got = {
        mode: amortize(
            terms(principal=D("3"), installments=1, method="interest_only", rounding=mode)
        ).total_interest
        for mode in ("HALF_UP", "HALF_EVEN", "DOWN", "UP")
    }
    assert got == {"HALF_UP": D("0.05"), "HALF_EVEN": D("0.04"), "DOWN": D("0.04"), "UP": D("0.05")}


@given(loan_terms(rate_bp_max=99_999))
def test_schedules_do_not_depend_on_the_callers_decimal_context(t: LoanTerms) -> None:
    def compute():
        s = amortize(t)
        return s.totals, s.balance_after, s.total_paid, s.net_disbursement

    assert_context_independent(compute)


def test_large_principal_under_a_low_precision_context() -> None:
    # Found in review: LoanTerms checked the principal's scale with the caller's context, so
    # prec=6 raised decimal.InvalidOperation for 12,345,678.91.
    with decimal.localcontext(decimal.Context(prec=6)):
        assert terms(principal=D("12345678.91")).principal == D("12345678.91")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": D("1e45")}, "principal"),
        ({"installment_multiple": D("1e45")}, "installment_multiple"),
        ({"start_date": dt.date(9999, 12, 1)}, "start"),
        ({"start_date": dt.date(2999, 12, 30), "frequency": "weekly", "installments": 1}, "start"),
        ({"first_due_date": dt.date(9999, 12, 31)}, "first_due_date"),
        ({"start_date": dt.date(2999, 12, 1)}, "start"),
    ],
)
def test_out_of_range_terms_raise_invalid_input(overrides: dict, field: str) -> None:
    # Found in review: these escaped as decimal.InvalidOperation, ValueError("year 10000 is out
    # of range") or OverflowError from deep inside.
    with pytest.raises(InvalidInput) as caught:
        amortize(terms(**overrides))
    assert caught.value.field.startswith(field)


@given(
    loan_terms(
        methods=[
            "equal_installment",
            "equal_principal",
            "interest_only",
            "bullet",
            "fee_installment",
        ],
        first_period_days_max=400,
    ),
    st.data(),
)
def test_a_payoff_on_a_due_date_charges_the_scheduled_interest(t: LoanTerms, data) -> None:
    # Found in review: the payoff quote accrued "period rate x elapsed share" whatever the
    # period: a bullet's quote charged one period's rate for the whole term (10,000 at 18% after
    # 4 months 10 days: 53.69 instead of 650.00), an odd first period of one day was charged a
    # whole period, and interest-free periods were charged.
    schedule = amortize(t)
    k = data.draw(st.integers(0, len(schedule) - 1))
    quote = payoff_quote(schedule, schedule.due_dates[k], installments_paid=k)
    assert quote.interest == schedule.interest[k]


def test_bullet_payoff_accrues_over_the_whole_term() -> None:
    schedule = amortize(terms(method="bullet", start_date=dt.date(2024, 1, 31)))
    quote = payoff_quote(schedule, dt.date(2024, 6, 10), installments_paid=0)
    # 4 whole months at 1.5% plus 10 of the 31 days from May 31 to June 30.
    assert quote.interest == D("650.00")


def test_an_up_front_fee_must_leave_a_positive_disbursement() -> None:
    # Found in review: 12 periods x 50% up front gave net_disbursement -50,000.00, and the APR
    # functions then reported "the cash flows never change sign".
    with pytest.raises(InvalidInput, match="up front") as caught:
        terms(fee_rate_per_period=D("0.5"), fee_timing="upfront")
    assert caught.value.field == "fee_rate_per_period"
    assert amortize(
        terms(fee_rate_per_period=D("0.05"), fee_timing="upfront")
    ).net_disbursement == D("4000.00")


def test_keep_term_never_leaves_installments_of_zero() -> None:
    schedule = amortize(
        terms(
            annual_rate=D("3.414"), installments=100, interest_basis="daily", day_count="ACT/365F"
        )
    )
    after = reamortize(schedule, after_installment=3, prepayment=D("100"), mode="keep_term")
    assert min(after.totals) > 0 and after.principal_minor[-1] > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: payoff_quote("schedule", dt.date(2025, 2, 1), installments_paid=0),
        lambda: reamortize(None, after_installment=0, prepayment=1, mode="keep_term"),
    ],
)
def test_a_non_schedule_is_refused(call) -> None:
    # Found in review: AttributeError ('str' object has no attribute 'terms').
    with pytest.raises(InvalidInput):
        call()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("annual_rate", D("1e-20000")),
        ("annual_rate", D("0.18" + "0" * 38 + "1")),
        ("fee_rate_per_period", D("1e-29")),
    ],
)
def test_rates_with_too_many_decimals_are_refused(field: str, value: Decimal) -> None:
    # Found in review: annual_rate=Decimal("1e-20000") over 360 installments ran for minutes
    # (the exact (1 + r)^n has a 7,200,000-digit denominator).
    with pytest.raises(InvalidInput) as caught:
        terms(installments=360, **{field: value})
    assert caught.value.field == field


def test_trailing_zeros_do_not_count_as_decimals() -> None:
    assert terms(annual_rate=D("0.18" + "0" * 40)).annual_rate == D("0.18")
    assert amortize(terms(annual_rate=D("1e-28"), installments=1200)).total_principal == D("10000")


@given(
    loan_terms(
        methods=["equal_installment"],
        options=False,
        installments_max=120,
        rate_bp_max=99_999,
        frequencies=["monthly", "weekly", "quarterly"],
    ),
    st.sampled_from(["HALF_UP", "HALF_EVEN", "HALF_DOWN", "UP", "DOWN", "CEILING", "FLOOR"]),
    st.sampled_from([None, D("1"), D("100"), D("0.05")]),
)
def test_the_fast_annuity_path_equals_the_general_loop(t: LoanTerms, mode, multiple) -> None:
    # _plain_annuity folds the rounding mode into integer arithmetic; the general loop rounds
    # each interest with round_ratio. A first due date one regular period after the start sends
    # the same loan through the general loop, which must give the same schedule.
    assume(t.start_date.day <= 28)  # a month-end start makes "one month later" an odd period
    t = attrs.evolve(t, rounding=mode, installment_multiple=multiple)
    months = t.frequency.months
    first = t.start_date + (relativedelta(months=months) if months else dt.timedelta(days=7))
    general_terms = attrs.evolve(t, first_due_date=first)
    try:
        fast = amortize(t)
    except InvalidInput:  # a multiple that rounds the installment to 0: refused by both paths
        with pytest.raises(InvalidInput):
            amortize(general_terms)
        return
    general = amortize(general_terms)
    assert fast.due_dates == general.due_dates
    assert fast.principal_minor == general.principal_minor
    assert fast.interest_minor == general.interest_minor


@given(loan_terms(methods=["equal_installment"], installments_max=120))
def test_the_last_installment_is_the_level_up_to_a_bounded_residue(t: LoanTerms) -> None:
    # Found in review: interest-free periods were ignored when sizing the level installment, so
    # 10,000 at 18% over 12 months with 3 free months paid 916.80 x 11 and then 441.91 (all 12
    # free: 909.09 x 11 and then 0.01). The level is now P / (free + a(n - free)).
    assume(t.interest_basis is InterestBasis.PERIOD and len(t.due_dates()) > 1)
    schedule = amortize(t)
    level, n = schedule.level_payment_minor, t.installments
    last = schedule.principal_minor[-1] + schedule.interest_minor[-1]
    # Each rounding (the level, each period's interest) is off by under one minor unit, and an
    # error in the balance grows with the rate until the last installment.
    bound = 2 * n * (1 + t.period_rate) ** n + 1
    assert abs(last - level) <= bound


@pytest.mark.parametrize(
    "overrides",
    [
        {"installment_multiple": D("100000")},
        {"installment_multiple": D("5000"), "grace_periods": 2},
        {"installment_multiple": D("1000"), "installments": 1200, "principal": D("1000")},
    ],
)
def test_a_multiple_that_rounds_the_installment_to_zero_is_refused(overrides: dict) -> None:
    # Found in review: 10,000 at 18% over 12 months with installment_multiple=100,000 rounded the
    # 916.80 installment to 0 and silently became interest-only (150.00 x 11, then 10,150.00).
    with pytest.raises(InvalidInput) as caught:
        amortize(terms(**overrides))
    assert caught.value.field == "installment_multiple"


# -- issue 10: level principal follows the contract's rounding; nonsense refused ----------------


@pytest.mark.parametrize(
    ("rounding", "level", "last"),
    [("HALF_UP", "16.67", "16.65"), ("HALF_EVEN", "16.67", "16.65"), ("DOWN", "16.66", "16.70")],
)
def test_equal_principal_level_follows_the_contract_rounding(rounding, level, last) -> None:
    # Banks' published 等额本金 schedules and Apache Fineract round P / n with the contract's
    # mode and put the residue on the last installment; loancore used to truncate always.
    schedule = amortize(
        terms(principal=D("100"), installments=6, method="equal_principal", rounding=rounding)
    )
    assert schedule.principal == (D(level),) * 5 + (D(last),)
    assert schedule.level_payment == D(level)


@given(loan_terms(methods=["equal_principal", "flat", "fee_installment"]))
def test_level_principal_methods_repay_at_least_a_minor_unit_every_amortizing_period(
    t: LoanTerms,
) -> None:
    schedule = amortize(t)
    assert schedule.total_principal == t.principal
    assert all(p >= 1 for p in schedule.principal_minor[t.grace_periods :])


@pytest.mark.parametrize(
    "method", ["equal_principal", "flat", "fee_installment", "equal_installment"]
)
def test_a_principal_smaller_than_one_minor_unit_per_installment_is_refused(method: str) -> None:
    # Found in review: 0.11 over 12 installments gave eleven installments of 0.00.
    rate = D(0) if method == "fee_installment" else D("0.18")
    with pytest.raises(InvalidInput) as caught:
        terms(principal=D("0.11"), installments=12, method=method, annual_rate=rate)
    assert caught.value.field == "principal"
    assert terms(principal=D("0.12"), installments=12, method=method, annual_rate=rate)


def test_installment_multiple_rounds_the_level_principal_of_equal_principal() -> None:
    schedule = amortize(terms(method="equal_principal", installment_multiple=1))
    assert schedule.principal == (D(833),) * 11 + (D(837),)


@pytest.mark.parametrize("method", ["flat", "fee_installment"])
def test_installment_multiple_rounds_the_level_installment_of_flat_methods(method: str) -> None:
    extra = {"annual_rate": D(0), "fee_rate_per_period": D("0.0075")} if method != "flat" else {}
    schedule = amortize(terms(method=method, installment_multiple=1, **extra))
    assert all(total == total.to_integral_value() for total in schedule.totals[:-1])
    assert schedule.totals[0] == D("983.00") if method == "flat" else D("908.00")
    assert schedule.total_principal == D("10000")


@pytest.mark.parametrize("method", ["interest_only", "bullet"])
def test_installment_multiple_is_refused_where_no_level_amount_exists(method: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        terms(method=method, installment_multiple=1)
    assert caught.value.field == "installment_multiple"


@given(
    loan_terms(methods=["equal_principal", "flat"], options=False),
    st.sampled_from([D("1"), D("0.05"), D("10")]),
)
def test_a_multiple_on_level_principal_methods_conserves_principal(t: LoanTerms, multiple) -> None:
    try:
        schedule = amortize(attrs.evolve(t, installment_multiple=multiple))
    except InvalidInput as error:  # a multiple larger than the level amount
        assert error.field == "installment_multiple"
        return
    assert schedule.total_principal == t.principal
    assert min(schedule.principal_minor) >= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_date", dt.datetime(2025, 1, 31, 10)),
        ("start_date", "2025-01-31"),
        ("start_date", dt.date(1899, 12, 31)),
        ("first_due_date", dt.datetime(2025, 3, 1, 0)),
        ("first_due_date", dt.date(3000, 1, 1)),
    ],
)
def test_term_dates_are_plain_dates_in_range(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        terms(**{field: value})
    assert caught.value.field == field


@pytest.mark.parametrize("as_of", [dt.datetime(2025, 2, 10, 9), "2025-02-10", None])
def test_payoff_quote_as_of_is_a_plain_date(as_of: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        payoff_quote(amortize(terms()), as_of, installments_paid=0)  # type: ignore[arg-type]
    assert caught.value.field == "as_of"
