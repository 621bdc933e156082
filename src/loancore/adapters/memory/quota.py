"""MemoryQuotaStore: the in-memory reference implementation of the quota store.

One lock serialises operations (so concurrent threads can never hold past the available amount);
each operation loads its view, lets the pure core decide (:func:`loancore.quota.decide`), and
applies the decision with dictionary assignments that cannot fail, so a refused or invalid
operation changes nothing. The journal is a list; :meth:`MemoryQuotaStore.check` rebuilds every
balance from it and compares.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from typing import cast

import attrs

from loancore.errors import IdempotencyConflict, InvalidInput, NotFound
from loancore.money import Money, minor_units_of
from loancore.quota import (
    Capture,
    Command,
    EventKind,
    EventRow,
    Hold,
    HoldStatus,
    LineBalance,
    LineStatus,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaIssue,
    QuotaLine,
    QuotaResult,
    QuotaSnapshot,
    QuotaState,
    available_minor,
    check_as_of,
    check_command,
    check_rebuild,
    evaluate,
    event_of_row,
    event_row,
    load_view,
    rebuild,
)

__all__ = ["MemoryQuotaStore"]


class MemoryQuotaStore:
    """Quota lines, holds and the quota journal in memory (tests, embedded use, benchmarks).

    The state is a :class:`~loancore.quota.QuotaState`, the same fold that
    :func:`~loancore.quota.rebuild` runs: an accepted operation's events are folded into it (each
    fold step checks before it writes), then appended to the journal. Accepted holds and captures
    take a fast path that writes the same state directly (see :meth:`apply`).
    """

    def __init__(self, config: QuotaConfig | None = None) -> None:
        self.config = QuotaConfig() if config is None else config
        if not isinstance(self.config, QuotaConfig):
            raise InvalidInput("config", config, "expected a QuotaConfig")
        self._lock = threading.Lock()
        self._state = QuotaState()
        # Holds captured on the fast path, kept out of self._state.holds as the journal offset
        # of their capture (an int, so the dict is one the cyclic garbage collector leaves
        # alone); a captured hold is final, so only reads need it (_captured_hold builds the
        # QuotaHold value from the capture's and the placement's rows).
        self._captured: dict[str, int] = {}
        # Lines the fast path touched, as mutable records (see _Record): their [used, held, frozen]
        # counters are authoritative over self._state.balances, and written back as LineBalance
        # values (_settle) before anything else reads balances; their terms are read once. A hold
        # or a capture then adds to integers instead of building frozen LineBalance values.
        self._records: dict[str, list[object]] = {}
        # Holds placed on the fast path and not yet captured, as the journal offset of their
        # placement (whose row has the line, currency, amount and expiry): their capture on the
        # fast path never needs a QuotaHold; _settle builds one for each still open, and enters
        # it in the open-hold index, before anything else reads holds.
        self._opened: dict[str, int] = {}
        # The journal, flat: each event's row (loancore.quota.event_row: strings, ints, dates and
        # None) laid end to end, _WIDTH items per event, an event's place being the offset of
        # its first item. One list of atoms, which the cyclic garbage collector walks only in
        # a full collection; a tuple per event would be walked (and set aside) by the next young
        # collection, and an accepted hold or capture would leave one behind every time. The
        # row an accepted operation's result holds is freed with the result.
        self._journal: list[object] = []
        # Idempotency, one entry per key: for an operation accepted on the fast path, the journal
        # offset of its one event (an int; a 1-tuple for a capture that named its amount), which
        # a replay is compared with; otherwise (command, code, journal start and stop offsets).
        # A result is rebuilt from the journal when asked for again.
        self._applied: dict[str, object] = {}
        self._fast_paths = _FAST_PATHS
        self._source = _Source(self)

    @property
    def fast_path(self) -> bool:
        """False sends every command the general way (tests compare the two paths)."""
        return self._fast_paths is _FAST_PATHS

    @fast_path.setter
    def fast_path(self, enabled: bool) -> None:
        self._fast_paths = _FAST_PATHS if enabled else {}

    # -- writing --------------------------------------------------------------------------------

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        """Apply ``command`` as of the business date ``as_of`` (see :mod:`loancore.quota`).

        Holds and captures that will be accepted take a fast path (:func:`_hold_fast`,
        :func:`_capture_fast`) with the same checks, event, new state and result as the general
        path, in fewer calls; anything else, including every refusal and error, goes the general
        way (load a view, :func:`~loancore.quota.evaluate`, fold).
        """
        if type(as_of) is not _DATE:
            check_as_of(as_of)
        fast = self._fast_paths.get(type(command))
        if fast is None:
            check_command(command)
        key = command.key
        lock = self._lock
        lock.acquire()  # not `with`: entering and leaving a with block costs twice as much
        try:
            if fast is not None and key not in self._applied:
                result = fast(self, command, key, as_of)
                if result is not None:
                    return result
            return self._apply_general(command, key, as_of)
        finally:
            lock.release()

    def _apply_general(self, command: Command, key: str, as_of: datetime.date) -> QuotaResult:
        """Replay, or load a view, decide and fold (lock held)."""
        applied = self._applied.get(key)
        journal = self._journal
        if applied is not None:
            if not _is_fast_replay(command, applied, journal):
                first = _first_command(key, applied, journal)
                if first != command:
                    raise IdempotencyConflict(key, f"first applied as {first!r}")
            return self._result(key, replayed=True)
        self._settle()
        start = len(journal)
        view = load_view(command, self._source, as_of=as_of)
        code, events = evaluate(command, view, as_of=as_of, config=self.config)
        if len(events) == 1:
            self._state.apply(events[0])  # checks, then writes: all or nothing
        elif events:
            self._apply_all(events)
        for event in events:
            journal.extend(event_row(event))
        self._applied[key] = (command, code, start, len(journal))
        return QuotaResult(key, code, events)

    def _settle(self) -> None:
        """Write the fast path's records and open holds back into the state as LineBalance and
        QuotaHold values, and the open holds into its open-hold index (lock held)."""
        state = self._state
        balances, holds, open_holds = state.balances, state.holds, state.open_holds
        for line_id, record in self._records.items():
            balances[line_id] = LineBalance(*record[:3])  # type: ignore[arg-type]
        self._records.clear()
        journal = self._journal
        for hold_id, at in self._opened.items():
            line_id, _master, currency, amount_minor = journal[at + _AT_LINE : at + _AT_RELEASED]
            expires_on = journal[at + _AT_ENDS]
            holds[hold_id] = QuotaHold(hold_id, line_id, currency, amount_minor, expires_on)  # type: ignore[arg-type]
            open_ids = open_holds.get(line_id)
            if open_ids is None:
                open_ids = open_holds[line_id] = {}
            open_ids[hold_id] = None
        self._opened.clear()

    def _result(self, key: str, *, replayed: bool = False) -> QuotaResult:
        applied = self._applied[key]
        journal = self._journal
        index = _fast_index(applied)
        if index is not None:
            return QuotaResult.of_row(key, _row_at(journal, index), replayed=replayed)
        _command, code, start, stop = applied  # type: ignore[misc]
        return QuotaResult(key, code, _events(journal, start, stop), replayed)

    def _apply_all(self, events: tuple[QuotaEvent, ...]) -> None:
        """Fold several events into a scratch copy first, so a failure changes nothing."""
        scratch = QuotaState()
        state = self._state
        for event in events:
            for line_id in (event.line_id, event.master_id):
                if line_id is not None and line_id in state.lines:
                    scratch.load_line(state.lines[line_id], state.balances[line_id])
            if event.ref_id in state.holds:
                scratch.load_hold(state.holds[event.ref_id])
        for event in events:
            scratch.apply(event)
        for event in events:
            state.apply(event)

    # -- reading --------------------------------------------------------------------------------

    def result(self, key: str) -> QuotaResult | None:
        """The result of the operation applied under ``key``, or None if there was none."""
        with self._lock:
            return self._result(key) if key in self._applied else None

    def line(self, line_id: str) -> QuotaLine:
        line = self._state.lines.get(line_id)
        if line is None:
            raise NotFound("quota line", line_id)
        return line

    def balance(self, line_id: str) -> LineBalance:
        self.line(line_id)
        with self._lock:
            self._settle()
            return self._state.balances[line_id]

    def hold(self, hold_id: str) -> QuotaHold:
        with self._lock:
            self._settle()
            hold = self._source.hold(hold_id)
        if hold is None:
            raise NotFound("quota hold", hold_id)
        return hold

    def available(self, line_id: str, *, as_of: datetime.date) -> Money:
        """What can be held or drawn on ``line_id`` now: its own available bound by its master's."""
        check_as_of(as_of)
        with self._lock:
            self._settle()
            line, balance, master, master_balance = self._source.line_pair(line_id)
            if line is None or balance is None:
                raise NotFound("quota line", line_id)
            return line.money(available_minor(line, balance, master, master_balance, as_of=as_of))

    def lines(self, *, borrower_id: str | None = None) -> tuple[QuotaLine, ...]:
        """Every line (of ``borrower_id`` if given), in line id order."""
        found = [
            line
            for line in self._state.lines.values()
            if borrower_id is None or line.borrower_id == borrower_id
        ]
        return tuple(sorted(found, key=lambda line: line.line_id))

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        """The open holds of ``line_id`` in hold id order."""
        with self._lock:
            self._settle()
            return self._source.open_holds(line_id)

    def line_ids_with_expired_holds(self, *, as_of: datetime.date) -> tuple[str, ...]:
        """Lines with an open hold whose expiry is before ``as_of`` (work for ExpireHolds)."""
        check_as_of(as_of)
        holds = self._state.holds
        with self._lock:
            self._settle()
            return tuple(
                sorted(
                    line_id
                    for line_id, ids in self._state.open_holds.items()
                    if any(holds[i].expires_on < as_of for i in ids)
                )
            )

    def journal(self) -> Iterator[QuotaEvent]:
        """Every quota event in journal order."""
        with self._lock:
            journal = self._journal[:]
        return iter(_events(journal, 0, len(journal)))

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> QuotaSnapshot:
        self._settle()
        state = self._state
        holds = dict(state.holds)
        for hold_id, index in self._captured.items():
            holds[hold_id] = _captured_hold(self, hold_id, index)
        return QuotaSnapshot(dict(state.lines), dict(state.balances), holds)

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored state differs."""
        with self._lock:
            journal = self._journal[:]
            stored = self._snapshot()
        return check_rebuild(rebuild(_events(journal, 0, len(journal))), stored)

    # -- unit of work -------------------------------------------------------------------------

    def _checkpoint(self) -> object:
        """The complete mutable state (containers copied, values shared: they are immutable), for
        :class:`~loancore.adapters.memory.uow.MemoryUnitOfWork`'s rollback."""
        with self._lock:
            self._settle()  # fast-path records and open holds -> the state, so they need no copy
            state = self._state
            nested = (state.open_holds, state.masters, state.sub_lines)
            return (
                dict(state.lines),
                dict(state.balances),
                dict(state.holds),
                tuple({k: dict(v) for k, v in index.items()} for index in nested),
                dict(self._captured),
                self._journal[:],
                dict(self._applied),
            )

    def _restore(self, checkpoint: object) -> None:
        """Put back the state :meth:`_checkpoint` returned (in place: readers hold the state)."""
        saved = cast(_Checkpoint, checkpoint)
        with self._lock:
            state = self._state
            state.lines, state.balances, state.holds = (
                dict(saved[0]),
                dict(saved[1]),
                dict(saved[2]),
            )
            open_holds, masters, sub_lines = ({k: dict(v) for k, v in i.items()} for i in saved[3])
            state.open_holds, state.masters, state.sub_lines = open_holds, masters, sub_lines
            self._records.clear()
            self._opened.clear()
            self._captured = dict(saved[4])
            self._journal = saved[5][:]
            self._applied = dict(saved[6])


_Index = dict[str, dict[str, None]]
_Checkpoint = tuple[
    dict[str, QuotaLine],
    dict[str, LineBalance],
    dict[str, QuotaHold],
    tuple[_Index, _Index, _Index],
    dict[str, int],
    list[object],
    dict[str, object],
]
"""What :meth:`MemoryQuotaStore._checkpoint` returns (for the unit of work's rollback)."""


# -- the fast path -------------------------------------------------------------------------------
#
# A hold and a capture are most of a quota book's traffic. These two functions do what
# load_view + evaluate + QuotaState.apply do for an operation that will be accepted, reading the
# store's dictionaries directly instead of building a QuotaView, a Decision and intermediate
# values. They return None, having changed nothing, as soon as anything is not the plain
# accepted case (unknown line or hold, currency mismatch, a date or amount to refuse, a closed,
# frozen or unusable line, anything the fold would call an invariant violation): the general
# path then decides, refuses or raises exactly as before. Every check runs before the first write,
# and the writes are dictionary assignments that cannot fail, so an operation is all or nothing.
# tests/quota/test_quota_fast_path.py runs random operation sequences through both paths and
# compares results, journals and state; the state machine checks the fast path against its model.

_DATE = datetime.date
_ACTIVE = LineStatus.ACTIVE
_OPEN = HoldStatus.OPEN
_CAPTURED = HoldStatus.CAPTURED
_PLACED_VALUE = EventKind.HOLD_PLACED.value
_CAPTURED_VALUE = EventKind.HOLD_CAPTURED.value

# A line's record, a list indexed by these: the counters the fast path moves ([used, held,
# frozen], minor units); the day its limit was last worked out for and that limit (None when the
# line cannot take a new hold that day: closed, frozen whole, not started or expired); whether it
# is active (a capture needs only that); the terms a hold or a capture reads (currency, 10 ** its
# minor-unit digits, borrower, master id); the master's record (None for a master); the line.
# Made on first use after the last _settle and dropped by the next, so the terms cannot go stale:
# only the general path changes a line, and it settles first.
_Record = list
_USED, _HELD, _FROZEN, _DAY, _LIMIT, _ACTIVE_NOW, _CURRENCY, _FACTOR, _BORROWER, _MASTER_ID = range(
    10
)
_MASTER, _LINE = 10, 11


def _record(store: MemoryQuotaStore, line_id: str) -> _Record | None:
    """The fast path's record of ``line_id`` (made from the stored line and balance on first use,
    with its master's), or None for an unknown line."""
    records = store._records
    record = records.get(line_id)
    if record is not None:
        return record
    state = store._state
    line = state.lines.get(line_id)
    if line is None:
        return None
    master_id, master = line.master_id, None
    if master_id is not None:
        master = records.get(master_id)
        if master is None:
            master = records[master_id] = _new_record(state, state.lines[master_id], None)
    record = records[line_id] = _new_record(state, line, master)
    return record


def _new_record(state: QuotaState, line: QuotaLine, master: _Record | None) -> _Record:
    balance = state.balances[line.line_id]
    return [
        balance.used_minor, balance.held_minor, balance.frozen_minor, None, None,
        line.status is _ACTIVE, line.currency, 10 ** minor_units_of(line.currency),
        line.borrower_id, line.master_id, master, line,
    ]  # fmt: skip


def _limit_on(record: _Record, as_of: datetime.date) -> int | None:
    """The line's effective limit on ``as_of`` if it can take a new hold or draw that day, else
    None (the general path names the refusal); kept in the record for the day."""
    line: QuotaLine = record[_LINE]  # type: ignore[assignment]
    limit = None
    if not (
        line.status is not _ACTIVE
        or line.frozen_whole
        or as_of < line.starts_on
        or as_of > line.expires_on
    ):
        limit = line.limit_effective_minor(as_of)
    record[_DAY], record[_LIMIT] = as_of, limit
    return limit


def _hold_fast(
    store: MemoryQuotaStore, command: Hold, key: str, as_of: datetime.date
) -> QuotaResult | None:
    """An accepted Hold: held += amount on the line and its master, a new open hold, the journal
    row and the idempotency entry; its result. (No hold can have the id ``key`` yet: a hold's id
    is the key of the Hold that placed it, and that key has just been found unused.)"""
    line_id, amount, expires_on = command.line_id, command.amount, command.expires_on
    record = store._records.get(line_id) or _record(store, line_id)
    if record is None or amount.currency != record[_CURRENCY] or expires_on < as_of:
        return None
    limit = record[_LIMIT] if record[_DAY] == as_of else _limit_on(record, as_of)
    # Money.minor_units, exactly (the amount is at the currency's scale, so the ratio's
    # denominator divides 10**scale) in half the time: one C call and two int operations.
    numerator, denominator = amount.amount.as_integer_ratio()
    minor = numerator * (record[_FACTOR] // denominator)
    if limit is None or minor > limit - record[_USED] - record[_HELD] - record[_FROZEN]:  # type: ignore[operator]
        return None
    master = record[_MASTER]
    if master is not None:
        limit = master[_LIMIT] if master[_DAY] == as_of else _limit_on(master, as_of)
        if limit is None or minor > limit - master[_USED] - master[_HELD] - master[_FROZEN]:
            return None
        master[_HELD] += minor  # every check is done: only writes that cannot fail follow
    record[_HELD] += minor  # type: ignore[operator]
    currency = record[_CURRENCY]
    journal = store._journal
    store._applied[key] = store._opened[key] = len(journal)
    row = (
        key, 0, _PLACED_VALUE, as_of, record[_BORROWER], line_id, record[_MASTER_ID], currency,
        minor, 0, key, None, expires_on, "",
    )  # fmt: skip
    journal.extend(row)
    return _accepted(key, row)


def _capture_fast(
    store: MemoryQuotaStore, command: Capture, key: str, as_of: datetime.date
) -> QuotaResult | None:
    """An accepted Capture: used += captured, held -= hold on the line and its master, the
    journal row and the idempotency entry; its result."""
    hold_id, journal = command.hold_id, store._journal
    placed = store._opened.get(hold_id)
    in_state = placed is None  # a hold the general path placed, or one settled since
    if in_state:
        hold = store._state.holds.get(hold_id)
        if hold is None or hold.status is not _OPEN:
            return None
        line_id, currency, hold_minor, expires_on = (
            hold.line_id, hold.currency, hold.amount_minor, hold.expires_on
        )  # fmt: skip
    else:
        line_id, _master, currency, hold_minor = journal[placed + _AT_LINE : placed + _AT_RELEASED]  # type: ignore[misc]
        expires_on = journal[placed + _AT_ENDS]
    if as_of > expires_on:  # type: ignore[operator]
        return None
    record: _Record = store._records.get(line_id) or _record(store, line_id)  # type: ignore[assignment]
    if not record[_ACTIVE_NOW] or record[_HELD] < hold_minor:  # type: ignore[operator]
        return None  # closed (the general path refuses) or the fold's invariant (it raises)
    captured, amount = hold_minor, command.amount
    if amount is not None:
        if amount.currency != currency:
            return None
        numerator, denominator = amount.amount.as_integer_ratio()  # as in _hold_fast
        captured = numerator * (record[_FACTOR] // denominator)
        if captured > hold_minor:
            return None
    master = record[_MASTER]
    if master is not None:
        if not master[_ACTIVE_NOW] or master[_HELD] < hold_minor:
            return None
        master[_USED] += captured  # every check is done: only writes that cannot fail follow
        master[_HELD] -= hold_minor
    record[_USED] += captured  # type: ignore[operator]
    record[_HELD] -= hold_minor  # type: ignore[operator]
    if in_state:
        state = store._state
        del state.holds[hold_id]
        state.open_holds[line_id].pop(hold_id, None)
    else:
        del store._opened[hold_id]
    index = len(journal)
    store._captured[hold_id] = index
    store._applied[key] = index if amount is None else (index,)
    row = (
        key, 0, _CAPTURED_VALUE, as_of, record[_BORROWER], line_id, record[_MASTER_ID], currency,
        captured, hold_minor - captured, hold_id, None, None, "",
    )  # fmt: skip
    journal.extend(row)
    return _accepted(key, row)


_FAST_PATHS = {Hold: _hold_fast, Capture: _capture_fast}
_accepted = QuotaResult.of_row

# -- what the store keeps: atoms the cyclic garbage collector does not walk ------------------------


def _captured_hold(store: MemoryQuotaStore, hold_id: str, index: int) -> QuotaHold:
    """The QuotaHold value of a hold captured on the fast path (equal to the fold's), from the
    capture's journal row (at ``index``) and the placement's (the Hold's one event)."""
    journal = store._journal
    line_id, _master, currency, captured, released = journal[index + _AT_LINE : index + _AT_REF]
    applied = store._applied[hold_id]
    placed = _fast_index(applied)
    expires_on = journal[(applied[2] if placed is None else placed) + _AT_ENDS]  # type: ignore[index, operator]
    return QuotaHold(
        hold_id,
        line_id,
        currency,
        captured + released,
        expires_on,
        _CAPTURED,
        captured,  # type: ignore[arg-type, operator]
    )


def _row_at(journal: list[object], offset: int) -> EventRow:
    """The row of the event at ``offset`` in the flat journal."""
    return tuple(journal[offset : offset + _WIDTH])


def _events(journal: list[object], start: int, stop: int) -> tuple[QuotaEvent, ...]:
    """The events from offset ``start`` to ``stop`` of the flat journal."""
    return tuple(event_of_row(_row_at(journal, o)) for o in range(start, stop, _WIDTH))


_WIDTH = len(attrs.fields(QuotaEvent))  # items per event in the flat journal
# Where a row's fields sit, from the event's offset (the order of QuotaEvent's fields).
_AT_KIND, _AT_LINE, _AT_CURRENCY, _AT_AMOUNT = 2, 5, 7, 8
_AT_RELEASED, _AT_REF, _AT_ENDS = 9, 10, 12


def _fast_index(applied: object) -> int | None:
    """The journal offset of a fast-path operation's idempotency entry, or None."""
    if type(applied) is int:
        return applied
    if len(applied) == 1:  # type: ignore[arg-type]
        return applied[0]  # type: ignore[index, no-any-return]
    return None


def _is_fast_replay(command: Command, applied: object, journal: list[object]) -> bool:
    """True when ``command`` is a plain Hold or Capture equal to the one first applied on the fast
    path, judged from its journal row without rebuilding that command; False means "compare the
    rebuilt command" (anything else, subclasses included, and every conflict)."""
    index, kind = _fast_index(applied), type(command)
    if index is None:
        return False
    if kind is not (Hold if journal[index + _AT_KIND] == _PLACED_VALUE else Capture):
        return False
    amount = command.amount  # type: ignore[union-attr]
    if amount is None:  # a Capture of the whole hold (a Hold's amount is never None)
        return type(applied) is int and command.hold_id == journal[index + _AT_REF]  # type: ignore[union-attr]
    if (
        type(amount) is not Money
        or amount.currency != journal[index + _AT_CURRENCY]
        or amount.minor_units != journal[index + _AT_AMOUNT]
    ):
        return False
    if kind is Hold:
        return (
            command.line_id == journal[index + _AT_LINE]  # type: ignore[union-attr]
            and command.expires_on == journal[index + _AT_ENDS]  # type: ignore[union-attr]
        )
    return type(applied) is not int and command.hold_id == journal[index + _AT_REF]  # type: ignore[union-attr]


def _first_command(key: str, applied: object, journal: list[object]) -> Command:
    """The command first applied under ``key``, from its idempotency entry (a fast-path one from
    its journal row: a Hold, or a Capture that named its amount only if the entry says so)."""
    index = _fast_index(applied)
    if index is None:
        return applied[0]  # type: ignore[index, no-any-return]
    row = _row_at(journal, index)
    line_id, currency, amount_minor, ref_id, ends_on = (
        row[_AT_LINE], row[_AT_CURRENCY], row[_AT_AMOUNT], row[_AT_REF], row[_AT_ENDS]
    )  # fmt: skip
    money = Money.from_minor(amount_minor, currency)  # type: ignore[arg-type]
    if row[_AT_KIND] == _PLACED_VALUE:
        return Hold(key, line_id, money, ends_on)  # type: ignore[arg-type]
    return Capture(key, ref_id, None if type(applied) is int else money)  # type: ignore[arg-type]


class _Source:
    """A :class:`~loancore.quota.QuotaState` seen through :class:`loancore.quota.ViewSource`."""

    __slots__ = ("_state", "_store")

    def __init__(self, store: MemoryQuotaStore) -> None:
        self._state = store._state
        self._store = store

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        state = self._state
        line = state.lines.get(line_id)
        if line is None:
            return None, None, None, None
        master_id = line.master_id
        if master_id is None:
            return line, state.balances[line_id], None, None
        return line, state.balances[line_id], state.lines[master_id], state.balances[master_id]

    def hold(self, hold_id: str) -> QuotaHold | None:
        hold = self._state.holds.get(hold_id)
        if hold is None:
            index = self._store._captured.get(hold_id)
            if index is not None:
                return _captured_hold(self._store, hold_id, index)
        return hold

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        holds = self._state.holds
        return tuple(holds[i] for i in sorted(self._state.open_holds.get(line_id, ())))

    def sub_lines_used_minor(self, master_id: str) -> int:
        balances = self._state.balances
        return sum(balances[i].used_minor for i in self._state.sub_lines.get(master_id, ()))

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        lines = self._state.lines
        return sum(
            lines[i].limit_exposure_minor(as_of)
            for i in self._state.masters.get(borrower_id, ())
            if i != exclude_line_id
        )
