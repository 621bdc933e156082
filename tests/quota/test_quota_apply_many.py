"""``apply_many``: a list of quota commands applied as one step, on every store.

The rule: the results are the ones ``apply`` gives applying the commands one after the other,
and when one of them is refused (or raises) the error is that one and the store is as it was
before the list. The SQL store decides captures, voids, draws and restores against rows it reads
once and writes together; these tests hold it to the memory store's plain loop.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loancore.errors import IdempotencyConflict, LoancoreError, QuotaRejected, RejectionCode
from loancore.money import Money
from loancore.quota import (
    Capture,
    Command,
    Draw,
    Freeze,
    Grant,
    Hold,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Void,
)
from store_kit import SQL_KINDS

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
LINES = ("M", "S0", "S1", "N")
HOLDS = ("H0", "H1", "H2", "H3")


def cny(minor: int) -> Money:
    return Money(Decimal(minor).scaleb(-2), "CNY")


def _grant(line_id: str, limit: int, master_id: str | None = None) -> Grant:
    return Grant(
        key=f"g-{line_id}",
        line_id=line_id,
        borrower_id="b1" if line_id != "N" else "b2",
        limit=cny(limit),
        starts_on=DAY,
        expires_on=LATER,
        master_id=master_id,
    )


def open_book(store: Any) -> None:
    """Master M (10,000.00) with sub-lines S0 (8,000.00) and S1 (6,000.00), a lone master N
    (5,000.00); some use on each, and four open holds."""
    for grant in (
        _grant("M", 1_000_000),
        _grant("S0", 800_000, "M"),
        _grant("S1", 600_000, "M"),
        _grant("N", 500_000),
    ):
        store.apply(grant, as_of=DAY)
    for line_id, minor in (("S0", 200_000), ("S1", 100_000), ("N", 150_000), ("M", 50_000)):
        store.apply(Draw(key=f"use-{line_id}", line_id=line_id, amount=cny(minor)), as_of=DAY)
    for hold_id, line_id, minor in (
        ("H0", "S0", 120_000),
        ("H1", "S1", 90_000),
        ("H2", "N", 70_000),
        ("H3", "M", 30_000),
    ):
        hold = Hold(key=hold_id, line_id=line_id, amount=cny(minor), expires_on=LATER)
        store.apply(hold, as_of=DAY)


_KEYS = st.sampled_from([f"k{n}" for n in range(12)])
_AMOUNTS = st.integers(min_value=1, max_value=250_000)
_COMMANDS: st.SearchStrategy[Command] = st.one_of(
    st.builds(
        Capture,
        key=_KEYS,
        hold_id=st.sampled_from(HOLDS),
        amount=st.none() | _AMOUNTS.map(cny),
    ),
    st.builds(Void, key=_KEYS, hold_id=st.sampled_from(HOLDS)),
    st.builds(Draw, key=_KEYS, line_id=st.sampled_from(LINES), amount=_AMOUNTS.map(cny)),
    st.builds(
        RestoreRepaid,
        key=_KEYS,
        line_id=st.sampled_from(LINES),
        repaid=st.builds(RepaymentParts, principal=_AMOUNTS.map(cny)),
    ),
    st.builds(
        RestoreRefunded,
        key=_KEYS,
        line_id=st.sampled_from(LINES),
        principal=_AMOUNTS.map(cny),
        reason=st.sampled_from(RefundReason),
    ),
)


def _state(store: Any) -> tuple[Any, list[Any]]:
    return store.snapshot(), list(store.journal())


def _one_by_one(store: Any, commands: Sequence[Command]) -> tuple[list[Any], Exception | None]:
    results: list[Any] = []
    for command in commands:
        try:
            results.append(store.apply(command, as_of=DAY))
        except LoancoreError as error:
            return results, error
    return results, None


def _same_error(first: Exception, second: Exception) -> bool:
    if type(first) is not type(second):
        return False
    if isinstance(first, QuotaRejected) and isinstance(second, QuotaRejected):
        return first.code is second.code
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands=st.lists(_COMMANDS, min_size=1, max_size=14), split=st.integers(0, 14))
def test_apply_many_gives_what_apply_gives_one_by_one(
    make_quota_store: Callable[..., Any],
    store_kind: str,
    commands: list[Command],
    split: int,
) -> None:
    """Some commands applied first (so later keys may be replays of stored ones), then the rest
    as one list: the same results, state and journal as the loop, or the loop's first error and
    nothing changed."""
    reference = make_quota_store("memory")
    store = make_quota_store(store_kind)
    for each in (reference, store):
        open_book(each)
    earlier, batch = commands[:split], commands[split:]
    _one_by_one(reference, earlier)
    _one_by_one(store, earlier)
    before = _state(store)
    expected, error = _one_by_one(reference, batch)
    if error is not None:
        with pytest.raises(LoancoreError) as raised:
            store.apply_many(batch, as_of=DAY)
        assert _same_error(raised.value, error), (raised.value, error)
        assert _state(store) == before
        return
    assert list(store.apply_many(batch, as_of=DAY)) == expected
    assert _state(store) == _state(reference)
    assert store.check() == ()


def test_a_refusal_in_the_middle_changes_nothing(quota_store: Any) -> None:
    open_book(quota_store)
    before = _state(quota_store)
    commands = [
        Draw(key="d1", line_id="S0", amount=cny(10_000)),
        RestoreRepaid(key="r1", line_id="S0", repaid=RepaymentParts(principal=cny(5_000))),
        Draw(key="d2", line_id="N", amount=cny(999_999)),  # more than N has
        Draw(key="d3", line_id="S1", amount=cny(1_000)),
    ]
    with pytest.raises(QuotaRejected) as raised:
        quota_store.apply_many(commands, as_of=DAY)
    assert raised.value.code is RejectionCode.QUOTA_EXCEEDS_AVAILABLE
    assert _state(quota_store) == before
    assert quota_store.result("d1") is None  # the keys stay free


def test_a_key_twice_in_one_list_is_a_replay_and_a_changed_command_a_conflict(
    quota_store: Any,
) -> None:
    open_book(quota_store)
    draw = Draw(key="d1", line_id="S0", amount=cny(10_000))
    first, again = quota_store.apply_many([draw, draw], as_of=DAY)
    assert not first.replayed and again.replayed
    assert again.events == first.events
    assert quota_store.balance("S0").used_minor == 210_000
    other = Draw(key="d1", line_id="S0", amount=cny(20_000))
    with pytest.raises(IdempotencyConflict):
        quota_store.apply_many([Draw(key="d9", line_id="S1", amount=cny(1)), other], as_of=DAY)
    assert quota_store.result("d9") is None


def test_commands_the_sql_store_does_not_batch_go_one_by_one(quota_store: Any) -> None:
    """A freeze (a change of terms) among restores: same state as the loop, all or nothing."""
    open_book(quota_store)
    commands: list[Command] = [
        RestoreRepaid(key="r1", line_id="S0", repaid=RepaymentParts(principal=cny(50_000))),
        Freeze(key="f1", line_id="S1"),
        Draw(key="d1", line_id="S1", amount=cny(1_000)),  # refused: S1 is frozen
    ]
    before = _state(quota_store)
    with pytest.raises(QuotaRejected):
        quota_store.apply_many(commands, as_of=DAY)
    assert _state(quota_store) == before
    results = quota_store.apply_many(commands[:2], as_of=DAY)
    assert [r.key for r in results] == ["r1", "f1"]
    assert quota_store.balance("S0").used_minor == 150_000
    assert quota_store.check() == ()


@pytest.mark.parametrize("store_kind", SQL_KINDS)
def test_a_key_a_twin_claimed_meanwhile_is_applied_one_by_one(
    make_quota_store: Callable[..., Any], store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL store reads which keys are taken, decides, then claims the rest together; a key
    claimed in between (by a twin committing on another connection) makes the claim write fewer
    rows than asked, and the list is rolled back and applied one command at a time. The race is
    staged by hiding a stored key from the first read."""
    from loancore.adapters.sql import quota as sql_quota

    store = make_quota_store(store_kind)
    open_book(store)
    first = store.apply(Draw(key="d1", line_id="S0", amount=cny(10_000)), as_of=DAY)
    monkeypatch.setattr(sql_quota, "_stored_commands", lambda _raw, _keys: {})
    results = store.apply_many(
        [
            Draw(key="d2", line_id="S1", amount=cny(1_000)),
            Draw(key="d1", line_id="S0", amount=cny(10_000)),
        ],
        as_of=DAY,
    )
    assert results[1].replayed and results[1].events == first.events
    assert store.balance("S0").used_minor == 210_000  # the replay moved nothing
    assert store.balance("S1").used_minor == 101_000
    assert store.check() == ()


@pytest.mark.parametrize("store_kind", SQL_KINDS)
def test_the_sql_store_decides_a_list_of_restores_together(
    make_quota_store: Callable[..., Any], store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Captures, voids, draws and restores never take apply's one-command path (the reason
    apply_many exists): that path is made to fail and the list still applies."""
    from loancore.adapters.sql.quota import SqlQuotaStore

    store = make_quota_store(store_kind)
    open_book(store)

    def one_by_one(*_args: object) -> None:
        raise AssertionError("apply_many went one by one")

    monkeypatch.setattr(SqlQuotaStore, "_apply", one_by_one)
    commands: list[Command] = [
        Capture(key="c0", hold_id="H0"),
        Void(key="v1", hold_id="H1"),
        *(
            RestoreRepaid(key=f"r{n}", line_id="S0", repaid=RepaymentParts(principal=cny(1_000)))
            for n in range(5)
        ),
        RestoreRefunded(key="f1", line_id="M", principal=cny(2_000), reason=RefundReason.REFUND),
        Draw(key="d1", line_id="N", amount=cny(3_000)),
    ]
    results = store.apply_many(commands, as_of=DAY)
    assert [r.key for r in results] == [c.key for c in commands]
    assert store.balance("S0").used_minor == 200_000 + 120_000 - 5_000
    assert store.balance("N").used_minor == 153_000
    assert store.check() == ()
