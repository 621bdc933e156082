"""MemoryQuotaStore: the plain, in-memory reference implementation of the quota store.

Tests, notebooks and embedded use run on it; speed is judged on the SQL stores. It keeps
dictionaries of immutable values (lines, balances, holds, and small indexes of ids as frozensets)
and an append-only list of journal events. Every command goes the one way the SQL store goes too:
load a :class:`~loancore.quota.QuotaView`, let :func:`loancore.quota.decide` decide (it raises
:class:`~loancore.errors.QuotaRejected` for a refusal), then store the decision with dictionary
assignments that cannot fail. So a refused or invalid command changes nothing and is not recorded.

One re-entrant lock serialises commands and reads. A unit of work that spans several stores can
pass its own lock (``MemoryQuotaStore(lock=...)``), hold it for the whole unit, take
:meth:`MemoryQuotaStore._checkpoint` first and :meth:`MemoryQuotaStore._restore` it if the unit
fails: the store is then as it was, journal and idempotency keys included.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterable, Iterator, Sequence

import attrs

from loancore.checks import require_id
from loancore.errors import IdempotencyConflict, InvalidInput, InvariantViolation, NotFound
from loancore.money import Money
from loancore.quota import (
    Command,
    Decision,
    HoldStatus,
    LineBalance,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaIssue,
    QuotaLine,
    QuotaResult,
    QuotaSnapshot,
    available_minor,
    check_as_of,
    check_command,
    check_hold_ids,
    check_rebuild,
    decide,
    load_view,
    rebuild,
)

__all__ = ["MemoryQuotaStore"]

_NONE: frozenset[str] = frozenset()


@attrs.frozen
class _Checkpoint:
    """A store's complete state at one moment: shallow copies of its dictionaries (whose values
    are immutable) and the lengths of its two append-only containers."""

    store_id: int
    lines: dict[str, QuotaLine]
    balances: dict[str, LineBalance]
    holds: dict[str, QuotaHold]
    open_holds: dict[str, frozenset[str]]
    masters: dict[str, frozenset[str]]
    sub_lines: dict[str, frozenset[str]]
    journal_length: int
    applied_length: int


class MemoryQuotaStore:
    """Quota lines, holds and the quota journal in memory (see the module docstring).

    ``config`` holds the borrower cap; ``lock`` is the lock that serialises this store's commands
    and reads (a new ``threading.RLock`` when None); a unit of work passes one shared re-entrant
    lock to every memory store it spans.
    """

    def __init__(
        self, config: QuotaConfig | None = None, *, lock: threading.RLock | None = None
    ) -> None:
        self.config = QuotaConfig() if config is None else config
        if not isinstance(self.config, QuotaConfig):
            raise InvalidInput("config", config, "expected a QuotaConfig")
        if lock is not None and not (hasattr(lock, "acquire") and hasattr(lock, "release")):
            raise InvalidInput("lock", lock, "expected a threading.RLock")
        self._lock = threading.RLock() if lock is None else lock
        self._lines: dict[str, QuotaLine] = {}
        self._balances: dict[str, LineBalance] = {}
        self._holds: dict[str, QuotaHold] = {}
        self._open_holds: dict[str, frozenset[str]] = {}  # line id -> its open holds' ids
        self._masters: dict[str, frozenset[str]] = {}  # borrower id -> master line ids
        self._sub_lines: dict[str, frozenset[str]] = {}  # master line id -> sub-line ids
        self._journal: list[QuotaEvent] = []  # append-only
        self._applied: dict[str, tuple[Command, QuotaResult]] = {}  # insert-only, in order

    # -- writing --------------------------------------------------------------------------------

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        """Apply ``command`` as of the business date ``as_of`` (see :mod:`loancore.quota`).

        Returns the accepted result; a key applied before returns the first result with
        ``replayed`` True (a different command under it raises IdempotencyConflict). A refusal
        raises :class:`~loancore.errors.QuotaRejected` and is not recorded.
        """
        check_as_of(as_of)
        check_command(command)
        with self._lock:
            done = self._applied.get(command.key)
            if done is not None:
                first, result = done
                if first != command:
                    raise IdempotencyConflict(command.key, f"first applied as {first!r}")
                return attrs.evolve(result, replayed=True)
            view = load_view(command, _Source(self), as_of=as_of)
            decision = decide(command, view, as_of=as_of, config=self.config)
            self._store(decision)
            result = QuotaResult(command.key, decision.events)
            self._applied[command.key] = (command, result)
            return result

    def apply_many(
        self, commands: Iterable[Command], *, as_of: datetime.date
    ) -> tuple[QuotaResult, ...]:
        """Apply ``commands`` in order as one step: each one's :meth:`apply` result, or, when
        one raises, that error and the store as it was before the first."""
        commands = tuple(commands)
        with self._lock:
            checkpoint = self._checkpoint()
            try:
                return tuple(self.apply(command, as_of=as_of) for command in commands)
            except BaseException:
                self._restore(checkpoint)
                raise

    def _store(self, decision: Decision) -> None:
        """Write an accepted decision's new values and events (lock held; cannot fail)."""
        for line in decision.lines:
            if line.line_id not in self._lines:
                if line.master_id is None:
                    _add(self._masters, line.borrower_id, line.line_id)
                else:
                    _add(self._sub_lines, line.master_id, line.line_id)
            self._lines[line.line_id] = line
        for line_id, balance in decision.balances:
            self._balances[line_id] = balance
        for hold in decision.holds:
            self._holds[hold.hold_id] = hold
            open_ids = self._open_holds.get(hold.line_id, _NONE)
            if hold.status is HoldStatus.OPEN:
                self._open_holds[hold.line_id] = open_ids | {hold.hold_id}
            else:
                self._open_holds[hold.line_id] = open_ids - {hold.hold_id}
        self._journal.extend(decision.events)

    # -- a unit of work's checkpoint ------------------------------------------------------------

    def _checkpoint(self) -> object:
        """The store's complete mutable state, for :meth:`_restore` (a unit of work takes one
        before its first command). Shallow copies: every value inside is immutable."""
        with self._lock:
            return _Checkpoint(
                id(self), dict(self._lines), dict(self._balances), dict(self._holds),
                dict(self._open_holds), dict(self._masters), dict(self._sub_lines),
                len(self._journal), len(self._applied),
            )  # fmt: skip

    def _restore(self, checkpoint: object) -> None:
        """Put the store back as it was when ``checkpoint`` was taken: lines, balances, holds,
        journal and idempotency keys (the keys applied since are free again)."""
        if not isinstance(checkpoint, _Checkpoint) or checkpoint.store_id != id(self):
            raise InvalidInput("checkpoint", checkpoint, "expected a checkpoint of this store")
        with self._lock:
            if (
                len(self._journal) < checkpoint.journal_length
                or len(self._applied) < checkpoint.applied_length
            ):
                raise InvariantViolation("quota checkpoint is newer than the store's state")
            self._lines = dict(checkpoint.lines)
            self._balances = dict(checkpoint.balances)
            self._holds = dict(checkpoint.holds)
            self._open_holds = dict(checkpoint.open_holds)
            self._masters = dict(checkpoint.masters)
            self._sub_lines = dict(checkpoint.sub_lines)
            del self._journal[checkpoint.journal_length :]
            for _ in range(len(self._applied) - checkpoint.applied_length):  # bounded: the newer
                self._applied.popitem()  # keys, which a dict pops last-in first-out

    # -- reading --------------------------------------------------------------------------------

    def result(self, key: str) -> QuotaResult | None:
        """The result of the operation applied under ``key``, or None if there was none."""
        require_id("key", key)
        with self._lock:
            done = self._applied.get(key)
        return None if done is None else done[1]

    def line(self, line_id: str) -> QuotaLine:
        require_id("line_id", line_id)
        with self._lock:
            line = self._lines.get(line_id)
        if line is None:
            raise NotFound("quota line", line_id)
        return line

    def balance(self, line_id: str) -> LineBalance:
        require_id("line_id", line_id)
        with self._lock:
            balance = self._balances.get(line_id)
        if balance is None:
            raise NotFound("quota line", line_id)
        return balance

    def hold(self, hold_id: str) -> QuotaHold:
        require_id("hold_id", hold_id)
        with self._lock:
            hold = self._holds.get(hold_id)
        if hold is None:
            raise NotFound("quota hold", hold_id)
        return hold

    def holds(self, hold_ids: Sequence[str]) -> dict[str, QuotaHold]:
        ids = check_hold_ids(hold_ids)
        with self._lock:
            return {hold_id: self._holds[hold_id] for hold_id in ids if hold_id in self._holds}

    def available(self, line_id: str, *, as_of: datetime.date) -> Money:
        """What can be held or drawn on ``line_id`` now: its own available bound by its master's."""
        require_id("line_id", line_id)
        check_as_of(as_of)
        with self._lock:
            line, balance, master, master_balance = _Source(self).line_pair(line_id)
        if line is None or balance is None:
            raise NotFound("quota line", line_id)
        return line.money(available_minor(line, balance, master, master_balance, as_of=as_of))

    def lines(self, *, borrower_id: str | None = None) -> tuple[QuotaLine, ...]:
        """Every line (of ``borrower_id`` if given), in line id order."""
        if borrower_id is not None:
            require_id("borrower_id", borrower_id)
        with self._lock:
            found = [
                line
                for line in self._lines.values()
                if borrower_id is None or line.borrower_id == borrower_id
            ]
        return tuple(sorted(found, key=lambda line: line.line_id))

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        """The open holds of ``line_id`` in hold id order."""
        require_id("line_id", line_id)
        with self._lock:
            return _Source(self).open_holds(line_id)

    def line_ids_with_expired_holds(self, *, as_of: datetime.date) -> tuple[str, ...]:
        """Lines with an open hold whose expiry is before ``as_of`` (work for ExpireHolds)."""
        check_as_of(as_of)
        with self._lock:
            holds = self._holds
            found = [
                line_id
                for line_id, ids in self._open_holds.items()
                if any(holds[i].expires_on < as_of for i in ids)
            ]
        return tuple(sorted(found))

    def journal(self) -> Iterator[QuotaEvent]:
        """Every quota event in journal order."""
        with self._lock:
            return iter(tuple(self._journal))

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds."""
        with self._lock:
            return QuotaSnapshot(dict(self._lines), dict(self._balances), dict(self._holds))

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored state differs."""
        with self._lock:
            events = tuple(self._journal)
            stored = self.snapshot()
        return check_rebuild(rebuild(events), stored)


def _add(index: dict[str, frozenset[str]], key: str, value: str) -> None:
    index[key] = index.get(key, _NONE) | {value}


class _Source:
    """The store's dictionaries seen through :class:`loancore.quota.ViewSource` (lock held)."""

    def __init__(self, store: MemoryQuotaStore) -> None:
        self._store = store

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        lines, balances = self._store._lines, self._store._balances
        line = lines.get(line_id)
        if line is None:
            return None, None, None, None
        if line.master_id is None:
            return line, balances[line_id], None, None
        return line, balances[line_id], lines[line.master_id], balances[line.master_id]

    def hold(self, hold_id: str) -> QuotaHold | None:
        return self._store._holds.get(hold_id)

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        holds = self._store._holds
        return tuple(holds[i] for i in sorted(self._store._open_holds.get(line_id, _NONE)))

    def sub_lines_used_minor(self, master_id: str) -> int:
        balances = self._store._balances
        return _total(balances[i].used_minor for i in self._store._sub_lines.get(master_id, _NONE))

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        lines = self._store._lines
        return _total(
            lines[i].limit_exposure_minor(as_of)
            for i in self._store._masters.get(borrower_id, _NONE)
            if i != exclude_line_id
        )


def _total(amounts: Iterable[int]) -> int:
    return sum(amounts, 0)
