"""The ledger's SQL store: :class:`SqlLedgerStore`, one schema on SQLite and PostgreSQL.

The adapter is split by job: :mod:`~loancore.adapters.sql.ledger_schema` (tables, indexes,
migrations; the table list is there and in ``docs/storage.md``),
:mod:`~loancore.adapters.sql.ledger_writing` (booking rows in few round trips) and
:mod:`~loancore.adapters.sql.ledger_reading` (entries, sums, detail). This module is the store:
transactions, locking, and the calls into the pure rules.

Every write runs the pure posting rules of :mod:`loancore.ledger.rules` inside one transaction.
SQLite's ``BEGIN IMMEDIATE`` serializes writers. On PostgreSQL (schema 5) writers on different
loans run in parallel (docs/scaling.md): a post takes the ledger's advisory lock in *shared* mode
and a slot of the running totals of its own; period close and chart changes take the lock in
*exclusive* mode, so they wait for every post in flight and later posts wait for them. Entry
numbers come from a sequence; idempotency keys, entry ids and reversal targets are decided by
their UNIQUE constraints (a writer that loses a race reads what the winner booked and answers as
a replay would); memo postings, whose rules read register balances, also take an exclusive memo
lock, so memo writers are serialized among themselves but not with journal writers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loancore.adapters.sql.base import (
    Bind,
    ensure_schema,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.ledger_reading import (
    _entries_where,
    _entries_with_seqs,
    _last_seq,
    _ledger_postings,
    _load_entries,
    _memo_from_row,
    _memo_net,
    _memos_where,
    _net,
    _scalars_in,
)
from loancore.adapters.sql.ledger_schema import (
    CLOSES,
    DAILY,
    ENTRIES,
    INDEXED_DIMENSIONS,
    LEDGER_COMPONENT,
    LEDGER_MIGRATIONS,
    LEDGER_SCHEMA_VERSION,
    LEDGER_TABLES,
    LEGS,
    MEMO,
    NO_DIMENSION,
    SEGMENT_DIMENSIONS,
    STATE,
    SUBJECTS,
    TOTALS,
    TOTALS_SLOTS,
)
from loancore.adapters.sql.ledger_writing import (
    SlotFull,
    _book,
    _book_memos,
    _database_errors,
    _lock_total_slots,
    _lost_race,
)
from loancore.checks import require_date, require_id
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    NotFound,
    PostingRejected,
    RejectionCode,
)
from loancore.ledger.entries import (
    DimensionsLike,
    JournalEntry,
    MemoPosting,
    MemoRegister,
    dimensions_of,
    reversal_of,
)
from loancore.ledger.reports import (
    GeneralLedger,
    TrialBalance,
    general_ledger_of,
    in_normal_side,
    trial_balance_of,
)
from loancore.ledger.rules import (
    Issue,
    check_batch,
    check_chart_change,
    check_memo_batch,
    entries_argument,
    memo_postings_argument,
    next_closed_through,
    plan_batch,
    plan_memo_batch,
    require_no_issues,
)
from loancore.ledger.subjects import Chart, Subject, enum_value
from loancore.money import Money, minor_units_of

__all__ = [
    "INDEXED_DIMENSIONS",
    "LEDGER_COMPONENT",
    "LEDGER_MIGRATIONS",
    "LEDGER_SCHEMA_VERSION",
    "LEDGER_TABLES",
    "NO_DIMENSION",
    "SEGMENT_DIMENSIONS",
    "SqlLedgerStore",
]

_READ_CHUNK = 2_000  # entries per page when streaming the journal


@attrs.frozen
class _State:
    closed_through: date | None
    chart_version: int
    slot: int = 0  # the writer's slot of the running totals (PostgreSQL; SQLite uses 0)


# How a transaction locks the ledger before reading its state (PostgreSQL advisory locks, held
# to the end of the transaction; SQLite's BEGIN IMMEDIATE has already serialized writers).
_READ, _SHARED, _EXCLUSIVE, _MEMO = "read", "shared", "exclusive", "memo"
_LOCK_CLASS = 0x4C43_0000  # "LC": loancore's advisory-lock space, keyed by the state table's OID
_MEMO_LOCK_CLASS = _LOCK_CLASS + 1
_SLOT_LOCK_CLASS = _LOCK_CLASS + 0x100  # + the slot number
_OID = "'ledger_state'::regclass::oid::int"  # per schema: ledgers in two schemas never meet
_CLAIM_SLOT = (
    f"COALESCE((SELECT s FROM generate_series(0, {TOTALS_SLOTS - 1}) AS s"
    f" WHERE pg_try_advisory_xact_lock({_SLOT_LOCK_CLASS} + s, {_OID}) LIMIT 1),"
    f" mod(pg_backend_pid(), {TOTALS_SLOTS}))"
)
_LOCK_SQL = {
    # A writer: the shared lock, and the first totals slot no other transaction holds (when all
    # are taken, one by its backend id: it may then wait for another writer's row locks).
    _SHARED: f"SELECT pg_advisory_xact_lock_shared({_LOCK_CLASS}, {_OID})::text, {_CLAIM_SLOT}",
    _EXCLUSIVE: f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, {_OID})::text, 0",
    _MEMO: (
        f"SELECT pg_advisory_xact_lock_shared({_LOCK_CLASS}, {_OID})::text,"
        f" pg_advisory_xact_lock({_MEMO_LOCK_CLASS}, {_OID})::text, 0"
    ),
}
_ATTEMPTS_MAX = 5  # full-path bookings of one post that lost a race to a concurrent writer


class _ChartCache:
    """The last chart read, keyed by ``ledger_state.chart_version``; shared by bound copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: tuple[int, Chart] | None = None


class SqlLedgerStore:
    """A :class:`~loancore.ports.LedgerStore` on SQLite or PostgreSQL through SQLAlchemy Core.

    ``bind`` is an Engine (each call is its own transaction) or the application's Connection
    (each call joins the application's transaction inside a SAVEPOINT; the application commits or
    rolls back). ``create_schema`` (default True) runs :func:`ensure_schema` for the ``ledger``
    component, which refuses a database from a newer loancore. :meth:`using` returns a store bound
    to another Connection without checking the schema again (one per request, say).

    On PostgreSQL an application transaction that posted holds the ledger's shared lock (and
    its totals slot) until it commits or rolls back: other posts go on, a period close waits.
    """

    def __init__(self, bind: Bind, *, create_schema: bool = True) -> None:
        self._bind = bind
        self._cache = _ChartCache()
        if create_schema:
            with write_transaction(bind) as connection:
                ensure_schema(
                    connection,
                    LEDGER_COMPONENT,
                    LEDGER_SCHEMA_VERSION,
                    LEDGER_TABLES,
                    migrations=LEDGER_MIGRATIONS,
                )
                if connection.execute(sa.select(STATE.c.id)).first() is None:
                    first_state = STATE.insert().values(id=1, closed_through=None, chart_version=0)
                    connection.execute(first_state)

    def using(self, connection: Connection) -> SqlLedgerStore:
        """This store, bound to ``connection`` (joining its transaction); shares the chart cache."""
        bound = SqlLedgerStore(connection, create_schema=False)
        bound._cache = self._cache
        return bound

    @property
    def bind(self) -> Bind:
        return self._bind

    # -- state and chart ------------------------------------------------------------------------

    def _state(self, connection: Connection, *, lock: str) -> _State:
        """The ledger's state, read after taking ``lock`` (``_READ``: none).

        PostgreSQL: the lock is its own statement, so the state is read with a snapshot taken
        after the lock was granted (READ COMMITTED): a post that waited for a period close sees
        the new closed-through date. Driver-level SQL: it runs once a post, and the Core
        statement cost ~0.3 ms a batch on SQLite. SQLite keeps the date as SQLAlchemy's ISO text.
        """
        slot = 0
        if lock != _READ and connection.dialect.name == "postgresql":
            slot = int(connection.exec_driver_sql(_LOCK_SQL[lock]).one()[-1])
        sql = f"SELECT closed_through, chart_version FROM {STATE.name} WHERE id = 1"
        closed, version = connection.exec_driver_sql(sql).one()
        if isinstance(closed, str):
            closed = date.fromisoformat(closed)
        return _State(closed, int(version), slot)

    def _chart(self, connection: Connection, state: _State) -> Chart:
        cached = self._cache.entry
        if cached is not None and cached[0] == state.chart_version:
            return cached[1]
        rows = connection.execute(sa.select(SUBJECTS).order_by(SUBJECTS.c.code)).all()
        chart = Chart(
            Subject(
                code=r.code,
                name_zh=r.name_zh,
                name_en=r.name_en,
                kind=r.kind,
                normal_side=r.normal_side,
                parent_code=r.parent_code,
                open_date=r.open_date,
                close_date=r.close_date,
            )
            for r in rows
        )
        if isinstance(self._bind, Engine):
            # Only committed charts are cached: a Connection-bound store may be reading its own
            # uncommitted save_chart, whose version number a rollback would free for reuse.
            with self._cache.lock:
                self._cache.entry = (state.chart_version, chart)
        return chart

    def load_chart(self) -> Chart:
        with read_connection(self._bind) as connection:
            return self._chart(connection, self._state(connection, lock=_READ))

    def save_chart(self, chart: Chart) -> None:
        if not isinstance(chart, Chart):
            raise InvalidInput("chart", chart, "expected a Chart")
        with write_transaction(self._bind) as connection:
            state = self._state(connection, lock=_EXCLUSIVE)
            check_chart_change(self._chart(connection, state), chart, _posted_days(connection))
            stored = set(connection.execute(sa.select(SUBJECTS.c.code)).scalars())
            removed = sorted(stored - {s.code for s in chart})
            if removed:
                connection.execute(SUBJECTS.delete().where(SUBJECTS.c.code.in_(removed)))
            rows = [_subject_row(s) for s in chart]
            updates = [r for r in rows if r["code"] in stored]
            inserts = [r for r in rows if r["code"] not in stored]
            if inserts:
                connection.execute(SUBJECTS.insert(), inserts)
            if updates:
                statement = (
                    SUBJECTS.update()
                    .where(SUBJECTS.c.code == sa.bindparam("b_code"))
                    .values({k: sa.bindparam(f"b_{k}") for k in updates[0] if k != "code"})
                )
                params = [{f"b_{k}": v for k, v in r.items()} for r in updates]
                connection.execute(statement, params)
            connection.execute(STATE.update().values(chart_version=state.chart_version + 1))

    # -- journal: writes ------------------------------------------------------------------------

    def post(self, entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
        batch = entries_argument(entries)
        if not batch:
            return ()
        with write_transaction(self._bind) as connection:
            return self._post(connection, batch)

    def _post(
        self, connection: Connection, batch: Sequence[JournalEntry]
    ) -> tuple[JournalEntry, ...]:
        state = self._state(connection, lock=_SHARED)
        booked_now = self._post_new(connection, state, batch)
        if booked_now is not None:
            return booked_now
        # Bounded: each retry follows a concurrent writer booking one of the batch's keys or ids
        # after this one read them; the next read sees it (a replay, a conflict or a refusal).
        for attempt in range(_ATTEMPTS_MAX):
            last = attempt == _ATTEMPTS_MAX - 1
            result = self._post_checked(connection, state, batch, last=last)
            if result is not None:
                return result
        raise InvariantViolation("the last booking attempt neither booked nor raised")

    def _post_checked(
        self, connection: Connection, state: _State, batch: Sequence[JournalEntry], *, last: bool
    ) -> tuple[JournalEntry, ...] | None:
        """The full path: every booked entry the batch could meet is read, the rules decide, the
        new entries are booked. None when a concurrent writer booked one of the batch's keys or
        ids after the read (PostgreSQL; the caller reads again), except on the ``last`` attempt,
        which raises the database's error."""
        # One query finds every booked entry the batch could meet: by its idempotency keys
        # (replays) and by its entry ids and reversed ids (taken ids, reversal targets).
        keys = [e.idempotency_key for e in batch]
        ids = {e.entry_id for e in batch} | {e.reverses for e in batch if e.reverses}
        seqs = _scalars_in(
            connection,
            ENTRIES.c.seq,
            ENTRIES.c.idempotency_key,
            keys,
            or_column=ENTRIES.c.entry_id,
            or_values=sorted(ids),
        )
        booked = _entries_with_seqs(connection, sorted(set(seqs)))
        plan = plan_batch(batch, find_by_key={e.idempotency_key: e for e in booked}.get)
        new: tuple[JournalEntry, ...] = plan.new
        if new:
            found = {e.entry_id: e for e in booked}

            def check() -> bool:
                require_no_issues(self._issues(connection, state, new, found, _targets(new)))
                return True

            check()
            if connection.dialect.name == "sqlite":
                _book(connection, new)
            elif not self._book_postgres(connection, state, new, check, raise_lost=last):
                return None
        return tuple(plan.results)

    def _issues(
        self,
        connection: Connection,
        state: _State,
        new: Sequence[JournalEntry],
        found: dict[str, JournalEntry],
        targets: list[str],
    ) -> tuple[Issue, ...]:
        """The posting rules over ``new``, given the booked entries ``found`` by id (which must
        hold every booked reversal target of ``new``; ``targets`` are the ids ``new`` reverses);
        reads which of those are reversed."""
        reversed_ids = set(_scalars_in(connection, ENTRIES.c.reverses, ENTRIES.c.reverses, targets))
        return check_batch(
            new,
            chart=self._chart(connection, state),
            closed_through=state.closed_through,
            find_entry=found.get,
            is_reversed=reversed_ids.__contains__,
            debit_totals=_currency_totals(connection, "journal"),
        )

    def _post_new(
        self, connection: Connection, state: _State, batch: Sequence[JournalEntry]
    ) -> tuple[JournalEntry, ...] | None:
        """Book ``batch`` assuming none of its keys and ids is booked yet (the common case), and
        return what :meth:`_post` would; None, having changed nothing, when that may be wrong.

        The UNIQUE constraints on keys and ids are the test: the batch is booked without first
        looking its 2,000 keys and ids up, and a replayed key or a taken id makes the entries'
        INSERT fail, which is undone (SQLite: the refused statement by SQLite, the batch's earlier
        entries by :func:`_book`'s claim; PostgreSQL: to a SAVEPOINT). Only reversal targets are
        read. Any refusal (an idempotency conflict inside the batch, a rule, a constraint) sends
        the batch to the full path, which reads every booked entry the batch could meet and
        raises exactly what it always did: this path decides only successes, and a success here
        is one the full path would reach too (no key or id was booked, and the rules saw the same
        reversal targets). It states no rule of its own: it runs the same :func:`plan_batch` and
        :func:`check_batch` as the full path, and only the lookup of booked keys and ids is
        answered by the constraints instead of a query.
        """
        try:
            plan = plan_batch(batch, find_by_key=_NOTHING_BOOKED.get)
        except IdempotencyConflict:
            return None
        targets = _targets(plan.new)
        found = {e.entry_id: e for e in _entries_where(connection, ENTRIES.c.entry_id, targets)}

        def check() -> bool:
            return not self._issues(connection, state, plan.new, found, targets)

        if not check():
            return None
        if connection.dialect.name == "sqlite":
            booked = _book(connection, plan.new, claim=True)
        else:
            booked = self._book_postgres(connection, state, plan.new, check, raise_lost=False)
        return tuple(plan.results) if booked else None

    def _book_postgres(
        self,
        connection: Connection,
        state: _State,
        new: Sequence[JournalEntry],
        check: Callable[[], bool],
        *,
        raise_lost: bool,
    ) -> bool:
        """Book ``new`` (checked) inside a SAVEPOINT; False, having changed nothing, when a
        concurrent writer won a race for one of its keys or ids (raised instead when
        ``raise_lost``).

        When the writer's slot of a currency total is full (:class:`SlotFull`: the total nears
        TOTAL_MINOR_MAX, which concurrent writers' checks cannot see exactly), every slot of those
        currencies is locked, the rules run ``check`` again on the now exact totals (False, or
        its exception, when they refuse), and the batch is booked with the totals spread over the
        slots."""
        spread = False
        for _ in range(2):  # the writer's own slot, then every slot locked
            try:
                with connection.begin_nested():
                    return _book(connection, new, slot=state.slot, spread=spread)
            except SlotFull as full:
                if spread:
                    raise InvariantViolation("a spread booking found a slot full") from full
                _lock_total_slots(connection, "journal", full.currencies)
                if not check():
                    return False
                spread = True
            except _database_errors(connection) as error:
                if raise_lost or not _lost_race(connection, error):
                    raise
                return False
        raise InvariantViolation("booking neither finished nor failed")

    def reverse(
        self,
        entry_id: str,
        *,
        reversal_id: str,
        idempotency_key: str,
        accounting_date: date,
        memo: str | None = None,
    ) -> JournalEntry:
        require_id("entry_id", entry_id)
        require_date("accounting_date", accounting_date)
        with write_transaction(self._bind) as connection:
            originals = _entries_where(connection, ENTRIES.c.entry_id, [entry_id])
            if not originals:
                message = f"entry {reversal_id!r} reverses unknown entry {entry_id!r}"
                raise PostingRejected((Issue(RejectionCode.ENTRY_UNKNOWN, reversal_id, message),))
            reversal = reversal_of(
                originals[0],
                entry_id=reversal_id,
                idempotency_key=idempotency_key,
                accounting_date=accounting_date,
                memo=memo,
            )
            return self._post(connection, [reversal])[0]

    # -- journal: reads -------------------------------------------------------------------------

    def get_entry(self, entry_id: str) -> JournalEntry:
        require_id("entry_id", entry_id)
        with read_connection(self._bind) as connection:
            found = _entries_where(connection, ENTRIES.c.entry_id, [entry_id])
        if not found:
            raise NotFound("entry", entry_id)
        return found[0]

    def find_by_key(self, idempotency_key: str) -> JournalEntry | None:
        require_id("idempotency_key", idempotency_key)
        with read_connection(self._bind) as connection:
            found = _entries_where(connection, ENTRIES.c.idempotency_key, [idempotency_key])
        return found[0] if found else None

    def reversal_of(self, entry_id: str) -> JournalEntry | None:
        require_id("entry_id", entry_id)
        with read_connection(self._bind) as connection:
            found = _entries_where(connection, ENTRIES.c.reverses, [entry_id])
        return found[0] if found else None

    def entries(self) -> Iterator[JournalEntry]:
        """Every entry in posting order, read in pages (entries booked while iterating that are
        beyond the last sequence number seen at the start are not included)."""
        with read_connection(self._bind) as connection:
            last = _last_seq(connection)
            for start in range(0, last, _READ_CHUNK):  # bounded by the journal's size at the start
                low, high = start + 1, min(start + _READ_CHUNK, last)
                entry_where = ENTRIES.c.seq.between(low, high)
                leg_where = LEGS.c.entry_seq.between(low, high)
                yield from _load_entries(connection, entry_where, leg_where)

    # -- balances and reports -------------------------------------------------------------------

    def balance(
        self, subject_code: str, currency: str, *, as_of: date, dimensions: DimensionsLike = None
    ) -> Money:
        require_date("as_of", as_of)
        minor_units_of(currency)
        wanted = dimensions_of(dimensions)
        with read_connection(self._bind) as connection:
            chart = self._chart(connection, self._state(connection, lock=_READ))
            subject = chart.get(subject_code)
            codes = chart.subtree_codes(subject_code)
            net = _net(connection, codes, currency, wanted, lambda day: day <= as_of)
        return in_normal_side(net, subject, currency)

    def trial_balance(self, *, as_of: date) -> TrialBalance:
        require_date("as_of", as_of)
        query = (
            sa.select(
                DAILY.c.subject_code,
                DAILY.c.currency,
                sa.func.sum(DAILY.c.debit_minor),
                sa.func.sum(DAILY.c.credit_minor),
            )
            .where(DAILY.c.day <= as_of)
            .group_by(DAILY.c.subject_code, DAILY.c.currency)
        )
        with read_connection(self._bind) as connection:
            rows = connection.execute(query).all()
        return trial_balance_of(as_of, ((s, c, int(d), int(k)) for s, c, d, k in rows))

    def general_ledger(
        self,
        subject_code: str,
        currency: str,
        *,
        start: date,
        end: date,
        dimensions: DimensionsLike = None,
    ) -> GeneralLedger:
        require_date("start", start)
        require_date("end", end)
        if end < start:
            raise InvalidInput("end", end, f"is before start {start}")
        minor_units_of(currency)
        wanted = dimensions_of(dimensions)
        with read_connection(self._bind) as connection:
            chart = self._chart(connection, self._state(connection, lock=_READ))
            subject = chart.get(subject_code)
            codes = chart.subtree_codes(subject_code)
            opening = _net(connection, codes, currency, wanted, lambda day: day < start)
            postings = _ledger_postings(connection, codes, currency, wanted, start, end)
        return general_ledger_of(
            subject,
            currency,
            start=start,
            end=end,
            opening_net_debit_minor=opening,
            postings=postings,
        )

    # -- period close ---------------------------------------------------------------------------

    def closed_through(self) -> date | None:
        with read_connection(self._bind) as connection:
            return self._state(connection, lock=_READ).closed_through

    def close_period(self, through: date) -> None:
        require_date("through", through)
        with write_transaction(self._bind) as connection:
            # The exclusive lock waits for every post in flight (each holds the shared lock to its
            # commit) and makes later posts wait for this close, so none can land in the period
            # being closed.
            current = self._state(connection, lock=_EXCLUSIVE).closed_through
            target = next_closed_through(current, through)
            if target == current:
                return
            connection.execute(STATE.update().values(closed_through=target))
            connection.execute(
                CLOSES.insert().values(
                    closed_through=target,
                    previous_closed_through=current,
                    **_entries_at_close(connection),
                )
            )

    def period_closes(self) -> tuple[tuple[date, int], ...]:
        """The close log, oldest first: ``(closed_through, entries booked at the close)``."""
        query = sa.select(CLOSES.c.closed_through, CLOSES.c.entries_booked).order_by(CLOSES.c.seq)
        with read_connection(self._bind) as connection:
            return tuple((row[0], int(row[1])) for row in connection.execute(query))

    # -- memo registers -------------------------------------------------------------------------

    def post_memo(self, postings: Sequence[MemoPosting]) -> tuple[MemoPosting, ...]:
        batch = memo_postings_argument(postings)
        if not batch:
            return ()
        with write_transaction(self._bind) as connection:
            state = self._state(connection, lock=_MEMO)
            keys = [p.idempotency_key for p in batch]
            known = _memos_where(connection, MEMO.c.idempotency_key, keys)
            plan = plan_memo_batch(batch, find_by_key={p.idempotency_key: p for p in known}.get)
            new: tuple[MemoPosting, ...] = plan.new
            if new:
                ids = [p.posting_id for p in new]
                found = {p.posting_id: p for p in _memos_where(connection, MEMO.c.posting_id, ids)}

                def memo_balance(
                    register: MemoRegister, currency: str, dims: Any, as_of: date
                ) -> int:
                    return _memo_net(connection, register, currency, dims, as_of)

                issues = check_memo_batch(
                    new,
                    closed_through=state.closed_through,
                    find_posting=found.get,
                    memo_balance=memo_balance,
                    increase_totals=_currency_totals(connection, "memo"),
                )
                require_no_issues(issues)
                _book_memos(connection, new)
            return tuple(plan.results)

    def memo_balance(
        self,
        register: MemoRegister,
        currency: str,
        *,
        as_of: date,
        dimensions: DimensionsLike = None,
    ) -> Money:
        chosen = enum_value(MemoRegister, "register", register)
        require_date("as_of", as_of)
        minor_units_of(currency)
        wanted = dimensions_of(dimensions)
        with read_connection(self._bind) as connection:
            net = _memo_net(connection, chosen, currency, wanted, as_of)
        return Money.from_minor(net, currency)

    def memo_postings(self) -> Iterator[MemoPosting]:
        with read_connection(self._bind) as connection:
            rows = connection.execute(sa.select(MEMO).order_by(MEMO.c.seq)).all()
        return iter([_memo_from_row(r) for r in rows])


# -- argument checks ----------------------------------------------------------------------------


def _targets(entries: Sequence[JournalEntry]) -> list[str]:
    """The ids ``entries`` reverse, sorted."""
    return sorted({e.reverses for e in entries if e.reverses})


_NOTHING_BOOKED: dict[str, JournalEntry] = {}
"""Booked entries by key as :meth:`SqlLedgerStore._post_new` assumes them: none (never filled;
its ``get`` is a C-level call, cheaper than a Python function a thousand times a batch)."""


def _subject_row(subject: Subject) -> dict[str, Any]:
    return {
        "code": subject.code,
        "name_zh": subject.name_zh,
        "name_en": subject.name_en,
        "kind": subject.kind.value,
        "normal_side": subject.normal_side.value,
        "parent_code": subject.parent_code,
        "open_date": subject.open_date,
        "close_date": subject.close_date,
    }


def _posted_days(connection: Connection) -> dict[str, tuple[date, date]]:
    """Subject code -> (first, last) accounting date of its legs, from the daily totals."""
    query = sa.select(
        DAILY.c.subject_code, sa.func.min(DAILY.c.day), sa.func.max(DAILY.c.day)
    ).group_by(DAILY.c.subject_code)
    return {code: (first, last) for code, first, last in connection.execute(query)}


def _currency_totals(connection: Connection, book: str) -> dict[str, int]:
    """Currency -> the running total of ``book`` (``journal`` debits or ``memo`` increases): the
    sum of its slots, as committed when read (exact on SQLite, and on PostgreSQL under the
    exclusive lock or with the slots locked; see :func:`_add_currency_totals`)."""
    # Driver-level SQL: this runs once per posted batch (compiling the Core statement costs more).
    if connection.dialect.name == "postgresql":
        sql = f"SELECT currency, SUM(total_minor) FROM {TOTALS.name} WHERE book = %s"
        sql += " GROUP BY currency"
    else:  # one slot
        sql = f"SELECT currency, total_minor FROM {TOTALS.name} WHERE book = ?"
    return {currency: int(total) for currency, total in connection.exec_driver_sql(sql, (book,))}


def _entries_at_close(connection: Connection) -> dict[str, int]:
    """The close log's counts, under the exclusive lock: ``entries_booked`` (how many entries are
    booked) and ``last_seq`` (the largest number). Counted from the previous close: the entries
    above its ``last_seq`` (every number drawn after it is larger, and none below it is still
    in flight), so a close reads one period's entries, not the whole journal."""
    previous = connection.execute(
        sa.select(CLOSES.c.entries_booked, CLOSES.c.last_seq).order_by(CLOSES.c.seq.desc()).limit(1)
    ).first()
    booked_before, after = (0, 0) if previous is None else (int(previous[0]), int(previous[1]))
    last = _last_seq(connection)
    since = sa.select(sa.func.count()).select_from(ENTRIES).where(ENTRIES.c.seq > after)
    counted = int(connection.execute(since).scalar_one())
    return {"entries_booked": booked_before + counted, "last_seq": max(last, after)}
