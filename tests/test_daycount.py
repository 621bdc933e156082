"""Day counts: published reference cases, properties of each convention, and bad inputs."""

from __future__ import annotations

import csv
import datetime
import decimal
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from loancore.daycount import (
    DAY_COUNT_ALIASES,
    YEAR_FRACTION_DIGITS,
    DayCount,
    day_count,
    year_fraction,
    year_fraction_ratio,
)
from loancore.errors import InvalidInput
from loancore.testing.calendars import day_count_conventions

D = datetime.date
REFERENCE = Path(__file__).parent / "data" / "daycount_reference.csv"
ACTUAL_ADDITIVE = [
    DayCount.ACT_360,
    DayCount.ACT_365F,
    DayCount.ACT_365_25,
    DayCount.ACT_366,
    DayCount.ACT_ACT_ISDA,
]
THIRTY = [
    DayCount.THIRTY_360_US,
    DayCount.THIRTY_360_BOND,
    DayCount.THIRTY_E_360,
    DayCount.THIRTY_E_360_ISDA,
    DayCount.THIRTY_365,
]
dates = st.dates(D(1950, 1, 1), D(2150, 12, 31))


def _reference_rows() -> list[dict[str, str]]:
    with REFERENCE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _optional_date(text: str) -> datetime.date | None:
    return D.fromisoformat(text) if text else None


@pytest.mark.parametrize(
    "row",
    _reference_rows(),
    ids=lambda r: f"{r['convention']}:{r['start']}..{r['end']}",
)
def test_reference_cases_match_their_published_values(row: dict[str, str]) -> None:
    start, end = D.fromisoformat(row["start"]), D.fromisoformat(row["end"])
    termination = _optional_date(row["termination"])
    ratio = year_fraction_ratio(start, end, row["convention"], termination=termination)
    assert abs(ratio - Fraction(row["expected_fraction"])) <= Fraction(row["tolerance"]), row
    if row["expected_days"]:
        days = day_count(start, end, row["convention"], termination=termination)
        assert days == int(row["expected_days"]), row


def test_reference_file_covers_every_convention_and_names_sources() -> None:
    rows = _reference_rows()
    assert {DayCount.parse(r["convention"]) for r in rows} == set(DayCount)
    assert all(r["source"].strip() for r in rows)


# -- worked examples from docs/dates.md ---------------------------------------------------------


def test_act_360_quarter_is_exact() -> None:
    assert year_fraction(D(2025, 1, 1), D(2025, 4, 1), "ACT/360") == Decimal("0.25")
    assert day_count(D(2025, 1, 1), D(2025, 4, 1), DayCount.ACT_360) == 90


def test_act_act_isda_splits_at_new_year() -> None:
    ratio = year_fraction_ratio(D(2023, 12, 1), D(2024, 3, 1), DayCount.ACT_ACT_ISDA)
    assert ratio == Fraction(31, 365) + Fraction(60, 366)


def test_thirty_360_us_february_end_rules() -> None:
    # Both ends on the last day of February: both become the 30th.
    assert day_count(D(2011, 2, 28), D(2012, 2, 29), "30/360 US") == 360
    # Start on the last day of February (30th), end on the 31st (30th as well).
    assert day_count(D(2012, 2, 29), D(2012, 3, 31), "30/360 US") == 30
    # The bond basis has no February rule.
    assert day_count(D(2012, 2, 29), D(2012, 3, 31), "30/360 BOND") == 32


def test_thirty_e_360_isda_keeps_february_end_only_on_termination() -> None:
    start, end = D(2011, 8, 31), D(2012, 2, 29)
    assert day_count(start, end, "30E/360 ISDA", termination=end) == 179
    assert day_count(start, end, "30E/360 ISDA", termination=D(2013, 2, 28)) == 180


def test_empty_period_on_a_february_termination_is_zero() -> None:
    # Taken literally, 4.16(h) makes D1 = 30 and keeps D2 = 28: -2 days for an empty period.
    end = D(2001, 2, 28)
    assert day_count(end, end, "30E/360 ISDA", termination=end) == 0
    assert year_fraction(end, end, "30E/360 ISDA", termination=end) == 0


def test_act_act_afb_counts_whole_years_back_from_the_end() -> None:
    # The FBF example: 10 Feb 1994 to 30 Jun 1997 is 3 years plus 140 days over 365.
    ratio = year_fraction_ratio(D(1994, 2, 10), D(1997, 6, 30), DayCount.ACT_ACT_AFB)
    assert ratio == 3 + Fraction(140, 365)


# -- properties ---------------------------------------------------------------------------------


@given(st.sampled_from(ACTUAL_ADDITIVE), dates, dates, dates)
def test_actual_year_fractions_add_across_a_split_point(
    convention: DayCount, a: datetime.date, b: datetime.date, c: datetime.date
) -> None:
    a, b, c = sorted((a, b, c))
    whole = year_fraction_ratio(a, c, convention)
    assert year_fraction_ratio(a, b, convention) + year_fraction_ratio(b, c, convention) == whole


@given(
    st.sampled_from(THIRTY),
    st.integers(min_value=1950, max_value=2150),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=27),
    st.integers(min_value=0, max_value=600),
)
def test_thirty_day_counts_are_thirty_per_month_between_same_days(
    convention: DayCount, year: int, month: int, day: int, months: int
) -> None:
    start = D(year, month, day)
    total = (month - 1) + months
    end = D(year + total // 12, total % 12 + 1, day)
    termination = end if convention is DayCount.THIRTY_E_360_ISDA else None
    assert day_count(start, end, convention, termination=termination) == 30 * months


LONG_MONTHS = [1, 3, 5, 7, 8, 10, 12]


@given(
    st.sampled_from([DayCount.THIRTY_360_BOND, DayCount.THIRTY_E_360]),
    st.integers(min_value=1950, max_value=2150),
    st.sampled_from(LONG_MONTHS),
    st.integers(min_value=0, max_value=50),
    st.sampled_from(LONG_MONTHS),
)
def test_thirty_31st_counts_as_30th_between_month_ends(
    convention: DayCount, year: int, month: int, years: int, end_month: int
) -> None:
    start, end = D(year, month, 31), D(year + years, end_month, 31)
    assume(start <= end)
    months = years * 12 + end_month - month
    assert day_count(start, end, convention) == 30 * months


@given(day_count_conventions(), dates, dates)
def test_year_fraction_is_antisymmetric(
    convention: DayCount, a: datetime.date, b: datetime.date
) -> None:
    termination = max(a, b) if convention is DayCount.THIRTY_E_360_ISDA else None
    forward = year_fraction(a, b, convention, termination=termination)
    backward = year_fraction(b, a, convention, termination=termination)
    assert forward == -backward
    assert day_count(a, b, convention, termination=termination) == -day_count(
        b, a, convention, termination=termination
    )


@given(day_count_conventions(), dates)
def test_year_fraction_of_an_empty_period_is_zero(convention: DayCount, a: datetime.date) -> None:
    assert year_fraction(a, a, convention, termination=a) == 0
    assert day_count(a, a, convention, termination=a) == 0


@given(day_count_conventions(termination_free=True), dates, dates)
def test_decimal_year_fraction_is_the_ratio_correctly_rounded(
    convention: DayCount, a: datetime.date, b: datetime.date
) -> None:
    ratio = year_fraction_ratio(a, b, convention)
    context = decimal.Context(prec=YEAR_FRACTION_DIGITS, rounding=decimal.ROUND_HALF_EVEN)
    expected = context.divide(Decimal(ratio.numerator), Decimal(ratio.denominator))
    assert year_fraction(a, b, convention) == expected


@given(day_count_conventions(termination_free=True), dates, dates)
def test_actual_conventions_count_actual_days(
    convention: DayCount, a: datetime.date, b: datetime.date
) -> None:
    assume(convention not in THIRTY)
    assert day_count(a, b, convention) == (b - a).days


def test_year_fraction_ignores_the_callers_decimal_context() -> None:
    start, end = D(2025, 1, 1), D(2025, 2, 1)
    expected = year_fraction(start, end, "ACT/365F")
    with decimal.localcontext() as context:
        context.prec = 4
        context.rounding = decimal.ROUND_DOWN
        assert year_fraction(start, end, "ACT/365F") == expected
    assert len(expected.as_tuple().digits) == YEAR_FRACTION_DIGITS


@given(dates)
def test_act_act_isda_calendar_year_is_one(a: datetime.date) -> None:
    assert year_fraction(D(a.year, 1, 1), D(a.year + 1, 1, 1), "ACT/ACT ISDA") == 1


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", list(DayCount))
def test_each_convention_parses_from_its_value_and_itself(member: DayCount) -> None:
    assert DayCount.parse(member) is member
    assert DayCount.parse(member.value) is member
    assert DayCount(member.value.lower()) is member


@pytest.mark.parametrize(("alias", "member"), sorted(DAY_COUNT_ALIASES.items()))
def test_aliases_name_their_convention(alias: str, member: DayCount) -> None:
    assert DayCount.parse(alias) is member
    assert DayCount.parse(f"  {alias.lower()} ") is member


@pytest.mark.parametrize(
    ("spelling", "member"),
    [
        ("Actual/360", DayCount.ACT_360),
        ("Actual/365 (Fixed)", DayCount.ACT_365F),
        ("ACT/365", DayCount.ACT_365F),
        ("Act/Act (ISDA)", DayCount.ACT_ACT_ISDA),
        ("30/360", DayCount.THIRTY_360_BOND),
        ("30E/360 (ISDA)", DayCount.THIRTY_E_360_ISDA),
    ],
)
def test_common_contract_spellings_parse(spelling: str, member: DayCount) -> None:
    assert DayCount.parse(spelling) is member
    assert year_fraction(D(2025, 1, 1), D(2025, 1, 2), spelling, termination=D(2025, 1, 2)) > 0


# -- bad inputs -----------------------------------------------------------------------------------

BAD_DATES = [
    datetime.datetime(2025, 1, 1, 12, 0),
    1.5,
    None,
    "2025-01-01",
    20250101,
]


@pytest.mark.parametrize("function", [day_count, year_fraction, year_fraction_ratio])
@pytest.mark.parametrize("bad", BAD_DATES, ids=repr)
@pytest.mark.parametrize("field", ["start", "end", "termination"])
def test_non_dates_are_refused_naming_the_field(function, bad, field: str) -> None:
    arguments = {"start": D(2025, 1, 1), "end": D(2025, 2, 1), "termination": D(2025, 3, 1)}
    arguments[field] = bad
    if field == "termination" and bad is None:
        return  # None is the documented "no termination date"
    with pytest.raises(InvalidInput) as caught:
        function(
            arguments["start"], arguments["end"], "ACT/360", termination=arguments["termination"]
        )
    assert caught.value.field == field


@pytest.mark.parametrize("function", [day_count, year_fraction, year_fraction_ratio])
@pytest.mark.parametrize(
    "bad",
    # "30/360 ISDA" and "30/360 ISMA" name different rules in different libraries: refused.
    ["ACT/364", "", "30/360 XX", "30/360 ISDA", "30/360 ISMA", 360, 1.0, None, DayCount],
    ids=repr,
)
def test_unknown_conventions_are_refused(function, bad) -> None:
    with pytest.raises(InvalidInput) as caught:
        function(D(2025, 1, 1), D(2025, 2, 1), bad)
    assert caught.value.field == "convention"


def test_enum_lookup_of_an_unknown_name_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        DayCount("ACT/364")


@pytest.mark.parametrize("function", [day_count, year_fraction, year_fraction_ratio])
def test_thirty_e_360_isda_needs_a_termination_date(function) -> None:
    with pytest.raises(InvalidInput, match="termination") as caught:
        function(D(2025, 1, 31), D(2025, 2, 28), "30E/360 ISDA")
    assert caught.value.field == "termination"


@pytest.mark.parametrize("function", [day_count, year_fraction, year_fraction_ratio])
def test_a_termination_before_the_period_counts_as_an_ordinary_end(function) -> None:
    # issue 10: QuantLib and OpenGamma accept any termination date; it only matters on D2.
    early = function(D(2025, 1, 31), D(2025, 2, 28), "30E/360 ISDA", termination=D(2025, 2, 27))
    late = function(D(2025, 1, 31), D(2025, 2, 28), "30E/360 ISDA", termination=D(2030, 2, 28))
    assert early == late
    assert function(D(2025, 2, 28), D(2025, 1, 31), "ACT/360", termination=D(2025, 2, 1)) == (
        function(D(2025, 2, 28), D(2025, 1, 31), "ACT/360")
    )


def test_errors_are_value_errors_for_callers_that_catch_builtins() -> None:
    with pytest.raises(ValueError):
        year_fraction(D(2025, 1, 1), None, "ACT/360")  # type: ignore[arg-type]


# -- issue 10: termination before the period's end; dates in range -----------------------------


def test_a_termination_before_the_period_end_is_accepted_and_only_matters_on_it() -> None:
    # QuantLib and OpenGamma accept any termination date: 4.16(h) only asks whether D2 is it.
    start, end = datetime.date(2024, 1, 31), datetime.date(2024, 2, 29)
    early = datetime.date(2024, 2, 15)
    assert day_count(start, end, "30E/360 ISDA", termination=early) == 30
    assert day_count(start, end, "30E/360 ISDA", termination=end) == 29
    assert year_fraction(start, end, "ACT/360", termination=early) == year_fraction(
        start, end, "ACT/360"
    )


@pytest.mark.parametrize("value", [datetime.date(1899, 12, 31), datetime.date(3000, 1, 1)])
def test_dates_outside_the_accepted_range_are_refused(value: datetime.date) -> None:
    with pytest.raises(InvalidInput) as caught:
        day_count(value, datetime.date(2025, 1, 1), "ACT/360")
    assert caught.value.field == "start"
    with pytest.raises(InvalidInput) as caught:
        year_fraction(
            datetime.date(2025, 1, 1), datetime.date(2025, 2, 1), "ACT/360", termination=value
        )
    assert caught.value.field == "termination"
