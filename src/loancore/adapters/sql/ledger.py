"""The ledger's SQL store: :class:`SqlLedgerStore`, one schema on SQLite and PostgreSQL.

The adapter is split by job: :mod:`~loancore.adapters.sql.ledger_schema` (tables, indexes,
migrations; the table list is there and in ``docs/storage.md``),
:mod:`~loancore.adapters.sql.ledger_writing` (booking rows in few round trips) and
:mod:`~loancore.adapters.sql.ledger_reading` (entries, sums, detail). This module is the store:
transactions, locking, and the calls into the pure rules.

Every write runs the pure posting rules of :mod:`loancore.ledger.rules` inside one transaction
after locking the ``ledger_state`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serializes writers), so checks and booking see the same data and
period close cannot interleave with a post. The UNIQUE constraints back the checks: two writers
that bypassed the lock still could not book one key or one entry id twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
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
    _entries_booked,
    _entries_where,
    _entries_with_seqs,
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
)
from loancore.adapters.sql.ledger_writing import _book, _book_memos, _refusals
from loancore.checks import require_date, require_id
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
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

    Writers lock the ``ledger_state`` row, so on PostgreSQL an application transaction that posted
    holds the ledger's write lock until it commits or rolls back.
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

    def _state(self, connection: Connection, *, lock: bool) -> _State:
        # Driver-level SQL: it runs once a post, and the Core statement cost ~0.3 ms a batch on
        # SQLite. SQLite keeps the date as SQLAlchemy's ISO text; ``FOR UPDATE`` is PostgreSQL's
        # (SQLite's BEGIN IMMEDIATE already serializes writers).
        postgres = connection.dialect.name == "postgresql"
        sql = f"SELECT closed_through, chart_version FROM {STATE.name} WHERE id = 1"
        closed, version = connection.exec_driver_sql(
            f"{sql} FOR UPDATE" if lock and postgres else sql
        ).one()
        if isinstance(closed, str):
            closed = date.fromisoformat(closed)
        return _State(closed, int(version))

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
            return self._chart(connection, self._state(connection, lock=False))

    def save_chart(self, chart: Chart) -> None:
        if not isinstance(chart, Chart):
            raise InvalidInput("chart", chart, "expected a Chart")
        with write_transaction(self._bind) as connection:
            state = self._state(connection, lock=True)
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
        state = self._state(connection, lock=True)
        booked_now = self._post_new(connection, state, batch)
        if booked_now is not None:
            return booked_now
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
            require_no_issues(self._issues(connection, state, new, found, _targets(new)))
            _book(connection, new)
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
        if self._issues(connection, state, plan.new, found, targets):
            return None
        if connection.dialect.name == "sqlite":
            booked = _book(connection, plan.new, claim=True)
        else:
            try:
                with connection.begin_nested():
                    booked = _book(connection, plan.new)
            except _refusals(connection):
                return None
        return tuple(plan.results) if booked else None

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
            self._state(connection, lock=True)  # lock before reading the original
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
            last = _entries_booked(connection)
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
            chart = self._chart(connection, self._state(connection, lock=False))
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
            chart = self._chart(connection, self._state(connection, lock=False))
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
            return self._state(connection, lock=False).closed_through

    def close_period(self, through: date) -> None:
        require_date("through", through)
        with write_transaction(self._bind) as connection:
            # FOR UPDATE waits for every in-flight post (they hold the same row lock) and makes
            # later posts wait for this close, so none can land in the period being closed.
            current = self._state(connection, lock=True).closed_through
            target = next_closed_through(current, through)
            if target == current:
                return
            connection.execute(STATE.update().values(closed_through=target))
            connection.execute(
                CLOSES.insert().values(
                    closed_through=target,
                    previous_closed_through=current,
                    entries_booked=_entries_booked(connection),
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
            state = self._state(connection, lock=True)
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
    """Currency -> the running total of ``book`` (``journal`` debits or ``memo`` increases)."""
    # Driver-level SQL: this runs once per posted batch (compiling the Core statement costs more).
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    sql = f"SELECT currency, total_minor FROM {TOTALS.name} WHERE book = {mark}"
    return {currency: int(total) for currency, total in connection.exec_driver_sql(sql, (book,))}
