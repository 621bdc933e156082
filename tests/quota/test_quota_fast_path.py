"""The memory store's fast path for Hold and Capture decides exactly as the general path.

``MemoryQuotaStore.apply`` takes a shortcut for holds and captures that will be accepted (see
docs/quota.md, "Performance"). These tests run the same commands through a store with the fast
path and one without (``fast_path = False``) and require the same results, the same exceptions,
the same journal and the same state, for the plain cases and for every way out of the shortcut.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.money import Money
from loancore.quota import (
    AddTemporaryLimit,
    Capture,
    Close,
    Command,
    Freeze,
    Grant,
    Hold,
    QuotaResult,
    Void,
)
from loancore.testing.quota import QuotaStateMachine

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2026, 6, 1)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


class TwinStore:
    """Applies every command to a fast-path store and a general-path store and requires the same
    outcome (result and ``replayed``, or exception type and message); reads from the fast one."""

    def __init__(self, store: MemoryQuotaStore | None = None) -> None:
        self.fast = MemoryQuotaStore() if store is None else store
        self.general = MemoryQuotaStore(self.fast.config)
        self.general.fast_path = False

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        (result, seen), (_result, seen_general) = (
            _outcome(store, command, as_of) for store in (self.fast, self.general)
        )
        assert seen == seen_general, command
        if isinstance(result, BaseException):
            raise result
        return result

    def check(self) -> tuple[Any, ...]:
        assert tuple(self.fast.journal()) == tuple(self.general.journal())
        assert self.fast.snapshot() == self.general.snapshot()
        assert _open_ids(self.fast) == _open_ids(self.general)
        return self.fast.check()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fast, name)


def _open_ids(store: MemoryQuotaStore) -> dict[str, dict[str, None]]:
    """The open-hold index, without the empty entries a line keeps once its holds are gone (the
    fast path enters a hold in the index only when it settles)."""
    return {line_id: ids for line_id, ids in store._state.open_holds.items() if ids}


def _outcome(store: MemoryQuotaStore, command: Command, as_of: datetime.date) -> tuple[Any, Any]:
    """The result or the exception, and what is compared: the result and ``replayed``, or the
    exception's type and message."""
    try:
        result = store.apply(command, as_of=as_of)
    except Exception as error:
        return error, (type(error), str(error))
    return result, (result, result.replayed)


class FastPathMachine(QuotaStateMachine):
    """The quota state machine over a :class:`TwinStore`: the model checks the fast path, the
    twin checks it against the general one after every step."""

    def make_store(self) -> TwinStore:
        return TwinStore()


TestFastPathLifecycles = FastPathMachine.TestCase


@pytest.fixture
def twin() -> TwinStore:
    twin = TwinStore()
    assert twin.apply(Grant("g-M", "M", "b1", cny("1000.00"), DAY, LATER), as_of=DAY).ok
    assert twin.apply(
        Grant("g-S", "S", "b1", cny("800.00"), DAY, LATER, master_id="M"), as_of=DAY
    ).ok
    assert twin.apply(
        Grant("g-T", "T", "b1", cny("800.00"), DAY, LATER, master_id="M"), as_of=DAY
    ).ok
    return twin


def _run(twin: TwinStore, steps: list[tuple[Command, datetime.date]]) -> list[Any]:
    seen: list[Any] = []
    for command, as_of in steps:
        try:
            seen.append(twin.apply(command, as_of=as_of).code)
        except AssertionError:
            raise  # the two paths disagreed
        except Exception as error:
            seen.append(type(error).__name__)
    assert twin.check() == ()
    return seen


class _MoneyLike(Money):
    """A Money subclass: never equal to a Money (attrs equality wants the same class)."""


SCENARIOS: dict[str, list[tuple[Command, datetime.date]]] = {
    "hold and capture, sub-line and master": [
        (Hold("h1", "S", cny("100.00"), LATER), DAY),
        (Capture("c1", "h1"), DAY),
        (Hold("h2", "M", cny("50.00"), LATER), DAY),
        (Capture("c2", "h2"), LATER),
    ],
    "replays and conflicts": [
        (Hold("h1", "S", cny("100.00"), LATER), DAY),
        (Hold("h1", "S", cny("100.00"), LATER), LATER),
        (Hold("h1", "S", cny("100.01"), LATER), DAY),
        (Capture("c1", "h1"), DAY),
        (Capture("c1", "h1"), DAY),
        (Capture("c1", "h1", cny("1.00")), DAY),
        (Capture("c2", "h1"), DAY),
        (Void("h1", "h1"), DAY),
    ],
    "replays of a partial capture, keys reused by another kind of command": [
        (Hold("h1", "S", cny("100.00"), LATER), DAY),
        (Capture("c1", "h1", cny("40.00")), DAY),
        (Capture("c1", "h1", cny("40.00")), LATER),
        (Capture("c1", "h1", cny("40.01")), DAY),
        (Capture("c1", "h1"), DAY),
        (Capture("h1", "h1"), DAY),
        (Hold("c1", "S", cny("40.00"), LATER), DAY),
        (Hold("h1", "T", cny("100.00"), LATER), DAY),
        (Hold("h1", "S", cny("100.00"), DAY), DAY),
    ],
    "replays judged from the journal row": [
        (Hold("h1", "S", cny("100.00"), LATER), DAY),
        (Hold("h1", "S", _MoneyLike(Decimal("100.00"), "CNY"), LATER), DAY),
        (Hold("h1", "S", Money(Decimal("100.00"), "USD"), LATER), DAY),
        (Capture("c1", "h1"), DAY),
        (Capture("c1", "h1", cny("100.00")), DAY),
        (Capture("c1", "h2"), DAY),
        (Hold("c1", "S", cny("100.00"), LATER), DAY),
        (Void("c1", "h1"), DAY),
        (Hold("h2", "S", cny("50.00"), LATER), DAY),
        (Capture("c2", "h2", cny("50.00")), DAY),
        (Capture("c2", "h2", cny("50.00")), DAY),
        (Capture("c2", "h2"), DAY),
        (Capture("c2", "h1", cny("50.00")), DAY),
        (Capture("c2", "h2", _MoneyLike(Decimal("50.00"), "CNY")), DAY),
    ],
    "hold refusals and errors": [
        (Hold("h1", "X", cny("1.00"), LATER), DAY),
        (Hold("h2", "S", Money(Decimal("1.00"), "USD"), LATER), DAY),
        (Hold("h3", "S", cny("1.00"), DAY), LATER),
        (Hold("h4", "S", cny("800.01"), LATER), DAY),
        (Hold("h5", "S", cny("700.00"), LATER), DAY),
        (Hold("h6", "T", cny("300.01"), LATER), DAY),
        (Hold("h7", "T", cny("300.00"), LATER), DAY),
        (Hold("h8", "S", cny("1.00"), LATER + datetime.timedelta(days=9)), LATER),
        (Hold("h9", "S", cny("1.00"), LATER), DAY - datetime.timedelta(days=1)),
        (
            Hold("h10", "S", cny("1.00"), LATER + datetime.timedelta(days=9)),
            LATER + datetime.timedelta(days=1),
        ),
    ],
    "frozen and closed lines": [
        (Hold("h1", "S", cny("10.00"), LATER), DAY),
        (Freeze("f1", "M"), DAY),
        (Hold("h2", "S", cny("10.00"), LATER), DAY),
        (Capture("c1", "h1"), DAY),
        (Hold("h3", "T", cny("10.00"), LATER), DAY),
        (Freeze("f2", "T", cny("795.00")), DAY),
        (Close("x1", "M"), DAY),
        (Capture("c3", "h3"), DAY),
        (Hold("h4", "S", cny("10.00"), LATER), DAY),
    ],
    "partial, excessive, foreign and late captures": [
        (Hold("h1", "S", cny("10.00"), DAY), DAY),
        (Capture("c1", "h1", cny("10.01")), DAY),
        (Capture("c2", "h1", Money(Decimal("1.00"), "USD")), DAY),
        (Capture("c3", "h1"), LATER),
        (Capture("c4", "h1", cny("4.00")), DAY),
        (Capture("c5", "nope"), DAY),
        (Hold("h2", "M", cny("10.00"), DAY), DAY),
        (Void("v2", "h2"), DAY),
        (Capture("c6", "h2"), DAY),
    ],
    "temporary limits": [
        (AddTemporaryLimit("t1", "M", cny("500.00"), DAY, DAY), DAY),
        (AddTemporaryLimit("t2", "S", cny("500.00"), DAY, DAY), DAY),
        (Hold("h1", "S", cny("1200.00"), LATER), DAY),
        (Hold("h2", "S", cny("1300.01"), LATER), DAY),
        (Hold("h3", "S", cny("100.00"), LATER), DAY),
        (Hold("h4", "S", cny("1.00"), LATER), DAY + datetime.timedelta(days=1)),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fast_path_decides_as_the_general_path(twin: TwinStore, name: str) -> None:
    seen = _run(twin, SCENARIOS[name])
    assert len(seen) == len(SCENARIOS[name])


def test_fast_path_is_taken_for_a_plain_hold_and_capture(
    twin: TwinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut really runs for a plain hold and capture (no evaluate call), and a refusal
    still goes the general way."""
    from loancore.adapters.memory import quota as memory_quota

    evaluated: list[Command] = []
    original = memory_quota.evaluate

    def counting(command: Command, *args: Any, **kwargs: Any) -> Any:
        evaluated.append(command)
        return original(command, *args, **kwargs)

    monkeypatch.setattr(memory_quota, "evaluate", counting)
    assert twin.apply(Hold("h1", "S", cny("12.34"), LATER), as_of=DAY).ok
    assert twin.apply(Capture("c1", "h1"), as_of=DAY).ok
    assert len(evaluated) == 2  # the general twin's two
    assert not twin.apply(Hold("h2", "S", cny("9999.00"), LATER), as_of=DAY).ok
    assert len(evaluated) == 4  # refused: both stores decided it the general way
    assert twin.fast.balance("M").used_minor == twin.fast.balance("S").used_minor == 1234
    assert twin.check() == ()


class _BusinessDay(datetime.date):
    """A date subclass (not a datetime): accepted like a date."""


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Hold(1, "S", cny("1.00"), LATER), "key"),
        (lambda: Hold("", "S", cny("1.00"), LATER), "key"),
        (lambda: Hold("h", "x" * 201, cny("1.00"), LATER), "line_id"),
        (lambda: Hold("h", "S", Decimal("1.00"), LATER), "amount"),
        (lambda: Hold("h", "S", cny("0.00"), LATER), "amount"),
        (lambda: Hold("h", "S", cny("1.00"), "2026-06-01"), "expires_on"),
        (lambda: Hold("h", "S", cny("1.00"), datetime.datetime(2026, 6, 1)), "expires_on"),
        (lambda: Hold("", "", cny("0.00"), None), "key"),  # the first field in order, as before
        (lambda: Capture(None, "h"), "key"),
        (lambda: Capture("c", ""), "hold_id"),
        (lambda: Capture("c", "h", cny("-1.00")), "amount"),
        (lambda: Capture("c", "h", 100), "amount"),
    ],
)
def test_inline_hold_and_capture_checks_name_the_field(build: Any, field: str) -> None:
    """Hold and Capture check their fields in __attrs_post_init__ (built on every authorization);
    the errors are the shared validators' own, field by field, in field order."""
    from loancore.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        build()
    assert raised.value.field == field


def test_hold_accepts_a_date_subclass_that_is_not_a_datetime() -> None:
    day = _BusinessDay(2026, 6, 1)
    assert Hold("h", "S", cny("1.00"), day).expires_on == day


def test_fast_capture_of_holds_placed_either_way_reads_back_as_the_fold_keeps_them() -> None:
    """A hold placed on the general path and captured on the fast path (and the other way round)
    reads back as the same QuotaHold the general path keeps, and the rebuild agrees."""
    fast, general = MemoryQuotaStore(), MemoryQuotaStore()
    general.fast_path = False
    for store in (fast, general):
        assert store.apply(Grant("g-M", "M", "b1", cny("1000.00"), DAY, LATER), as_of=DAY).ok
        store.fast_path = False
        assert store.apply(Hold("h1", "M", cny("10.00"), LATER), as_of=DAY).ok
        store.fast_path = store is fast
        assert store.apply(Hold("h2", "M", cny("20.00"), LATER), as_of=DAY).ok
        assert store.apply(Capture("c1", "h1", cny("4.00")), as_of=DAY).ok
        assert store.apply(Capture("c2", "h2"), as_of=DAY).ok
    assert fast._captured.keys() == {"h1", "h2"}  # both captured on the fast path
    for hold_id in ("h1", "h2"):
        assert fast.hold(hold_id) == general.hold(hold_id)
    assert fast.snapshot() == general.snapshot() and fast.check() == ()
    assert tuple(fast.journal()) == tuple(general.journal())


def test_the_flat_journal_reads_the_fields_it_names() -> None:
    """The memory store's journal keeps each event's row end to end; the positions it reads a
    row at are those of QuotaEvent's fields (and the rows the fast path writes are event_row's)."""
    import attrs

    from loancore.adapters.memory import quota as memory_quota
    from loancore.quota import QuotaEvent

    names = [field.name for field in attrs.fields(QuotaEvent)]
    assert memory_quota._WIDTH == len(names)
    positions = {
        "_AT_KIND": "kind", "_AT_LINE": "line_id", "_AT_CURRENCY": "currency",
        "_AT_AMOUNT": "amount_minor", "_AT_RELEASED": "released_minor", "_AT_REF": "ref_id",
        "_AT_ENDS": "ends_on",
    }  # fmt: skip
    for constant, name in positions.items():
        assert names[getattr(memory_quota, constant)] == name
    assert names[memory_quota._AT_LINE + 1] == "master_id"  # read as one slice with its line


def test_hold_and_capture_stay_frozen_attrs_values() -> None:
    """Their hand-written __init__ keeps them attrs values: fields, equality, hash, evolve (which
    checks again), pickling, and no assignment."""
    import pickle

    import attrs

    from loancore.errors import InvalidInput

    hold, capture = Hold("h", "S", cny("1.00"), LATER), Capture("c", "h", cny("0.50"))
    assert [f.name for f in attrs.fields(Hold)] == ["key", "line_id", "amount", "expires_on"]
    same = Hold("h", "S", cny("1.00"), LATER)
    assert hold == same and hash(hold) == hash(same)
    assert attrs.evolve(capture, amount=None) == Capture("c", "h")
    with pytest.raises(InvalidInput):
        attrs.evolve(hold, amount=cny("0.00"))
    for value in (hold, capture):
        assert pickle.loads(pickle.dumps(value)) == value
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.key = "other"  # type: ignore[misc]
