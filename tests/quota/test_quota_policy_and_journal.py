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


def apply_plan(store: Any, records: Any, policy: Any, *, as_of: datetime.date) -> list[Any]:
    """The policy's plan for the store's lines, each command applied unless its key was (a raise
    planned again on a later day, with the limit it would reach from there, happens once)."""
    pairs = [(line, store.balance(line.line_id)) for line in store.lines()]
    planned = plan_end_of_day(pairs, records, policy, as_of=as_of)
    return [store.apply(c, as_of=as_of) for c in planned if store.result(c.key) is None]


def test_on_time_repayments_raise_the_limit_once_per_round(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy()
    records = {"b1": CreditRecord("b1", on_time_repayments=6)}
    first = apply_plan(quota_store, records, policy, as_of=DAY)
    assert [r.events[0].kind for r in first] == [EventKind.LIMIT_ADJUSTED]
    assert quota_store.line("M").limit_permanent_minor == 1_100_000  # +10%, a multiple of 100 CNY
    tomorrow = DAY + datetime.timedelta(days=1)
    assert apply_plan(quota_store, records, policy, as_of=tomorrow) == []  # raised once a round
    assert quota_store.line("M").limit_permanent_minor == 1_100_000
    records = {"b1": CreditRecord("b1", on_time_repayments=12)}
    apply_plan(quota_store, records, policy, as_of=DAY)
    assert quota_store.line("M").limit_permanent_minor == 1_210_000
    assert quota_store.line("S").limit_permanent_minor == 800_000  # bound through the master


def test_the_raise_stops_at_the_ceiling(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy(raise_rate=Decimal("0.5"), ceiling=cny("12345.00"))
    records = {"b1": CreditRecord("b1", on_time_repayments=6)}
    apply_plan(quota_store, records, policy, as_of=DAY)
    assert quota_store.line("M").limit_permanent_minor == 1_234_500


def test_m1_freezes_and_write_off_closes(quota_store: Any) -> None:
    grant(quota_store)
    policy = DefaultLimitPolicy()
    overdue = {"b1": CreditRecord("b1", on_time_repayments=6, days_past_due=3)}
    results = apply_plan(quota_store, overdue, policy, as_of=DAY)
    assert [r.events[0].kind for r in results] == [EventKind.LINE_FROZEN]
    assert quota_store.line("M").frozen_whole
    assert quota_store.available("S", as_of=DAY) == cny("0.00")
    assert apply_plan(quota_store, overdue, policy, as_of=DAY) == []  # frozen already: no plan
    gone = {"b1": CreditRecord("b1", days_past_due=200, written_off=True)}
    results = apply_plan(quota_store, gone, policy, as_of=DAY)
    assert [r.events[0].kind for r in results] == [EventKind.LINE_CLOSED]


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
