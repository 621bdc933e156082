"""The end-of-day limit policy, and the journal rebuild check catching a store that drifted."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from loancore.errors import InvalidInput, InvariantViolation
from loancore.money import Money
from loancore.quota import (
    CreditRecord,
    DefaultLimitPolicy,
    Draw,
    EventKind,
    Grant,
    Hold,
    LineBalance,
    QuotaSnapshot,
    check_rebuild,
    plan_end_of_day,
    rebuild,
    run_end_of_day,
)

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def grant(store: Any) -> None:
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("10000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    sub_line = Grant(
        key="g-S",
        line_id="S",
        borrower_id="b1",
        limit=cny("8000.00"),
        starts_on=DAY,
        expires_on=LATER,
        master_id="M",
    )
    store.apply(sub_line, as_of=DAY)


def test_on_time_repayments_raise_the_limit_once_per_round(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy()
    records = {"b1": CreditRecord("b1", on_time_repayments=6)}
    first = run_end_of_day(quota_store, records, policy, as_of=DAY, key="eod-1")
    assert [r.events[0].kind for r in first] == [EventKind.LIMIT_ADJUSTED]
    assert quota_store.line("M").limit_permanent_minor == 1_100_000  # +10%, a multiple of 100 CNY
    tomorrow = DAY + datetime.timedelta(days=1)
    assert run_end_of_day(quota_store, records, policy, as_of=tomorrow, key="eod-2") == ()
    records = {"b1": CreditRecord("b1", on_time_repayments=12)}
    run_end_of_day(quota_store, records, policy, as_of=DAY, key="eod-3")
    assert quota_store.line("M").limit_permanent_minor == 1_210_000
    assert quota_store.line("S").limit_permanent_minor == 800_000  # bound through the master


def test_the_raise_stops_at_the_ceiling(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy(raise_rate=Decimal("0.5"), ceiling=cny("12345.00"))
    records = {"b1": CreditRecord("b1", on_time_repayments=6)}
    run_end_of_day(quota_store, records, policy, as_of=DAY, key="e")
    assert quota_store.line("M").limit_permanent_minor == 1_234_500


def test_m1_freezes_and_write_off_closes(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy()
    overdue = {"b1": CreditRecord("b1", on_time_repayments=6, days_past_due=3)}
    results = run_end_of_day(quota_store, overdue, policy, as_of=DAY, key="eod-1")
    assert [r.events[0].kind for r in results] == [EventKind.LINE_FROZEN]
    assert quota_store.line("M").frozen_whole
    assert quota_store.available("S", as_of=DAY) == cny("0.00")
    assert run_end_of_day(quota_store, overdue, policy, as_of=DAY, key="eod-2") == ()
    gone = {"b1": CreditRecord("b1", days_past_due=200, written_off=True)}
    results = run_end_of_day(quota_store, gone, policy, as_of=DAY, key="eod-3")
    assert [r.events[0].kind for r in results] == [EventKind.LINE_CLOSED]


def test_end_of_day_expires_holds(quota_store: Any) -> None:
    grant(quota_store)
    quota_store.apply(Hold(key="h1", line_id="S", amount=cny("10.00"), expires_on=DAY), as_of=DAY)
    later = DAY + datetime.timedelta(days=2)
    results = run_end_of_day(quota_store, {}, DefaultLimitPolicy(), as_of=later, key="eod")
    assert [e.kind for r in results for e in r.events] == [EventKind.HOLD_EXPIRED]
    assert quota_store.balance("M") == LineBalance(0, 0, 0)


def test_plan_is_pure_and_skips_sub_lines_and_unknown_borrowers() -> None:
    from loancore.quota import QuotaLine

    master = QuotaLine("M", "b1", None, "", "CNY", 1_000_000, DAY, LATER)
    sub = QuotaLine("S", "b1", "M", "", "CNY", 1_000_000, DAY, LATER)
    other = QuotaLine("X", "b2", None, "", "CNY", 1_000_000, DAY, LATER)
    lines = [(master, LineBalance()), (sub, LineBalance()), (other, LineBalance())]
    records = {"b1": CreditRecord("b1", on_time_repayments=7)}
    planned = plan_end_of_day(lines, records, DefaultLimitPolicy(), as_of=DAY)
    assert [c.line_id for c in planned] == ["M"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"repayments_per_raise": 0},
        {"raise_rate": "0"},
        {"raise_rate": "1.5"},
        {"ceiling": cny("0.00")},
        {"freeze_days_past_due": 0},
    ],
)
def test_policy_parameters_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        DefaultLimitPolicy(**kwargs)


def test_credit_record_counts_are_checked() -> None:
    with pytest.raises(InvalidInput):
        CreditRecord("b1", on_time_repayments=-1)


def test_the_rebuild_check_lists_every_drifted_balance(quota_store: Any) -> None:
    grant(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S", amount=cny("100.00")), as_of=DAY)
    quota_store.apply(Hold(key="h1", line_id="S", amount=cny("50.00"), expires_on=DAY), as_of=DAY)
    stored = quota_store.snapshot()
    rebuilt = rebuild(quota_store.journal())
    assert check_rebuild(rebuilt, stored) == ()
    drifted = QuotaSnapshot(
        stored.lines,
        {**stored.balances, "M": LineBalance(10_001, 5_000, 0)},
        {**stored.holds, "h1": attrs.evolve(stored.holds["h1"], amount_minor=1)},
    )
    issues = check_rebuild(rebuilt, drifted)
    assert [(i.kind, i.object_id) for i in issues] == [("balance", "M"), ("hold", "h1")]


def test_rebuild_refuses_an_impossible_journal(quota_store: Any) -> None:
    grant(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S", amount=cny("100.00")), as_of=DAY)
    events = list(quota_store.journal())
    with pytest.raises(InvariantViolation):
        rebuild(events[2:])  # a draw on a line never granted
