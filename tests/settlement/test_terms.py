"""Settlement dates (T+N, D+N, weekly, monthly, cut-off, channel calendars) and service fees."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from settlement_support import at, fee_0_6pct, t1

from loancore.calendar import BusinessCalendar, Roll
from loancore.errors import CalendarOutOfRange, FloatNotAllowed, InvalidInput
from loancore.money import Rounding
from loancore.settlement import (
    Cadence,
    MerchantTerms,
    ServiceFee,
    SettlementSchedule,
    effective_date,
)
from loancore.testing.calendars import business_calendars
from loancore.testing.settlement import cny, service_fees

D = datetime.date


def test_capture_on_30_september_settles_t1_on_9_october(cn: BusinessCalendar) -> None:
    assert t1("M1").settlement_date(at(2025, 9, 30), cn) == D(2025, 10, 9)


def test_capture_during_national_day_settles_on_9_october(cn: BusinessCalendar) -> None:
    assert t1("M1").settlement_date(at(2025, 10, 3), cn) == D(2025, 10, 9)


def test_make_up_sunday_is_a_settlement_day_on_china_calendar(cn: BusinessCalendar) -> None:
    assert t1("M1").settlement_date(at(2025, 9, 26), cn) == D(2025, 9, 28)


def test_channel_closing_make_up_days_settles_friday_on_monday(
    closed_makeup: BusinessCalendar,
) -> None:
    assert not closed_makeup.is_business_day(D(2025, 9, 28))
    assert t1("M1").settlement_date(at(2025, 9, 26), closed_makeup) == D(2025, 9, 29)


def test_capture_at_cutoff_counts_as_next_day(cn: BusinessCalendar) -> None:
    terms = t1("M1", cutoff=datetime.time(22, 0))
    assert terms.settlement_date(at(2025, 9, 25, 21, 59), cn) == D(2025, 9, 26)
    assert terms.settlement_date(at(2025, 9, 25, 22, 0), cn) == D(2025, 9, 28)
    # After the cut-off on Friday 26 Sep: counts for Saturday 27, T+1 is the make-up Sunday 28.
    assert terms.settlement_date(at(2025, 9, 26, 23, 0), cn) == D(2025, 9, 28)


def test_effective_date_refuses_aware_and_date_values() -> None:
    with pytest.raises(InvalidInput, match="captured_at"):
        effective_date(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC), None)
    with pytest.raises(InvalidInput, match="captured_at"):
        effective_date(D(2025, 1, 1), None)  # type: ignore[arg-type]


def test_d_plus_n_rolls_following_by_default(cn: BusinessCalendar) -> None:
    schedule = SettlementSchedule.d_plus(7)
    assert schedule.settlement_date(D(2025, 9, 24), cn) == D(2025, 10, 9)
    unrolled = SettlementSchedule.d_plus(7, roll=Roll.NONE)
    assert unrolled.settlement_date(D(2025, 9, 24), cn) == D(2025, 10, 1)


def test_weekly_pays_the_prior_week_on_the_weekday_rolled(cn: BusinessCalendar) -> None:
    tuesday = SettlementSchedule.weekly(1)
    # Week of Mon 22 Sep .. Sun 28 Sep pays Tue 30 Sep.
    assert tuesday.settlement_date(D(2025, 9, 22), cn) == D(2025, 9, 30)
    assert tuesday.settlement_date(D(2025, 9, 28), cn) == D(2025, 9, 30)
    # Week of 29 Sep pays Tue 7 Oct, a holiday: rolled following to 9 Oct.
    assert tuesday.settlement_date(D(2025, 10, 1), cn) == D(2025, 10, 9)


def test_monthly_pays_the_prior_month_on_the_nth_business_day(cn: BusinessCalendar) -> None:
    third = SettlementSchedule.monthly(3)
    # October 2025: 1-8 off, so the business days are 9, 10, 11 (a make-up Saturday).
    assert third.settlement_date(D(2025, 9, 15), cn) == D(2025, 10, 11)
    # January 2026: 1-3 off, Sunday 4 worked (调休), so the third business day is Tuesday 6.
    assert third.settlement_date(D(2025, 12, 31), cn) == D(2026, 1, 6)


def test_settlement_past_the_calendar_years_is_refused(cn: BusinessCalendar) -> None:
    with pytest.raises(CalendarOutOfRange):
        SettlementSchedule.t_plus(1).settlement_date(D(2026, 12, 31), cn)


@pytest.mark.parametrize(
    ("field", "build"),
    [
        ("lag_days", lambda: SettlementSchedule.t_plus(-1)),
        ("lag_days", lambda: SettlementSchedule.t_plus(True)),
        ("weekday", lambda: SettlementSchedule.weekly(7)),
        ("business_day_nth", lambda: SettlementSchedule.monthly(0)),
        ("roll", lambda: SettlementSchedule.d_plus(1, roll="sideways")),
        ("rate", lambda: ServiceFee(rate="1.5", rounding="HALF_UP", fee_min=cny(0))),
        ("rate", lambda: ServiceFee(rate="-0.01", rounding="HALF_UP", fee_min=cny(0))),
        ("rounding", lambda: ServiceFee(rate="0.01", rounding="NEAREST", fee_min=cny(0))),
        ("fee_max", lambda: ServiceFee(rate="0", rounding="UP", fee_min=cny(5), fee_max=cny(4))),
        ("fee_min", lambda: ServiceFee(rate="0", rounding="UP", fee_min=cny(-1))),
        ("merchant_id", lambda: t1("")),
        ("cutoff", lambda: t1("M", cutoff="22:00")),
    ],
)
def test_bad_terms_name_the_field(field: str, build: object) -> None:
    with pytest.raises(InvalidInput) as raised:
        build()  # type: ignore[operator]
    assert raised.value.field == field


def test_fee_rate_refuses_float() -> None:
    with pytest.raises(FloatNotAllowed):
        ServiceFee(rate=0.006, rounding="HALF_UP", fee_min=cny(0))


def test_fee_is_rounded_once_with_the_named_mode() -> None:
    # 0.6% of 12.25 is 0.0735: HALF_UP 0.07, UP 0.08, DOWN 0.07.
    assert fee_0_6pct().of(cny(1225)) == cny(7)
    up = ServiceFee(rate="0.006", rounding=Rounding.UP, fee_min=cny(0))
    assert up.of(cny(1225)) == cny(8)
    # 0.6% of 0.75 is 0.0045: HALF_UP 0.00 (one rounding), never 0.005 -> 0.01 (two roundings).
    assert fee_0_6pct().of(cny(75)) == cny(0)


def test_fee_minimum_maximum_and_order_cap() -> None:
    fee = fee_0_6pct(fee_min=100, fee_max=2_000)
    assert fee.of(cny(10_000)) == cny(100)  # 0.60 raised to the 1.00 minimum
    assert fee.of(cny(1_000_000)) == cny(2_000)  # 60.00 capped at 20.00
    assert fee.of(cny(50)) == cny(50)  # the minimum never exceeds the order
    assert fee.minor(200_000) == 1_200


@given(service_fees(), st.integers(0, 10**12))
def test_fee_respects_minimum_maximum_and_order(fee: ServiceFee, minor: int) -> None:
    charged = fee.minor(minor)
    assert 0 <= charged <= minor
    if minor >= fee.fee_min.minor_units:
        assert charged >= fee.fee_min.minor_units
    if fee.fee_max is not None:
        assert charged <= fee.fee_max.minor_units
    exact = Decimal(minor) * fee.rate
    lower = max(fee.fee_min.minor_units, 0)
    upper = fee.fee_max.minor_units if fee.fee_max is not None else None
    if lower <= exact - 1 and (upper is None or exact + 1 <= upper) and exact + 1 <= minor:
        assert abs(charged - exact) < 1  # inside the bounds: the rate, rounded once


def test_terms_currency_is_the_fees() -> None:
    terms = MerchantTerms(merchant_id="M", schedule=SettlementSchedule.t_plus(0), fee=fee_0_6pct())
    assert terms.currency == "CNY"


@given(
    st.data(),
    business_calendars(first_year=2020, years_max=3, holidays_max=40),
    st.sampled_from(
        [
            SettlementSchedule.t_plus(0),
            SettlementSchedule.t_plus(1),
            SettlementSchedule.t_plus(3),
            SettlementSchedule.d_plus(2),
            SettlementSchedule.weekly(2),
            SettlementSchedule.monthly(2),
        ]
    ),
)
def test_every_schedule_settles_on_a_business_day_not_before_the_capture(
    data: st.DataObject, calendar: BusinessCalendar, schedule: SettlementSchedule
) -> None:
    day = data.draw(st.dates(D(2020, 1, 1), D(2020, 10, 31)))
    try:
        paid = schedule.settlement_date(day, calendar)
    except (CalendarOutOfRange, InvalidInput):
        return  # past the generated years, or a month with too few business days
    assert calendar.is_business_day(paid)
    assert paid >= day
    if schedule.cadence is Cadence.T_PLUS and schedule.lag_days > 0:
        assert calendar.business_days_between(day, paid) == schedule.lag_days
    if schedule.cadence is Cadence.D_PLUS:  # rolled following: never before D+N
        assert paid >= day + datetime.timedelta(days=schedule.lag_days)
    if schedule.cadence in (Cadence.WEEKLY, Cadence.MONTHLY):  # paid for a period that ended
        assert (paid.isocalendar()[:2] > day.isocalendar()[:2]) or (paid.year, paid.month) > (
            day.year,
            day.month,
        )
