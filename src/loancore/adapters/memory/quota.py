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

from loancore.errors import IdempotencyConflict, InvalidInput, NotFound, RejectionCode
from loancore.money import CURRENCY_MINOR_UNITS, Money
from loancore.quota import (
    Capture,
    Command,
    EventKind,
    Hold,
    HoldStatus,
    LineBalance,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaIssue,
    QuotaLine,
    QuotaResult,
    QuotaSnapshot,
    QuotaState,
    LineStatus,
    available_minor,
    check_as_of,
    check_command,
    check_rebuild,
    evaluate,
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
        # Holds captured on the fast path, kept out of self._state.holds as atoms (line id,
        # currency, amount, expiry, captured amount) that the cyclic garbage collector leaves
        # alone; a captured hold is final, so only reads need it (_captured_hold builds the
        # QuotaHold value on demand).
        self._captured: dict[str, _CapturedRow] = {}
        self._source = _Source(self._state, self._captured)
        # Balances the fast path moved, as mutable [used, held, frozen] counters: authoritative
        # over self._state.balances for the lines they name, and written back as LineBalance
        # values (_settle) before anything else reads balances. A hold or a capture then adds to
        # two integers instead of building two frozen LineBalance values.
        self._counters: _Counters = {}
        # Holds placed on the fast path and not yet captured, as atoms (line id, currency,
        # amount, expiry): their capture on the fast path never needs a QuotaHold; _settle
        # builds one for each still open before anything else reads holds.
        self._opened: dict[str, _OpenedRow] = {}
        # The journal as rows: one tuple of a QuotaEvent's fields, with the kind as its int value
        # (_row, _event). A tuple of strings, ints, dates and None is left alone by the cyclic
        # garbage collector, while a QuotaEvent (its EventKind, its __dict__) would be walked in
        # every full collection for as long as the store lives.
        self._journal: list[_Row] = []
        # Idempotency, one entry per key: for an operation accepted on the fast path, the journal
        # index of its one event and the command's fields (atoms again, left alone by the
        # collector; the command is rebuilt when a replay must be compared with it); otherwise
        # (command, code, journal start, journal stop). A result is rebuilt from the journal
        # when asked for again.
        self._applied: dict[str, tuple[object, ...]] = {}
        self.fast_path = True
        """False sends every command the general way (tests compare the two paths)."""

    # -- writing --------------------------------------------------------------------------------

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        """Apply ``command`` as of the business date ``as_of`` (see :mod:`loancore.quota`).

        Holds and captures that will be accepted take a fast path (:func:`_hold_fast`,
        :func:`_capture_fast`) with the same checks, event, new state and result as the general
        path, in fewer calls; anything else, including every refusal and error, goes the general
        way (load a view, :func:`~loancore.quota.evaluate`, fold).
        """
        if type(as_of) is not datetime.date:
            check_as_of(as_of)
        fast = _FAST_PATHS.get(type(command)) if self.fast_path else None
        if fast is None:
            check_command(command)
        with self._lock:
            key = command.key
            applied = self._applied.get(key)
            if applied is not None:
                first = _first_command(key, applied)
                if first != command:
                    raise IdempotencyConflict(key, f"first applied as {first!r}")
                return self._result(key, replayed=True)
            if fast is not None:
                event = fast(self, command, as_of)
                if event is not None:
                    return QuotaResult(key, _OK, (event,))
            self._settle()
            journal = self._journal
            start = len(journal)
            view = load_view(command, self._source, as_of=as_of)
            code, events = evaluate(command, view, as_of=as_of, config=self.config)
            if len(events) == 1:
                self._state.apply(events[0])  # checks, then writes: all or nothing
            elif events:
                self._apply_all(events)
            journal.extend(map(_row, events))
            self._applied[key] = (command, code, start, start + len(events))
            return QuotaResult(key, code, events)

    def _settle(self) -> None:
        """Write the fast path's counters and open holds back into the state as LineBalance and
        QuotaHold values (lock held)."""
        state = self._state
        balances, holds = state.balances, state.holds
        for line_id, (used, held, frozen) in self._counters.items():
            balances[line_id] = LineBalance(used, held, frozen)
        self._counters.clear()
        for hold_id, (line_id, currency, amount_minor, expires_on) in self._opened.items():
            holds[hold_id] = QuotaHold(hold_id, line_id, currency, amount_minor, expires_on)
        self._opened.clear()

    def _result(self, key: str, *, replayed: bool = False) -> QuotaResult:
        applied = self._applied[key]
        journal = self._journal
        if type(applied[0]) is int:
            return QuotaResult(key, _OK, (_event(journal[applied[0]]),), replayed)
        _command, code, start, stop = applied
        events = tuple(_event(row) for row in journal[start:stop])
        return QuotaResult(key, code, events, replayed)

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
            rows = tuple(self._journal)
        return iter(tuple(_event(row) for row in rows))

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> QuotaSnapshot:
        self._settle()
        state = self._state
        holds = dict(state.holds)
        for hold_id, captured in self._captured.items():
            holds[hold_id] = _captured_hold(hold_id, captured)
        return QuotaSnapshot(dict(state.lines), dict(state.balances), holds)

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored state differs."""
        with self._lock:
            rows = tuple(self._journal)
            stored = self._snapshot()
        return check_rebuild(rebuild(_event(row) for row in rows), stored)


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

_ACTIVE = LineStatus.ACTIVE
_OPEN = HoldStatus.OPEN
_OK = RejectionCode.OK
_PLACED = EventKind.HOLD_PLACED
_CAPTURED_EVENT = EventKind.HOLD_CAPTURED
_CAPTURED = HoldStatus.CAPTURED
_PLACED_VALUE, _CAPTURED_VALUE = _PLACED.value, _CAPTURED_EVENT.value


_Counters = dict[str, list[int]]


def _counter(state: QuotaState, counters: _Counters, line_id: str) -> list[int]:
    """The line's mutable [used, held, frozen], made from its stored balance on first use."""
    counter = counters.get(line_id)
    if counter is None:
        balance = state.balances[line_id]
        counter = counters[line_id] = [
            balance.used_minor, balance.held_minor, balance.frozen_minor
        ]  # fmt: skip
    return counter


def _free_minor(line: QuotaLine, counter: list[int], as_of: datetime.date) -> int | None:
    """effective - used - held - frozen of a line usable on ``as_of``; None if it is not usable
    (closed, frozen whole, not started, expired: the general path names the code)."""
    if (
        line.status is not _ACTIVE
        or line.frozen_whole
        or as_of < line.starts_on
        or as_of > line.expires_on
    ):
        return None
    limit = line.limit_permanent_minor
    if line.temporary_limits:
        limit = line.limit_effective_minor(as_of)
    used, held, frozen = counter
    return limit - used - held - frozen


def _hold_fast(store: MemoryQuotaStore, command: Hold, as_of: datetime.date) -> QuotaEvent | None:
    """An accepted Hold: held += amount on the line and its master, a new open hold, the journal
    row and the idempotency entry; its event."""
    state, counters, key = store._state, store._counters, command.key
    line = state.lines.get(command.line_id)
    amount = command.amount
    if line is None or amount.currency != line.currency or command.expires_on < as_of:
        return None
    if key in state.holds or key in store._opened or key in store._captured:
        return None
    line_id, master_id = line.line_id, line.master_id
    counter = _counter(state, counters, line_id)
    minor = amount.minor_units
    free = _free_minor(line, counter, as_of)
    if free is None or minor > free:
        return None
    if master_id is not None:
        master_counter = _counter(state, counters, master_id)
        free = _free_minor(state.lines[master_id], master_counter, as_of)
        if free is None or minor > free:
            return None
        master_counter[1] += minor  # every check is done: only writes that cannot fail follow
    counter[1] += minor
    currency, expires_on = line.currency, command.expires_on
    store._opened[key] = (line_id, currency, minor, expires_on)
    open_ids = state.open_holds.get(line_id)
    if open_ids is None:
        open_ids = state.open_holds[line_id] = {}
    open_ids[key] = None
    journal, borrower_id = store._journal, line.borrower_id
    store._applied[key] = (len(journal), _HOLD_TAG, line_id, amount.amount, currency, expires_on)
    journal.append((
        key, 0, _PLACED_VALUE, as_of, borrower_id, line_id, master_id, currency, minor, 0, key,
        None, expires_on, "",
    ))  # fmt: skip
    return QuotaEvent(
        key, 0, _PLACED, as_of, borrower_id, line_id, master_id, currency, minor, 0, key,
        None, expires_on,
    )  # fmt: skip


def _capture_fast(
    store: MemoryQuotaStore, command: Capture, as_of: datetime.date
) -> QuotaEvent | None:
    """An accepted Capture: used += captured, held -= hold on the line and its master, the
    journal row and the idempotency entry; its event."""
    state, counters, hold_id = store._state, store._counters, command.hold_id
    opened = store._opened.get(hold_id)
    in_state = opened is None  # a hold the general path placed, or one settled since
    if in_state:
        hold = state.holds.get(hold_id)
        if hold is None or hold.status is not _OPEN:
            return None
        opened = (hold.line_id, hold.currency, hold.amount_minor, hold.expires_on)
    line_id, _currency, hold_minor, expires_on = opened
    if as_of > expires_on:
        return None
    line = state.lines[line_id]
    if line.status is not _ACTIVE:
        return None
    captured, amount = hold_minor, command.amount
    if amount is not None:
        if amount.currency != line.currency:
            return None
        captured = amount.minor_units
        if captured > hold_minor:
            return None
    master_id = line.master_id
    counter = _counter(state, counters, line_id)
    if counter[1] < hold_minor:
        return None  # the fold's invariant; the general path raises it
    if master_id is not None:
        master_counter = _counter(state, counters, master_id)
        if state.lines[master_id].status is not _ACTIVE or master_counter[1] < hold_minor:
            return None
        master_counter[0] += captured
        master_counter[1] -= hold_minor
    counter[0] += captured
    counter[1] -= hold_minor
    currency = line.currency
    if in_state:
        del state.holds[hold_id]
    else:
        del store._opened[hold_id]
    store._captured[hold_id] = (line_id, currency, hold_minor, expires_on, captured)
    open_ids = state.open_holds.get(line_id)
    if open_ids is not None:
        open_ids.pop(hold_id, None)
    key, journal, borrower_id = command.key, store._journal, line.borrower_id
    released = hold_minor - captured
    store._applied[key] = (
        (len(journal), _CAPTURE_TAG, hold_id, None, None)
        if amount is None
        else (len(journal), _CAPTURE_TAG, hold_id, amount.amount, currency)
    )
    journal.append((
        key, 0, _CAPTURED_VALUE, as_of, borrower_id, line_id, master_id, currency, captured,
        released, hold_id, None, None, "",
    ))  # fmt: skip
    return QuotaEvent(
        key, 0, _CAPTURED_EVENT, as_of, borrower_id, line_id, master_id, currency, captured,
        released, hold_id,
    )  # fmt: skip


_FAST_PATHS = {Hold: _hold_fast, Capture: _capture_fast}

# -- what the store keeps: atoms the cyclic garbage collector does not walk ------------------------

_Row = tuple[object, ...]
_KINDS = {kind.value: kind for kind in EventKind}
_HOLD_TAG, _CAPTURE_TAG = "hold", "capture"  # strings, not the classes: a class is a tracked object


def _row(event: QuotaEvent) -> _Row:
    """The journal row of ``event``: its fields in order, the kind as its int value."""
    return (
        event.key, event.seq, event.kind.value, event.as_of, event.borrower_id, event.line_id,
        event.master_id, event.currency, event.amount_minor, event.released_minor, event.ref_id,
        event.starts_on, event.ends_on, event.product,
    )  # fmt: skip


def _event(row: _Row) -> QuotaEvent:
    """The event a journal row stands for (equal to the one that was applied)."""
    key, seq, kind, *rest = row
    return QuotaEvent(key, seq, _KINDS[kind], *rest)  # type: ignore[arg-type]


_OpenedRow = tuple[str, str, int, datetime.date]
_CapturedRow = tuple[str, str, int, datetime.date, int]


def _captured_hold(hold_id: str, row: _CapturedRow) -> QuotaHold:
    """The QuotaHold value of a hold captured on the fast path (equal to the fold's)."""
    line_id, currency, amount_minor, expires_on, captured_minor = row
    return QuotaHold(
        hold_id, line_id, currency, amount_minor, expires_on, _CAPTURED, captured_minor
    )


def _first_command(key: str, applied: tuple[object, ...]) -> Command:
    """The command first applied under ``key``, from its idempotency entry."""
    if type(applied[0]) is not int:
        return applied[0]  # type: ignore[return-value]
    kind, ref_id, amount, currency, *rest = applied[1:]
    money = None if amount is None else Money(amount, currency)
    if kind == _HOLD_TAG:
        return Hold(key, ref_id, money, *rest)  # type: ignore[arg-type]
    return Capture(key, ref_id, money)  # type: ignore[arg-type]


class _Source:
    """A :class:`~loancore.quota.QuotaState` seen through :class:`loancore.quota.ViewSource`."""

    __slots__ = ("_captured", "_state")

    def __init__(self, state: QuotaState, captured: dict[str, _CapturedRow]) -> None:
        self._state = state
        self._captured = captured

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
            captured = self._captured.get(hold_id)
            if captured is not None:
                return _captured_hold(hold_id, captured)
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
