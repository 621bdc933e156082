"""Daily-rate revolving interest: exact accrual, one rounding at the end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.errors import FloatNotAllowed, InvalidInput
from loancore.revolving import interest_for_balances, interest_for_span
from loancore.testing.money import assert_context_independent

D = Decimal
day = dt.date


def test_daily_rate_over_thirty_days() -> None:
    got = interest_for_span(
        D("10000"),
        day(2025, 1, 1),
        day(2025, 1, 31),
        currency="CNY",
        rounding="HALF_UP",
        daily_rate=D("0.0005"),
    )
    assert got == D("150.00")


def test_annual_rate_with_act_360() -> None:
    got = interest_for_span(
        D("10000"),
        day(2025, 1, 1),
        day(2025, 1, 11),
        currency="CNY",
        rounding="HALF_UP",
        annual_rate=D("0.18"),
        day_count="ACT/360",
    )
    assert got == D("50.00")


def test_balance_history_accrues_each_span() -> None:
    changes = [
        (day(2025, 3, 1), D("5000")),
        (day(2025, 3, 11), D("5000")),
        (day(2025, 3, 21), D("-10000")),
    ]
    got = interest_for_balances(
        changes, day(2025, 3, 31), currency="CNY", rounding="HALF_UP", daily_rate=D("0.0002")
    )
    assert got == D("30.00")  # 5000 x 10 days + 10000 x 10 days at 0.02% a day


@given(st.integers(0, 10**9), st.integers(0, 400), st.integers(0, 50))
def test_one_span_equals_a_history_with_one_change(minor: int, days: int, rate_bp10: int) -> None:
    balance, rate = D(minor) / 100, D(rate_bp10) / 100000
    start = day(2025, 1, 1)
    end = start + dt.timedelta(days=days)
    one = interest_for_span(
        balance, start, end, currency="CNY", rounding="HALF_EVEN", daily_rate=rate
    )
    many = interest_for_balances(
        [(start, balance)], end, currency="CNY", rounding="HALF_EVEN", daily_rate=rate
    )
    assert one == many >= 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"daily_rate": D("0.0005"), "annual_rate": D("0.18")}, InvalidInput),
        ({}, InvalidInput),
        ({"annual_rate": D("0.18")}, InvalidInput),
        ({"daily_rate": 0.0005}, FloatNotAllowed),
        ({"daily_rate": D("-0.1")}, InvalidInput),
    ],
)
def test_bad_rates(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        interest_for_span(
            D(1), day(2025, 1, 1), day(2025, 1, 2), currency="CNY", rounding="HALF_UP", **kwargs
        )


def test_bad_spans() -> None:
    with pytest.raises(InvalidInput):
        interest_for_span(
            D(1),
            day(2025, 1, 2),
            day(2025, 1, 1),
            currency="CNY",
            rounding="UP",
            daily_rate=D("0.001"),
        )
    with pytest.raises(InvalidInput):
        interest_for_balances(
            [(day(2025, 1, 1), D("-1"))],
            day(2025, 2, 1),
            currency="CNY",
            rounding="UP",
            daily_rate=D("0.001"),
        )
    with pytest.raises(InvalidInput):
        interest_for_balances(
            [(day(2025, 1, 5), D(1)), (day(2025, 1, 1), D(1))],
            day(2025, 2, 1),
            currency="CNY",
            rounding="UP",
            daily_rate=D("0.001"),
        )


# -- review -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ([(dt.date(2024, 1, 1), 100), 5], "changes[1]"),
        ([(dt.date(2024, 1, 1), 100), (dt.datetime(2024, 2, 1), 100)], "changes[1].date"),
        ([(dt.date(2024, 1, 1), 100), (None, 100)], "changes[1].date"),
    ],
)
def test_a_bad_later_change_is_named(changes, field) -> None:
    # Found in review: a malformed next pair escaped as TypeError ('int' object is not
    # subscriptable; can't compare datetime to date) while the previous span was computed.
    with pytest.raises(InvalidInput) as caught:
        interest_for_balances(
            changes, dt.date(2024, 3, 1), currency="CNY", rounding="HALF_UP", daily_rate="0.0005"
        )
    assert caught.value.field == field


def test_unknown_day_count_names_the_day_count_argument() -> None:
    with pytest.raises(InvalidInput) as caught:
        interest_for_span(
            100,
            dt.date(2024, 1, 1),
            dt.date(2024, 2, 1),
            currency="CNY",
            rounding="HALF_UP",
            annual_rate="0.1",
            day_count="ACT/999",
        )
    assert caught.value.field == "day_count"


def test_revolving_interest_does_not_depend_on_the_callers_decimal_context() -> None:
    # Found in review: prec=6 turned 191,358.02 into 191,358 (the final scaleb ran in the
    # caller's context).
    assert_context_independent(
        lambda: (
            interest_for_span(
                D("12345678.91"),
                dt.date(2024, 1, 1),
                dt.date(2024, 2, 1),
                currency="CNY",
                rounding="HALF_UP",
                annual_rate="0.18",
                day_count="ACT/360",
            ),
            interest_for_balances(
                [(dt.date(2024, 1, 1), D("12345678.91"))],
                dt.date(2024, 3, 1),
                currency="KWD",
                rounding="HALF_EVEN",
                daily_rate="0.0005",
            ),
        )
    )


# -- issue 10: bounded inputs, no ignored arguments ---------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"balance": D("1E+999999")}, "balance"),
        ({"balance": D("1E-999999")}, "balance"),
        ({"balance": D("100.001")}, "balance"),
        ({"daily_rate": D("1E-999999")}, "daily_rate"),
        ({"daily_rate": None, "annual_rate": D("1E-60"), "day_count": "ACT/360"}, "annual_rate"),
    ],
)
def test_out_of_range_amounts_and_rates_are_refused_quickly(overrides: dict, field: str) -> None:
    # Found in review: a balance of 1E+999999 took 14 seconds.
    args = {"balance": D("100"), "daily_rate": D("0.0005")} | overrides
    balance = args.pop("balance")
    with pytest.raises(InvalidInput) as caught:
        interest_for_span(
            balance, day(2025, 1, 1), day(2025, 2, 1), currency="CNY", rounding="HALF_UP", **args
        )
    assert caught.value.field == field


def test_a_day_count_given_with_a_daily_rate_is_refused_not_ignored() -> None:
    for call in (
        lambda: interest_for_span(
            D("100"), day(2025, 1, 1), day(2025, 2, 1), currency="CNY", rounding="HALF_UP",
            daily_rate=D("0.0005"), day_count="ACT/360",
        ),
        lambda: interest_for_balances(
            [(day(2025, 1, 1), D("100"))], day(2025, 2, 1), currency="CNY", rounding="HALF_UP",
            daily_rate=D("0.0005"), day_count="ACT/365F",
        ),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == "day_count"


@pytest.mark.parametrize("value", [dt.datetime(2025, 1, 1, 9), dt.date(1899, 12, 31)])
def test_revolving_dates_are_plain_dates_in_range(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        interest_for_span(
            D("100"), value, day(2025, 2, 1), currency="CNY", rounding="HALF_UP",  # type: ignore[arg-type]
            daily_rate=D("0.0005"),
        )  # fmt: skip
    assert caught.value.field == "start"
