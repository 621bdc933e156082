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

from loancore.errors import IdempotencyConflict, InvalidInput, NotFound
from loancore.money import Money
from loancore.quota import (
    Command,
    LineBalance,
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
    load_view,
    rebuild,
    snapshot_of,
)

__all__ = ["MemoryQuotaStore"]


class MemoryQuotaStore:
    """Quota lines, holds and the quota journal in memory (tests, embedded use, benchmarks).

    The state is a :class:`~loancore.quota.QuotaState`, the same fold that
    :func:`~loancore.quota.rebuild` runs: an accepted operation's events are folded into it (each
    fold step checks before it writes), then appended to the journal.
    """

    def __init__(self, config: QuotaConfig | None = None) -> None:
        self.config = QuotaConfig() if config is None else config
        if not isinstance(self.config, QuotaConfig):
            raise InvalidInput("config", config, "expected a QuotaConfig")
        self._lock = threading.Lock()
        self._state = QuotaState()
        self._source = _Source(self._state)
        self._done: dict[str, tuple[Command, QuotaResult]] = {}
        self._journal: list[QuotaEvent] = []

    # -- writing --------------------------------------------------------------------------------

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        """Apply ``command`` as of the business date ``as_of`` (see :mod:`loancore.quota`)."""
        if type(as_of) is not datetime.date:
            check_as_of(as_of)
        check_command(command)
        with self._lock:
            done = self._done.get(command.key)
            if done is not None:
                return _replay(command, done)
            view = load_view(command, self._source, as_of=as_of)
            code, events = evaluate(command, view, as_of=as_of, config=self.config)
            if len(events) == 1:
                self._state.apply(events[0])  # checks, then writes: all or nothing
            elif events:
                self._apply_all(events)
            result = QuotaResult(command.key, code, events)
            self._journal.extend(events)
            self._done[command.key] = (command, result)
            return result

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
        done = self._done.get(key)
        return None if done is None else done[1]

    def line(self, line_id: str) -> QuotaLine:
        line = self._state.lines.get(line_id)
        if line is None:
            raise NotFound("quota line", line_id)
        return line

    def balance(self, line_id: str) -> LineBalance:
        self.line(line_id)
        return self._state.balances[line_id]

    def hold(self, hold_id: str) -> QuotaHold:
        hold = self._state.holds.get(hold_id)
        if hold is None:
            raise NotFound("quota hold", hold_id)
        return hold

    def available(self, line_id: str, *, as_of: datetime.date) -> Money:
        """What can be held or drawn on ``line_id`` now: its own available bound by its master's."""
        check_as_of(as_of)
        with self._lock:
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
        return self._source.open_holds(line_id)

    def line_ids_with_expired_holds(self, *, as_of: datetime.date) -> tuple[str, ...]:
        """Lines with an open hold whose expiry is before ``as_of`` (work for ExpireHolds)."""
        check_as_of(as_of)
        holds = self._state.holds
        with self._lock:
            return tuple(
                sorted(
                    line_id
                    for line_id, ids in self._state.open_holds.items()
                    if any(holds[i].expires_on < as_of for i in ids)
                )
            )

    def journal(self) -> Iterator[QuotaEvent]:
        """Every quota event in journal order."""
        return iter(tuple(self._journal))

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds."""
        with self._lock:
            return snapshot_of(self._state)

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored state differs."""
        with self._lock:
            events = tuple(self._journal)
            stored = snapshot_of(self._state)
        return check_rebuild(rebuild(events), stored)


def _replay(command: Command, done: tuple[Command, QuotaResult]) -> QuotaResult:
    first_command, first_result = done
    if first_command != command:
        raise IdempotencyConflict(command.key, f"first applied as {first_command!r}")
    return QuotaResult(first_result.key, first_result.code, first_result.events, replayed=True)


class _Source:
    """A :class:`~loancore.quota.QuotaState` seen through :class:`loancore.quota.ViewSource`."""

    __slots__ = ("_state",)

    def __init__(self, state: QuotaState) -> None:
        self._state = state

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
        return self._state.holds.get(hold_id)

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
