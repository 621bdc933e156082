"""Business calendars: China's published calendar, T+N and roll rules, properties, bad inputs."""

from __future__ import annotations

import datetime
import pickle
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.calendars import (
    calendar_from_csv,
    calendar_from_holidays,
    china_calendar,
    china_published_years,
)
from loancore.calendar import CALENDAR_YEARS_MAX, BusinessCalendar, Roll
from loancore.errors import CalendarOutOfRange, InvalidInput
from loancore.testing.calendars import business_calendars, calendar_dates, roll_conventions

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
CN_NOTICES = Path(__file__).parent / "data" / "calendar_cn_2024_2026.csv"


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    return china_calendar()


# -- China: the examples the issue requires, and the 2024-2026 notices ---------------------------


def test_t_plus_1_after_national_day_eve_is_october_9(china: BusinessCalendar) -> None:
    assert china.add_business_days(D(2025, 9, 30), 1) == D(2025, 10, 9)


def test_t_plus_1_from_friday_can_be_a_make_up_sunday(china: BusinessCalendar) -> None:
    assert china.add_business_days(D(2025, 9, 26), 1) == D(2025, 9, 28)
    assert china.is_business_day(D(2025, 9, 28))  # Sunday, 调休上班
    assert not china.is_business_day(D(2025, 9, 27))


@pytest.mark.parametrize(
    ("trade", "n", "settles"),
    [
        # Spring Festival 2024: 2-10..2-17 off, Sundays 2-4 and 2-18 worked; the eve (2-9) worked.
        (D(2024, 2, 2), 1, D(2024, 2, 4)),
        (D(2024, 2, 8), 1, D(2024, 2, 9)),
        (D(2024, 2, 9), 1, D(2024, 2, 18)),
        (D(2024, 2, 18), 1, D(2024, 2, 19)),
        # Spring Festival 2025: 1-28..2-4 off, Sunday 1-26 and Saturday 2-8 worked.
        (D(2025, 1, 24), 1, D(2025, 1, 26)),
        (D(2025, 1, 27), 1, D(2025, 2, 5)),
        (D(2025, 2, 7), 1, D(2025, 2, 8)),
        # Spring Festival 2026: 2-15..2-23 off, Saturdays 2-14 and 2-28 worked.
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        (D(2026, 2, 14), 1, D(2026, 2, 24)),
        (D(2026, 2, 27), 1, D(2026, 2, 28)),
        # National Day 2024: 10-1..10-7 off, Sunday 9-29 and Saturday 10-12 worked.
        (D(2024, 9, 27), 1, D(2024, 9, 29)),
        (D(2024, 9, 30), 1, D(2024, 10, 8)),
        (D(2024, 10, 11), 1, D(2024, 10, 12)),
        # National Day 2026: 10-1..10-7 off, Sunday 9-20 and Saturday 10-10 worked.
        (D(2026, 9, 18), 1, D(2026, 9, 20)),
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        (D(2026, 9, 30), 3, D(2026, 10, 10)),
        # T+N over a holiday counts only business days; T-N walks back over it.
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        (D(2025, 10, 9), -1, D(2025, 9, 30)),
        (D(2025, 10, 5), -1, D(2025, 9, 30)),
        # T on a holiday: T+1 is the first business day after it; T+0 rolls following.
        (D(2025, 10, 3), 1, D(2025, 10, 9)),
        (D(2025, 10, 3), 0, D(2025, 10, 9)),
        (D(2025, 9, 30), 0, D(2025, 9, 30)),
    ],
)
def test_china_settlement_dates(
    china: BusinessCalendar, trade: datetime.date, n: int, settles: datetime.date
) -> None:
    assert china.add_business_days(trade, n) == settles


def _notice_days() -> tuple[set[datetime.date], set[datetime.date]]:
    holidays, workdays = set(), set()
    for line in CN_NOTICES.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", "date,")):
            continue
        day, kind, _ = line.split(",", 2)
        (holidays if kind == "holiday" else workdays).add(D.fromisoformat(day))
    return holidays, workdays


def test_china_calendar_matches_the_state_council_notices_day_by_day(
    china: BusinessCalendar,
) -> None:
    holidays, workdays = _notice_days()
    day = D(2024, 1, 1)
    for _ in range(3 * 366):
        if day.year > 2026:
            break
        expected = day in workdays or (day.weekday() < 5 and day not in holidays)
        assert china.is_business_day(day) == expected, day
        day += ONE_DAY


def test_bank_file_calendar_equals_china_calendar_for_its_years(china: BusinessCalendar) -> None:
    from_file = calendar_from_csv(CN_NOTICES, name="CN-file")
    assert (from_file.first_year, from_file.last_year) == (2024, 2026)
    day = D(2024, 1, 1)
    while day.year <= 2026:
        assert from_file.is_business_day(day) == china.is_business_day(day), day
        day += ONE_DAY


def test_china_rolls(china: BusinessCalendar) -> None:
    holiday = D(2025, 10, 1)
    assert china.roll(holiday, Roll.FOLLOWING) == D(2025, 10, 9)
    assert china.roll(holiday, "preceding") == D(2025, 9, 30)
    assert china.roll(holiday, Roll.MODIFIED_FOLLOWING) == D(2025, 10, 9)
    assert china.roll(holiday, Roll.MODIFIED_PRECEDING) == D(2025, 10, 9)
    assert china.roll(holiday, Roll.NONE) == holiday
    # Dragon Boat 2025: 5-31..6-2 off; following leaves May, so modified following goes back.
    assert china.roll(D(2025, 5, 31), Roll.MODIFIED_FOLLOWING) == D(2025, 5, 30)
    assert china.roll(D(2025, 5, 31), Roll.FOLLOWING) == D(2025, 6, 3)


def test_china_d_plus_n_with_roll(china: BusinessCalendar) -> None:
    assert china.add_calendar_days(D(2025, 9, 24), 7) == D(2025, 10, 1)
    assert china.add_calendar_days(D(2025, 9, 24), 7, roll=Roll.FOLLOWING) == D(2025, 10, 9)
    assert china.add_calendar_days(D(2025, 10, 8), -7, roll="preceding") == D(2025, 9, 30)


def test_china_published_years_are_the_ones_holidays_has_notices_for() -> None:
    first, last = china_published_years()
    assert first == 2001
    assert last >= 2026


def test_china_refuses_unpublished_years(china: BusinessCalendar) -> None:
    first, last = china_published_years()
    with pytest.raises(CalendarOutOfRange):
        china_calendar(last_year=last + 1)
    with pytest.raises(CalendarOutOfRange):
        china_calendar(first_year=first - 1)
    with pytest.raises(CalendarOutOfRange):
        china.is_business_day(D(last + 1, 1, 4))
    with pytest.raises(CalendarOutOfRange) as caught:
        china.add_business_days(D(last, 12, 31), 1)
    assert caught.value.calendar == "CN"
    with pytest.raises(CalendarOutOfRange):
        china.add_business_days(D(first, 1, 1), -1)


def test_china_sub_range_and_bad_years() -> None:
    short = china_calendar(2025, 2025)
    assert (short.first_year, short.last_year) == (2025, 2025)
    assert short.add_business_days(D(2025, 9, 30), 1) == D(2025, 10, 9)
    with pytest.raises(InvalidInput):
        china_calendar(2026, 2025)
    with pytest.raises(InvalidInput):
        china_calendar("2025", 2025)  # type: ignore[arg-type]


def test_calendar_from_holidays_for_another_country() -> None:
    us = calendar_from_holidays("US", range(2025, 2027))
    assert not us.is_business_day(D(2025, 7, 4))
    assert us.add_business_days(D(2025, 7, 3), 1) == D(2025, 7, 7)
    with pytest.raises(InvalidInput):
        calendar_from_holidays("US", [2025, 2027])
    with pytest.raises(InvalidInput):
        calendar_from_holidays("US", [])
    with pytest.raises(InvalidInput):
        calendar_from_holidays("XX", [2025])


# -- T+N and roll rules on a small hand-made calendar ---------------------------------------------


@pytest.fixture(scope="module")
def toy() -> BusinessCalendar:
    # 2025-11: Fri 14 is a holiday, Sat 15 a make-up working day.
    return BusinessCalendar.from_lists(
        "toy", holidays=[D(2025, 11, 14)], workdays=[D(2025, 11, 15)], first_year=2025,
        last_year=2025,
    )  # fmt: skip


def test_t_plus_n_counts_strictly_after_t(toy: BusinessCalendar) -> None:
    assert toy.add_business_days(D(2025, 11, 13), 1) == D(2025, 11, 15)
    assert toy.add_business_days(D(2025, 11, 13), 2) == D(2025, 11, 17)
    assert toy.add_business_days(D(2025, 11, 16), 1) == D(2025, 11, 17)  # T on a Sunday
    assert toy.add_business_days(D(2025, 11, 16), -1) == D(2025, 11, 15)
    assert toy.add_business_days(D(2025, 11, 14), 0) == D(2025, 11, 15)
    assert toy.next_business_day(D(2025, 11, 13)) == D(2025, 11, 15)
    assert toy.previous_business_day(D(2025, 11, 17)) == D(2025, 11, 15)
    assert toy.previous_business_day(D(2025, 11, 15)) == D(2025, 11, 13)


def test_business_days_between_counts_steps(toy: BusinessCalendar) -> None:
    assert toy.business_days_between(D(2025, 11, 13), D(2025, 11, 17)) == 2
    assert toy.business_days_between(D(2025, 11, 17), D(2025, 11, 13)) == -2
    assert toy.business_days_between(D(2025, 11, 16), D(2025, 11, 16)) == 0


def test_modified_rolls_at_the_edges_of_the_years() -> None:
    calendar = BusinessCalendar.from_lists(
        "edge", holidays=[D(2025, 1, 1), D(2025, 12, 31)], first_year=2025, last_year=2025
    )
    assert calendar.roll(D(2025, 12, 31), Roll.MODIFIED_FOLLOWING) == D(2025, 12, 30)
    assert calendar.roll(D(2025, 1, 1), Roll.MODIFIED_PRECEDING) == D(2025, 1, 2)
    with pytest.raises(CalendarOutOfRange):
        calendar.roll(D(2025, 12, 31), Roll.FOLLOWING)
    with pytest.raises(CalendarOutOfRange):
        calendar.roll(D(2025, 1, 1), Roll.PRECEDING)


def test_weekends_only_defaults() -> None:
    calendar = BusinessCalendar.weekends_only()
    assert (calendar.name, calendar.first_year, calendar.last_year) == ("weekends", 1900, 2199)
    assert calendar.add_business_days(D(2025, 11, 21), 1) == D(2025, 11, 24)
    assert calendar.covers(D(2199, 12, 31)) and not calendar.covers(D(2200, 1, 1))


def test_calendars_are_values() -> None:
    years = {"first_year": 2025, "last_year": 2025}
    one = BusinessCalendar.from_lists("a", holidays=[D(2025, 5, 1)], **years)
    two = BusinessCalendar.from_lists("a", holidays={D(2025, 5, 1)}, **years)
    assert one == two and hash(one) == hash(two)
    assert pickle.loads(pickle.dumps(one)) == one
    assert pickle.loads(pickle.dumps(one)).is_business_day(D(2025, 5, 2))
    more = attrs.evolve(one, holidays=one.holidays | {D(2025, 5, 2)})
    assert not more.is_business_day(D(2025, 5, 2)) and one.is_business_day(D(2025, 5, 2))
    assert "1 dates" in repr(one)


# -- joint calendars ----------------------------------------------------------------------------


def test_joint_calendar_settles_only_when_both_work(china: BusinessCalendar) -> None:
    # A partner bank that also closes on Friday 2025-09-26 and never works make-up weekends.
    bank = BusinessCalendar.from_lists(
        "bank", holidays=[D(2025, 9, 26), D(2025, 10, 1)], first_year=2020, last_year=2030
    )
    both = BusinessCalendar.joint([china, bank], name="CN+bank")
    assert (both.first_year, both.last_year) == (2020, china.last_year)
    assert not both.is_business_day(D(2025, 9, 28))  # China works this Sunday, the bank does not
    assert both.add_business_days(D(2025, 9, 25), 1) == D(2025, 9, 29)
    assert both.add_business_days(D(2025, 9, 30), 1) == D(2025, 10, 9)


@given(st.data(), business_calendars(), business_calendars())
def test_joint_calendar_business_days_are_business_days_of_every_member(data, one, two) -> None:
    try:
        both = BusinessCalendar.joint([one, two], name="both")
    except InvalidInput:  # the two weekends together cover the whole week
        return
    day = data.draw(calendar_dates(both))
    assert both.is_business_day(day) == (one.is_business_day(day) and two.is_business_day(day))


def test_joint_calendar_bad_inputs() -> None:
    early = BusinessCalendar.weekends_only(first_year=2000, last_year=2001)
    late = BusinessCalendar.weekends_only(first_year=2010, last_year=2011)
    for calendars in ([], [early, "CN"], [early, late]):
        with pytest.raises(InvalidInput) as caught:
            BusinessCalendar.joint(calendars, name="x")
        assert caught.value.field == "calendars"


# -- properties against a day-by-day model -------------------------------------------------------


def _model_add(calendar: BusinessCalendar, day: datetime.date, n: int) -> datetime.date | None:
    """Walk one day at a time (bounded); None when the walk leaves the covered years."""
    step = ONE_DAY if n >= 0 else -ONE_DAY
    remaining = abs(n)
    for _ in range(4 * 366):
        if n == 0 and calendar.is_business_day(day):
            return day
        if not calendar.covers(day + step):
            return None
        day += step
        if calendar.is_business_day(day):
            remaining -= 1
            if remaining <= 0 and n != 0:
                return day
    raise AssertionError("model walk exceeded its bound")


@given(st.data(), business_calendars(), st.integers(min_value=-30, max_value=30))
def test_add_business_days_agrees_with_a_day_by_day_walk(data, calendar, n: int) -> None:
    day = data.draw(calendar_dates(calendar))
    expected = _model_add(calendar, day, n)
    if expected is None:
        with pytest.raises(CalendarOutOfRange):
            calendar.add_business_days(day, n)
    else:
        assert calendar.add_business_days(day, n) == expected


@given(st.data(), business_calendars(), st.integers(min_value=-400, max_value=400))
def test_add_business_days_lands_on_a_business_day_and_between_inverts_it(
    data, calendar, n: int
) -> None:
    day = data.draw(calendar_dates(calendar))
    try:
        target = calendar.add_business_days(day, n)
    except CalendarOutOfRange:
        return
    assert calendar.is_business_day(target)
    if n != 0:
        assert calendar.business_days_between(day, target) == n
        assert (target > day) == (n > 0)


@given(st.data(), business_calendars())
def test_business_days_between_counts_business_days_after_start(data, calendar) -> None:
    start = data.draw(calendar_dates(calendar))
    end = data.draw(calendar_dates(calendar))
    low, high = min(start, end), max(start, end)
    count, day = 0, low
    for _ in range(4 * 366):
        if day >= high:
            break
        if start <= end:
            day += ONE_DAY
            count += calendar.is_business_day(day)
        else:
            count += calendar.is_business_day(day)
            day += ONE_DAY
    expected = count if start <= end else -count
    assert calendar.business_days_between(start, end) == expected


@given(st.data(), business_calendars(), roll_conventions())
def test_rolling_is_idempotent_and_lands_on_a_business_day(data, calendar, convention) -> None:
    day = data.draw(calendar_dates(calendar))
    try:
        rolled = calendar.roll(day, convention)
    except CalendarOutOfRange:
        return
    assert calendar.roll(rolled, convention) == rolled
    if convention is Roll.NONE:
        assert rolled == day
    else:
        assert calendar.is_business_day(rolled)
    if calendar.is_business_day(day):
        assert rolled == day


@given(st.data(), business_calendars(), st.integers(-60, 60), roll_conventions())
def test_d_plus_n_is_the_rolled_calendar_date(data, calendar, n: int, convention) -> None:
    day = data.draw(calendar_dates(calendar))
    target = day + datetime.timedelta(days=n)
    try:
        expected = calendar.roll(target, convention)
    except CalendarOutOfRange:
        with pytest.raises(CalendarOutOfRange):
            calendar.add_calendar_days(day, n, roll=convention)
        return
    assert calendar.add_calendar_days(day, n, roll=convention) == expected


# -- bad inputs ----------------------------------------------------------------------------------

BAD_DATES = [datetime.datetime(2025, 1, 2, 9, 30), None, 1.5, "2025-01-02", 20250102]


@pytest.mark.parametrize("bad", BAD_DATES, ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, b: c.is_business_day(b),
        lambda c, b: c.add_business_days(b, 1),
        lambda c, b: c.add_calendar_days(b, 1),
        lambda c, b: c.roll(b, Roll.FOLLOWING),
        lambda c, b: c.next_business_day(b),
        lambda c, b: c.previous_business_day(b),
        lambda c, b: c.business_days_between(b, D(2025, 1, 2)),
        lambda c, b: c.business_days_between(D(2025, 1, 2), b),
        lambda c, b: c.covers(b),
    ],
    ids=["is_business_day", "add_business_days", "add_calendar_days", "roll", "next", "previous",
         "between_start", "between_end", "covers"],
)  # fmt: skip
def test_non_dates_are_refused(toy: BusinessCalendar, call, bad) -> None:
    with pytest.raises(InvalidInput):
        call(toy, bad)


@pytest.mark.parametrize("bad", [1.0, True, None, "1", 2**0.5])
def test_day_counts_must_be_ints(toy: BusinessCalendar, bad) -> None:
    with pytest.raises(InvalidInput) as caught:
        toy.add_business_days(D(2025, 1, 2), bad)
    assert caught.value.field == "n"
    with pytest.raises(InvalidInput):
        toy.add_calendar_days(D(2025, 1, 2), bad)


@pytest.mark.parametrize("bad", ["follow", "", None, 1, "MODIFIED FOLLOWING"])
def test_unknown_roll_conventions_are_refused(toy: BusinessCalendar, bad) -> None:
    with pytest.raises(InvalidInput):
        toy.roll(D(2025, 1, 4), bad)
    with pytest.raises(InvalidInput):
        toy.add_calendar_days(D(2025, 1, 4), 1, roll=bad)


def test_roll_parses_values_case_insensitively() -> None:
    assert Roll.parse(" Modified_Following ") is Roll.MODIFIED_FOLLOWING


def test_dates_outside_the_years_are_refused(toy: BusinessCalendar) -> None:
    for call in (
        lambda: toy.is_business_day(D(2024, 12, 31)),
        lambda: toy.add_business_days(D(2026, 1, 1), -1),
        lambda: toy.roll(D(2026, 1, 3), Roll.PRECEDING),
        lambda: toy.business_days_between(D(2025, 1, 2), D(2026, 1, 2)),
        lambda: toy.add_calendar_days(D(2025, 12, 30), 5),
        lambda: toy.add_calendar_days(D(2025, 1, 2), -(10**6)),
        lambda: toy.add_business_days(D(2025, 12, 30), 10**9),
    ):
        with pytest.raises(CalendarOutOfRange):
            call()


def _build(**changes):
    arguments = {"name": "x", "holidays": [], "first_year": 2025, "last_year": 2025}
    arguments.update(changes)
    workdays = arguments.pop("workdays", ())
    return BusinessCalendar.from_lists(arguments.pop("name"), workdays=workdays, **arguments)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"holidays": "2025-01-01"}, "holidays"),
        ({"holidays": None}, "holidays"),
        ({"holidays": [datetime.datetime(2025, 1, 1)]}, "holidays"),
        ({"holidays": ["2025-01-01"]}, "holidays"),
        ({"workdays": [D(2025, 1, 6)]}, "extra_workdays"),  # a Monday
        ({"workdays": [D(2025, 1, 4)], "holidays": [D(2025, 1, 4)]}, "extra_workdays"),
        ({"weekend": {7}}, "weekend"),
        ({"weekend": set(range(7))}, "weekend"),
        ({"weekend": "56"}, "weekend"),
        ({"first_year": 2026}, "last_year"),
        ({"first_year": 2025.0}, "first_year"),
        ({"last_year": "2025"}, "last_year"),
        ({"first_year": 1}, "first_year"),
        ({"last_year": 9999}, "last_year"),
        ({"first_year": 1900, "last_year": 1900 + CALENDAR_YEARS_MAX}, "last_year"),
        ({"first_year": 1899}, "first_year"),
        ({"last_year": 3000}, "last_year"),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(changes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _build(**changes)
    assert caught.value.field == field


def test_other_weekends_are_supported() -> None:
    # A Friday-Saturday weekend with a make-up Friday.
    calendar = _build(weekend={4, 5}, workdays=[D(2025, 1, 3)])
    assert calendar.is_business_day(D(2025, 1, 5))  # Sunday
    assert calendar.is_business_day(D(2025, 1, 3))
    assert not calendar.is_business_day(D(2025, 1, 10))


# -- bank files ----------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "bank.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_bank_file_with_bom_comments_and_extra_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# our calendar\ndate,kind,name\n2025-10-01,holiday,National Day\n\n"
        "2025-09-28,Workday,调休\n",
        encoding="utf-8-sig",
    )
    calendar = calendar_from_csv(path, name="bank")
    assert not calendar.is_business_day(D(2025, 10, 1))
    assert calendar.is_business_day(D(2025, 9, 28))
    wider = calendar_from_csv(path, name="bank", first_year=2024, last_year=2026)
    assert wider.covers(D(2024, 1, 1))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("day,type\n2025-10-01,holiday\n", "path"),
        ("", "path"),
        ("date,kind\n", "path"),
        ("date,kind\n2025-13-01,holiday\n", "bank.csv:row 1.date"),
        ("date,kind\n2025-10-01,holiday\n2025-10-02,day off\n", "bank.csv:row 2.kind"),
        ("date,kind\n2025-10-06,workday\n", "extra_workdays"),
        ("date,kind\n2025-10-04,workday\n2025-10-04,holiday\n", "extra_workdays"),
    ],
)
def test_malformed_bank_files_are_refused_naming_the_row(tmp_path: Path, text, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        calendar_from_csv(_write(tmp_path, text), name="bank")
    assert caught.value.field == field


def test_missing_bank_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        calendar_from_csv(tmp_path / "missing.csv", name="bank")


def test_a_bank_file_that_is_not_utf8_names_the_path(tmp_path: Path) -> None:
    # Found in review: a UTF-16 export escaped as UnicodeDecodeError from csv's reader.
    path = tmp_path / "bank.csv"
    path.write_bytes("date,kind\n2025-10-01,holiday\n".encode("utf-16"))
    with pytest.raises(InvalidInput) as caught:
        calendar_from_csv(path, name="bank")
    assert caught.value.field == "path"


def test_a_bank_file_path_must_be_a_path() -> None:
    with pytest.raises(InvalidInput):
        calendar_from_csv(None, name="bank")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [D(1899, 12, 31), D(3000, 1, 1)])
def test_dates_outside_the_accepted_range_are_invalid_input(bad: datetime.date) -> None:
    # loancore.checks.require_date: one date rule (1900-01-01..2999-12-31) for every area.
    calendar = BusinessCalendar.weekends_only(first_year=1900, last_year=2899)
    with pytest.raises(InvalidInput) as caught:
        calendar.is_business_day(bad)
    assert caught.value.field == "d"
    with pytest.raises(InvalidInput) as caught:
        _build(holidays=[bad])
    assert caught.value.field == "holidays"
