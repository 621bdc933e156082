"""Business calendars and day counts: T+N settlement dates and year fractions per second.

Keys:

- ``calendar_add_business_days_per_s``: T+1 on China's calendar (``china_calendar()``) for
  trade dates spread over 2024-2026, one call each.
- ``calendar_add_business_days_t30_per_s``: the same with N=30 (the index makes it cost what
  T+1 costs).
- ``calendar_is_business_day_per_s``: ``is_business_day`` over the same dates.
- ``holidays_nth_working_day_per_s``: the peer, ``holidays.China().get_nth_working_day(d, 1)``
  on the same dates (``holidays`` walks day by day and looks each day up).
- ``calendar_vs_holidays_t1_ratio``: loancore's T+1 rate over the peer's.
- ``calendar_china_build_ms``: building China's calendar for every published year (uncached).
- ``year_fraction_per_s``: ``year_fraction(start, end, "ACT/360")`` returning a Decimal.
- ``year_fraction_act_act_isda_per_s`` and ``year_fraction_30e_360_isda_per_s``: the two
  conventions with the most rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import holidays

from loancore.adapters import calendars as calendar_adapters
from loancore.daycount import DayCount, year_fraction

START = date(2024, 1, 1)
DAYS = 3 * 365 - 60  # leaves room for T+30 (about six weeks) inside 2026
SECONDS = 1.0


def _rate(work: Callable[[], int], seconds: float = SECONDS) -> float:
    """Calls per second of ``work`` (which returns how many calls it made), best of 3 rounds."""
    best = 0.0
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            calls += work()
        best = max(best, calls / (time.perf_counter() - started))
    return best


def _trade_dates() -> list[date]:
    return [START + timedelta(days=(i * 7919) % DAYS) for i in range(1_000)]


def _calendar_figures() -> dict[str, float]:
    china = calendar_adapters.china_calendar()
    peer = holidays.China(years=range(2024, 2028))
    days = _trade_dates()

    def t1() -> int:
        for d in days:
            china.add_business_days(d, 1)
        return len(days)

    def t30() -> int:
        for d in days:
            china.add_business_days(d, 30)
        return len(days)

    def is_business() -> int:
        for d in days:
            china.is_business_day(d)
        return len(days)

    def peer_t1() -> int:
        for d in days:
            peer.get_nth_working_day(d, 1)
        return len(days)

    ours, theirs = _rate(t1), _rate(peer_t1)
    started = time.perf_counter()
    calendar_adapters._china_calendar.__wrapped__(*calendar_adapters.china_published_years())
    build_ms = (time.perf_counter() - started) * 1000
    return {
        "calendar_add_business_days_per_s": ours,
        "calendar_add_business_days_t30_per_s": _rate(t30),
        "calendar_is_business_day_per_s": _rate(is_business),
        "holidays_nth_working_day_per_s": theirs,
        "calendar_vs_holidays_t1_ratio": ours / theirs,
        "calendar_china_build_ms": build_ms,
    }


def _year_fraction_rate(convention: DayCount) -> float:
    pairs = [(d, d + timedelta(days=30 + i % 400)) for i, d in enumerate(_trade_dates())]

    def work() -> int:
        for start, end in pairs:
            year_fraction(start, end, convention, termination=end)
        return len(pairs)

    return _rate(work)


def run() -> dict[str, float]:
    figures = _calendar_figures()
    figures["year_fraction_per_s"] = _year_fraction_rate(DayCount.ACT_360)
    figures["year_fraction_act_act_isda_per_s"] = _year_fraction_rate(DayCount.ACT_ACT_ISDA)
    figures["year_fraction_30e_360_isda_per_s"] = _year_fraction_rate(DayCount.THIRTY_E_360_ISDA)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:48s} {value:>16,.3f}")
