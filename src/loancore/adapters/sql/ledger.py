"""The ledger's SQL store: :class:`SqlLedgerStore`, one schema on SQLite and PostgreSQL.

Tables (component ``ledger``, version :data:`LEDGER_SCHEMA_VERSION`; see ``docs/storage.md``):

``ledger_state``          one row: closed-through date and the chart's version (the writers' lock)
``ledger_subjects``       the chart of accounts
``ledger_entries``        journal entries; UNIQUE entry id, UNIQUE idempotency key, UNIQUE
                          ``reverses`` (an entry is reversed at most once)
``ledger_legs``           legs in order: subject, side, BIGINT minor units + CHAR(3) currency, the
                          entry's accounting date and the five dimension columns (``''`` when
                          the leg does not carry one: ``NO_DIMENSION``); customer, loan and
                          merchant indexed by (accounting date, dimension, subject)
``ledger_daily_balances`` debit and credit totals per subject, currency and accounting date,
                          updated in the posting transaction: an as-of balance sums a few hundred
                          rows however many entries there are
``ledger_daily_segment_balances``
                          the same per product and partner (few values each), for balances by them
``ledger_memo_postings``  the memo (off-balance) registers
``ledger_period_closes``  the history of period closes

Every write runs the pure posting rules of :mod:`loancore.ledger.rules` inside one transaction
after locking the ``ledger_state`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serializes writers), so checks and booking see the same data and
period close cannot interleave with a post. The UNIQUE constraints back the checks: two writers
that bypassed the lock still could not book one key or one entry id twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from itertools import chain
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from loancore.adapters.sql.base import (
    ID,
    METADATA,
    Bind,
    MigrationStep,
    amount_column,
    binary_text,
    currency_column,
    ensure_schema,
    read_connection,
    retype_columns,
    write_transaction,
)
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PostingRejected,
    RejectionCode,
)
from loancore.ledger.entries import (
    DIMENSION_KEYS,
    Dimensions,
    DimensionsLike,
    JournalEntry,
    Leg,
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
    check_memo_batch,
    next_closed_through,
    plan_batch,
    plan_memo_batch,
    require_no_issues,
)
from loancore.ledger.subjects import Chart, Side, Subject
from loancore.money import Money

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

LEDGER_COMPONENT = "ledger"
LEDGER_SCHEMA_VERSION = 3

# Identifiers, keys, codes and dimension values are unbounded text (a length limit would make
# PostgreSQL refuse what SQLite accepts, and the two backends must behave the same), compared byte
# by byte on both (``binary_text``: COLLATE "C" on PostgreSQL; schema 1 used the database's).
CODE = TEXT_ID = KEY = binary_text()  # one type object: the 1 -> 2 migration finds them by it
_CHUNK = 500  # bound parameters per IN list, well under SQLite's and psycopg's limits
_READ_CHUNK = 2_000  # entries per page when streaming the journal
_UNIT_SEPARATOR = "\x1f"  # joins text keys into one PostgreSQL parameter (see _scalars_in)

NO_DIMENSION = ""
"""A dimension column's value on a leg or memo posting that does not carry that dimension.

Not NULL, because Python's sqlite3 binds ``None`` through its adaptation protocol (a registry
lookup and two failed attribute lookups, ~0.45 us a value) and a ``str`` directly: at three absent
dimensions a leg, NULLs cost an eighth of the SQLite posting time. Dimension values are non-empty
(``dimensions_of``), so the empty string is unambiguous. The room is the same on SQLite (a
one-byte record header either way); PostgreSQL stores one byte more than NULL's bitmap bit."""


def _dimension_column(key: str) -> sa.Column:
    return sa.Column(key, TEXT_ID, nullable=False, server_default=NO_DIMENSION)


STATE = sa.Table(
    "ledger_state",
    METADATA,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("closed_through", sa.Date, nullable=True),
    sa.Column("chart_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("id = 1", name="singleton"),
)

SUBJECTS = sa.Table(
    "ledger_subjects",
    METADATA,
    sa.Column("code", CODE, primary_key=True),
    sa.Column("name_zh", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("normal_side", sa.String(8), nullable=False),
    sa.Column("parent_code", CODE, nullable=True),
    sa.Column("open_date", sa.Date, nullable=True),
    sa.Column("close_date", sa.Date, nullable=True),
)

ENTRIES = sa.Table(
    "ledger_entries",
    METADATA,
    sa.Column("seq", ID, primary_key=True, autoincrement=False),
    sa.Column("entry_id", TEXT_ID, nullable=False, unique=True),
    sa.Column("idempotency_key", KEY, nullable=False, unique=True),
    sa.Column("accounting_date", sa.Date, nullable=False),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("reverses", TEXT_ID, sa.ForeignKey("ledger_entries.entry_id"), nullable=True),
)
# An entry is reversed at most once. Partial, because most entries reverse nothing and a plain
# UNIQUE would index every NULL on SQLite (one more B-tree insert per entry for nothing).
sa.Index(
    "uq_ledger_entries_reverses",
    ENTRIES.c.reverses,
    unique=True,
    sqlite_where=ENTRIES.c.reverses.isnot(None),
    postgresql_where=ENTRIES.c.reverses.isnot(None),
)

_UNLINKED_ENTRY_COLUMNS = tuple(c for c in ENTRIES.columns if c is not ENTRIES.c.reverses)

LEGS = sa.Table(
    "ledger_legs",
    METADATA,
    # No FOREIGN KEYs on legs, on purpose: PostgreSQL checks each with a per-row trigger, which
    # cost ~40% of the posting rate. Legs are written only by the store, with their entry, in the
    # same transaction, after the rules checked every subject; save_chart refuses to drop a
    # subject with legs, and the audit passes (loancore.ledger.validation) re-check both links.
    sa.Column("entry_seq", ID, primary_key=True, autoincrement=False),
    sa.Column("leg_no", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("subject_code", CODE, nullable=False),
    sa.Column("side", sa.String(6), nullable=False),
    amount_column("amount_minor"),
    currency_column(),
    sa.Column("accounting_date", sa.Date, nullable=False),
    *[_dimension_column(key) for key in DIMENSION_KEYS],
    sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
    sa.CheckConstraint("side IN ('debit', 'credit')", name="side_known"),
    sqlite_with_rowid=False,
)
sa.Index("ix_ledger_legs_subject_date", LEGS.c.subject_code, LEGS.c.accounting_date)
INDEXED_DIMENSIONS = ("customer", "loan", "merchant")
"""Dimensions with many values (a loan, a customer, a merchant), found through an index on the
legs. The others, :data:`SEGMENT_DIMENSIONS`, have few values and are totalled per day instead."""

SEGMENT_DIMENSIONS = ("partner", "product")
"""Dimensions with few values (the product, the joint-lending partner): a balance by them reads a
large share of a subject's legs, so the store keeps their daily totals
(``ledger_daily_segment_balances``) instead of indexing the legs by them."""

# One partial index per indexed dimension (most legs carry only some dimensions; absent ones are
# never looked up), leading with the accounting date: a batch's legs share a day or a few, so its
# index rows land in one region instead of one leaf page per loan, customer or merchant, and each
# leaf page a COMMIT writes to the WAL carries many of them. Reads probe the index once per posting
# day (``_legs_on_posting_days``). Schema version 1 led with the dimension; see ``_v1_to_v2``.
DIMENSION_INDEXES: tuple[sa.Index, ...] = tuple(
    sa.Index(
        f"ix_ledger_legs_{_key}",
        LEGS.c.accounting_date,
        LEGS.c[_key],
        LEGS.c.subject_code,
        sqlite_where=LEGS.c[_key] != NO_DIMENSION,
        postgresql_where=LEGS.c[_key] != NO_DIMENSION,
    )
    for _key in INDEXED_DIMENSIONS
)

DAILY = sa.Table(
    "ledger_daily_balances",
    METADATA,
    sa.Column("subject_code", CODE, primary_key=True),
    sa.Column("currency", sa.CHAR(3), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    amount_column("debit_minor"),
    amount_column("credit_minor"),
    sqlite_with_rowid=False,
)

SEGMENTS = sa.Table(
    "ledger_daily_segment_balances",
    METADATA,
    sa.Column("subject_code", CODE, primary_key=True),
    sa.Column("currency", sa.CHAR(3), primary_key=True),
    sa.Column("product", TEXT_ID, primary_key=True),
    sa.Column("partner", TEXT_ID, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    amount_column("debit_minor"),
    amount_column("credit_minor"),
    sqlite_with_rowid=False,
)
"""Debit and credit totals per subject, currency, product, partner and day, of the legs that
carry a product or a partner (``NO_DIMENSION`` for the one a leg lacks); legs with neither have no
row. Updated in the posting transaction, like ``ledger_daily_balances``."""

MEMO = sa.Table(
    "ledger_memo_postings",
    METADATA,
    sa.Column("seq", ID, primary_key=True, autoincrement=False),
    sa.Column("posting_id", TEXT_ID, nullable=False, unique=True),
    sa.Column("idempotency_key", KEY, nullable=False, unique=True),
    sa.Column("register", sa.String(32), nullable=False),
    sa.Column("accounting_date", sa.Date, nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    amount_column("amount_minor"),
    currency_column(),
    *[_dimension_column(key) for key in DIMENSION_KEYS],
    sa.Column("memo", sa.Text, nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
)
sa.Index(
    "ix_ledger_memo_postings_register", MEMO.c.register, MEMO.c.currency, MEMO.c.accounting_date
)

CLOSES = sa.Table(
    "ledger_period_closes",
    METADATA,
    sa.Column("seq", ID, primary_key=True, autoincrement=True),
    sa.Column("closed_through", sa.Date, nullable=False),
    sa.Column("previous_closed_through", sa.Date, nullable=True),
    sa.Column("entries_booked", sa.BigInteger, nullable=False),
    sa.Column(
        "closed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

LEDGER_TABLES: tuple[sa.Table, ...] = (
    STATE,
    SUBJECTS,
    ENTRIES,
    LEGS,
    DAILY,
    SEGMENTS,
    MEMO,
    CLOSES,
)
"""The ledger component's tables, in creation order."""


def _v1_to_v2(connection: Connection) -> None:
    """Schema 1 -> 2: the dimension indexes lead with ``accounting_date`` instead of the
    dimension (same names and conditions), and on PostgreSQL identifier columns compare bytes
    (COLLATE "C"; PostgreSQL rebuilds the indexes on them). In the migration's transaction."""
    retype_columns(connection, [t for t in LEDGER_TABLES if t is not SEGMENTS], TEXT_ID)  # since 3
    for key in DIMENSION_KEYS:  # schema 2's indexes, written out: the metadata declares schema 3's
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS ix_ledger_legs_{key}")
        connection.exec_driver_sql(
            f"CREATE INDEX ix_ledger_legs_{key} ON ledger_legs (accounting_date, {key}, subject_code)"
            f" WHERE {key} IS NOT NULL"
        )


def _v2_to_v3(connection: Connection) -> None:
    """Schema 2 -> 3: an absent dimension is ``NO_DIMENSION`` instead of NULL on legs and memo
    postings (columns NOT NULL DEFAULT ''), and the dimension indexes' condition follows; product
    and partner are no longer indexed on the legs but totalled per day in
    ``ledger_daily_segment_balances``, filled from the legs. On PostgreSQL the columns are altered
    in place; SQLite cannot add NOT NULL to a column, so it rebuilds the two tables (rename,
    create, copy, drop). In the migration's transaction."""
    _dimension_columns_not_null(connection)
    SEGMENTS.create(connection)
    connection.exec_driver_sql(_SEGMENTS_FROM_LEGS)


def _dimension_columns_not_null(connection: Connection) -> None:
    """Legs' and memo postings' dimension columns: NULL -> ``NO_DIMENSION``, NOT NULL DEFAULT ''
    (in place on PostgreSQL, a table rebuild on SQLite); the legs' dimension indexes as declared."""
    absent = {key: f"COALESCE({key}, '{NO_DIMENSION}')" for key in DIMENSION_KEYS}
    if connection.dialect.name == "postgresql":
        for table in (LEGS, MEMO):
            nulls = " OR ".join(f"{key} IS NULL" for key in DIMENSION_KEYS)
            sets = ", ".join(f"{key} = {expression}" for key, expression in absent.items())
            connection.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {nulls}")
            alters = ", ".join(
                f"ALTER COLUMN {key} SET DEFAULT '{NO_DIMENSION}', ALTER COLUMN {key} SET NOT NULL"
                for key in DIMENSION_KEYS
            )
            connection.exec_driver_sql(f"ALTER TABLE {table.name} {alters}")
        for key in DIMENSION_KEYS:
            connection.exec_driver_sql(f"DROP INDEX ix_ledger_legs_{key}")
        for index in DIMENSION_INDEXES:
            index.create(connection)
        return
    for table in (LEGS, MEMO):
        _rebuild_sqlite_table(connection, table, absent)


def _rebuild_sqlite_table(connection: Connection, table: sa.Table, sources: dict[str, str]) -> None:
    """Recreate ``table`` as the metadata declares it, with its rows: each column is copied from
    the same column, or from the SQL expression ``sources`` gives for it (SQLite's documented way
    to make changes ALTER TABLE cannot)."""
    old = f"{table.name}_before_migration"
    indexes = (
        connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table.name,),
        )
        .scalars()
        .all()
    )
    for name in indexes:  # named indexes move with a renamed table; free their names first
        connection.exec_driver_sql(f"DROP INDEX {name}")
    connection.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
    table.create(connection)
    names = [c.name for c in table.columns]
    expressions = ", ".join(sources.get(name, name) for name in names)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {expressions} FROM {old}"
    )
    connection.exec_driver_sql(f"DROP TABLE {old}")


_SEGMENTS_FROM_LEGS = (
    "INSERT INTO ledger_daily_segment_balances"
    " (subject_code, currency, product, partner, day, debit_minor, credit_minor)"
    " SELECT subject_code, currency, product, partner, accounting_date,"
    " SUM(CASE side WHEN 'debit' THEN amount_minor ELSE 0 END),"
    " SUM(CASE side WHEN 'credit' THEN amount_minor ELSE 0 END)"
    f" FROM ledger_legs WHERE product != '{NO_DIMENSION}' OR partner != '{NO_DIMENSION}'"
    " GROUP BY subject_code, currency, product, partner, accounting_date"
)
"""The segment totals computed from the legs (the migration fills the table with it; the bench's
bulk loader and the tests compare it with what posting keeps)."""

LEDGER_MIGRATIONS: dict[int, MigrationStep] = {1: _v1_to_v2, 2: _v2_to_v3}
"""The ledger schema's upgrade steps: ``LEDGER_MIGRATIONS[v]`` takes version ``v`` to ``v + 1``."""


@attrs.frozen
class _State:
    closed_through: date | None
    chart_version: int


class _ChartCache:
    """The last chart read, keyed by ``ledger_state.chart_version``; shared by bound copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: tuple[int, Chart] | None = None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _member_chunks(
    connection: Connection, column: sa.Column, values: Sequence[Any]
) -> Iterator[Any]:
    """``column IN values`` as few clauses as the database allows: one ``= ANY(array)`` with a
    single array parameter on PostgreSQL, IN lists of at most ``_CHUNK`` parameters on SQLite."""
    items = list(values)
    if connection.dialect.name == "postgresql":
        if items:
            yield column == sa.any_(sa.bindparam(None, items, type_=postgresql.ARRAY(column.type)))
        return
    for chunk in _chunks(items):
        yield column.in_(chunk)


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
        query = sa.select(STATE.c.closed_through, STATE.c.chart_version).where(STATE.c.id == 1)
        if lock:
            query = query.with_for_update()
        row = connection.execute(query).one()
        return _State(row.closed_through, row.chart_version)

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
            stored = set(connection.execute(sa.select(SUBJECTS.c.code)).scalars())
            removed = sorted(stored - {s.code for s in chart})
            _refuse_removing_posted(connection, removed)
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
        batch = _entries_argument(entries)
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
            require_no_issues(self._issues(connection, state, new, found))
            _book(connection, new)
        return tuple(plan.results)

    def _issues(
        self,
        connection: Connection,
        state: _State,
        new: Sequence[JournalEntry],
        found: dict[str, JournalEntry],
    ) -> tuple[Issue, ...]:
        """The posting rules over ``new``, given the booked entries ``found`` by id (which must
        hold every booked reversal target of ``new``); reads which of those are reversed."""
        targets = sorted({e.reverses for e in new if e.reverses})
        reversed_ids = set(_scalars_in(connection, ENTRIES.c.reverses, ENTRIES.c.reverses, targets))
        return check_batch(
            new,
            chart=self._chart(connection, state),
            closed_through=state.closed_through,
            find_entry=found.get,
            is_reversed=reversed_ids.__contains__,
        )

    def _post_new(
        self, connection: Connection, state: _State, batch: Sequence[JournalEntry]
    ) -> tuple[JournalEntry, ...] | None:
        """Book ``batch`` assuming none of its keys and ids is booked yet (the common case), and
        return what :meth:`_post` would; None, having changed nothing, when that may be wrong.

        The UNIQUE constraints on keys and ids are the test: the batch is booked inside a SAVEPOINT
        without first looking its 2,000 keys and ids up, and a replayed key or a taken id makes
        the INSERT fail. Only reversal targets are read. Any refusal (an idempotency conflict
        inside the batch, a rule, a constraint) sends the batch to the full path, which reads
        every booked entry the batch could meet and raises exactly what it always did: this path
        decides only successes, and a success here is one the full path would reach too (no key
        or id was booked, and the rules saw the same reversal targets).
        """
        try:
            plan = plan_batch(batch, find_by_key=_nothing_booked)
        except IdempotencyConflict:
            return None
        targets = sorted({e.reverses for e in plan.new if e.reverses})
        found = {e.entry_id: e for e in _entries_where(connection, ENTRIES.c.entry_id, targets)}
        if self._issues(connection, state, plan.new, found):
            return None
        refused = (sa.exc.IntegrityError, connection.dialect.loaded_dbapi.IntegrityError)
        try:
            with connection.begin_nested():
                _book(connection, plan.new)
        except refused:
            return None
        return tuple(plan.results)

    def reverse(
        self,
        entry_id: str,
        *,
        reversal_id: str,
        idempotency_key: str,
        accounting_date: date,
        memo: str | None = None,
    ) -> JournalEntry:
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
        with read_connection(self._bind) as connection:
            found = _entries_where(connection, ENTRIES.c.entry_id, [entry_id])
        if not found:
            raise NotFound("entry", entry_id)
        return found[0]

    def find_by_key(self, idempotency_key: str) -> JournalEntry | None:
        with read_connection(self._bind) as connection:
            found = _entries_where(connection, ENTRIES.c.idempotency_key, [idempotency_key])
        return found[0] if found else None

    def reversal_of(self, entry_id: str) -> JournalEntry | None:
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
        wanted = dimensions_of(dimensions)
        with read_connection(self._bind) as connection:
            chart = self._chart(connection, self._state(connection, lock=False))
            subject = chart.get(subject_code)
            codes = chart.subtree_codes(subject_code)
            net = _net(connection, codes, currency, wanted, lambda day: day <= as_of)
        return in_normal_side(net, subject, currency)

    def trial_balance(self, *, as_of: date) -> TrialBalance:
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
        wanted = dimensions_of(dimensions)
        if end < start:
            raise InvalidInput("end", end, f"is before start {start}")
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
        if not isinstance(through, date) or hasattr(through, "hour"):
            raise InvalidInput("through", through, "expected a datetime.date")
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
        batch = _memo_argument(postings)
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
        with read_connection(self._bind) as connection:
            wanted = dimensions_of(dimensions)
            net = _memo_net(connection, MemoRegister(register), currency, wanted, as_of)
        return Money.from_minor(net, currency)

    def memo_postings(self) -> Iterator[MemoPosting]:
        with read_connection(self._bind) as connection:
            rows = connection.execute(sa.select(MEMO).order_by(MEMO.c.seq)).all()
        return iter([_memo_from_row(r) for r in rows])


# -- argument checks ----------------------------------------------------------------------------


def _nothing_booked(_key: str) -> None:
    return None


def _entries_argument(entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
    batch = tuple(entries)
    for i, entry in enumerate(batch):
        if not isinstance(entry, JournalEntry):
            raise InvalidInput(f"entries[{i}]", entry, "expected a JournalEntry")
    return batch


def _memo_argument(postings: Sequence[MemoPosting]) -> tuple[MemoPosting, ...]:
    batch = tuple(postings)
    for i, posting in enumerate(batch):
        if not isinstance(posting, MemoPosting):
            raise InvalidInput(f"postings[{i}]", posting, "expected a MemoPosting")
    return batch


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


def _refuse_removing_posted(connection: Connection, removed: Sequence[str]) -> None:
    posted = sorted(
        set(
            _scalars_in(
                connection, LEGS.c.subject_code, LEGS.c.subject_code, removed, distinct=True
            )
        )
    )
    if posted:
        raise InvalidInput("chart", posted[0], "a subject with postings cannot be removed")


# -- booking (the hot path: driver-level executemany with precomputed tuples) -----------------


_ROWS_PER_STATEMENT = 200  # SQLite multi-row VALUES: 200 legs x 12 columns, below its 32,766
_COPY_ROWS = 250  # PostgreSQL: rows formatted and sent per slice of a COPY


def _insert_sql(table: sa.Table, columns: Sequence[sa.Column], rows_per_statement: int) -> str:
    names = [c.name for c in columns]
    values = f"({', '.join('?' * len(names))})"
    all_values = ", ".join([values] * rows_per_statement)
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {all_values}"


def _copy_field(value: Any) -> str:
    """One value in COPY's text format, unescaped: ``\\N`` for NULL, text as is (``str()`` of a
    str subclass, an enum say, would not be its content), ints and dates as ``str()``."""
    if value is None:
        return "\\N"
    return value if isinstance(value, str) else str(value)


_TEXT_OR_NULL = {str, type(None)}


def _copy_column(values: tuple[Any, ...]) -> Sequence[str]:
    kinds = set(map(type, values))
    if kinds == {str}:
        return values
    if kinds == {int}:
        return list(map(str, values))
    if kinds <= _TEXT_OR_NULL:
        return ["\\N" if value is None else value for value in values]
    texts = {value: _copy_field(value) for value in set(values)}  # dates, NULLs repeat
    return [texts[value] for value in values]


def _copy_text(rows: list[tuple[Any, ...]]) -> str | None:
    """``rows`` in COPY's text format, or None when a value would need escaping.

    Built column by column (a few C-level passes instead of a Python call per value). Text needs
    escaping only if it holds a backslash, tab, newline or carriage return; rather than test each
    value, the whole buffer is counted once: one backslash per NULL, a tab between columns, a
    newline after each row.
    """
    if not rows:
        return ""
    columns = list(zip(*rows))
    nulls = sum(column.count(None) for column in columns)
    text = "\n".join(map("\t".join, zip(*map(_copy_column, columns)))) + "\n"
    plain = (
        text.count("\\") == nulls
        and text.count("\t") == len(rows) * (len(columns) - 1)
        and text.count("\n") == len(rows)
        and "\r" not in text
    )
    return text if plain else None


@contextlib.contextmanager
def _inserter(
    connection: Connection, table: sa.Table, columns: Sequence[sa.Column] | None = None
) -> Iterator[Callable[[list[Any]], None]]:
    """A function inserting rows (tuples of ``columns``' values, by default every column of
    ``table`` in order; the others take their defaults) into ``table`` in few round trips, inside
    the open transaction; on PostgreSQL the rows are complete when the block ends.

    PostgreSQL: one ``COPY ... FROM STDIN`` through psycopg 3 for the whole block (a stream instead
    of a statement per row; it honours constraints and runs in the caller's transaction and
    savepoint), written in slices of ``_COPY_ROWS`` rows, each one text buffer when no value needs
    escaping (psycopg's per-row ``write_row`` otherwise). The server inserts a slice while the next
    is formatted, and whatever the caller computes inside the block runs while the server finishes
    the last ones: client and server overlap on two cores. SQLite: the driver's ``executemany`` of
    one prepared multi-row INSERT (``_ROWS_PER_STATEMENT`` rows per execution, the remainder in one
    more statement), which saves SQLite's per-statement work.
    """
    columns = list(table.columns if columns is None else columns)
    if connection.dialect.name != "postgresql":
        yield lambda rows: _insert_rows(connection, table, columns, rows)
        return
    names = ", ".join(c.name for c in columns)
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:

        def send(rows: list[Any]) -> None:
            for chunk in _chunks(rows, _COPY_ROWS):
                text = _copy_text(chunk)
                if text is not None:
                    copy.write(text)
                else:
                    for row in chunk:
                        copy.write_row(row)

        yield send


def _insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[sa.Column],
    rows: list[tuple[Any, ...]],
) -> None:
    size = _ROWS_PER_STATEMENT
    width = len(columns)
    flat = list(chain.from_iterable(rows))
    step = size * width
    full = len(rows) - len(rows) % size
    if full:
        groups = [tuple(flat[i : i + step]) for i in range(0, full * width, step)]
        connection.exec_driver_sql(_insert_sql(table, columns, size), groups)
    if full < len(rows):
        rest = tuple(flat[full * width :])
        connection.exec_driver_sql(_insert_sql(table, columns, len(rows) - full), rest)


def _day_param(connection: Connection) -> Any:
    """Dates as the driver wants them: ISO text on SQLite (SQLAlchemy's own storage format for
    Date there), date objects on PostgreSQL."""
    return date.isoformat if connection.dialect.name == "sqlite" else (lambda d: d)


def _entries_booked(connection: Connection) -> int:
    """How many entries are booked: sequence numbers are 1, 2, ... with no gap (assigned under the
    writers' lock, never deleted), so the largest is the count, read from the primary key."""
    return _max_seq(connection, ENTRIES)


def _max_seq(connection: Connection, table: sa.Table) -> int:
    # Driver-level SQL: building and compiling the Core statement cost ~0.4 ms a batch.
    sql = f"SELECT COALESCE(MAX(seq), 0) FROM {table.name}"
    return int(connection.exec_driver_sql(sql).scalar_one())


_DIMENSION_POSITION = {key: i for i, key in enumerate(DIMENSION_KEYS)}  # column order in the rows
_SIDE_VALUES = (Side.DEBIT.value, Side.CREDIT.value)  # indexed by "is a credit"


def _book(connection: Connection, entries: Sequence[JournalEntry]) -> None:
    """Insert checked entries, their legs and the daily totals; caller holds the writers' lock.

    The legs are built while the entries' COPY completes, and the daily totals while the legs'
    does (see :func:`_inserter`)."""
    to_param = _day_param(connection)
    days = {day: to_param(day) for day in {e.accounting_date for e in entries}}
    first = _entries_booked(connection) + 1
    # Reversals apart: the other entries' rows leave out ``reverses`` (NULL by default), because
    # the sqlite3 driver binds None slowly (see NO_DIMENSION).
    unlinked, linked = [], []
    for seq, e in enumerate(entries, start=first):
        row = (seq, e.entry_id, e.idempotency_key, days[e.accounting_date])
        row += (days.get(e.value_date) or to_param(e.value_date), e.memo)
        if e.reverses is None:
            unlinked.append(row)
        else:
            linked.append(row + (e.reverses,))
    with _inserter(connection, ENTRIES, _UNLINKED_ENTRY_COLUMNS) as insert:
        insert(unlinked)
        leg_rows, daily, segments = _leg_rows(entries, first, days)
    if linked:  # after the entries they may reverse, for the foreign key
        with _inserter(connection, ENTRIES) as insert:
            insert(linked)
    with _inserter(connection, LEGS) as insert:
        insert(leg_rows)
        # Sorted, so concurrent writers (were the lock ever bypassed) take row locks in one order.
        daily_rows = [(s, c, days[d], t[0], t[1]) for (s, c, d), t in sorted(daily.items())]
        segment_rows = [
            (s, c, product, partner, days[d], t[0], t[1])
            for (s, c, product, partner, d), t in sorted(segments.items())
        ]
    _add_totals(connection, DAILY, daily_rows)
    if segment_rows:
        _add_totals(connection, SEGMENTS, segment_rows)


_Totals = dict[tuple[Any, ...], list[int]]  # key -> [debit, credit] in minor units


def _leg_rows(
    entries: Sequence[JournalEntry], first: int, days: dict[date, Any]
) -> tuple[list[tuple[Any, ...]], _Totals, _Totals]:
    """The legs' rows, the batch's debit and credit totals per (subject, currency, day), and
    those of the legs with a product or partner per (subject, currency, product, partner, day).

    The hot loop of a post (two legs an entry): written flat, because a helper call, a tuple
    concatenation and a ``dict`` per leg for the dimension columns cost twice the time of filling
    a five-slot list by position (~1.4 ms instead of ~3 ms for 2,000 legs)."""
    leg_rows: list[tuple[Any, ...]] = []
    append = leg_rows.append
    daily: _Totals = {}
    segments: _Totals = {}
    position = _DIMENSION_POSITION
    product_at, partner_at = position["product"], position["partner"]
    for seq, entry in enumerate(entries, start=first):
        accounting = entry.accounting_date
        day = days[accounting]
        for leg_no, leg in enumerate(entry.legs):
            minor = leg.signed_minor
            currency = leg.amount.currency
            code = leg.subject_code
            # The rules refused zero and negative amounts, so the sign of signed_minor is the side.
            credit = minor < 0
            amount = -minor if credit else minor
            columns = [NO_DIMENSION] * len(DIMENSION_KEYS)
            for key, value in leg.dimensions:
                columns[position[key]] = value
            append((seq, leg_no, code, _SIDE_VALUES[credit], amount, currency, day, *columns))
            totals_key = (code, currency, accounting)
            totals = daily.get(totals_key)
            if totals is None:
                totals = daily[totals_key] = [0, 0]
            totals[credit] += amount
            product, partner = columns[product_at], columns[partner_at]
            if product or partner:
                segment_key = (code, currency, product, partner, accounting)
                totals = segments.get(segment_key)
                if totals is None:
                    totals = segments[segment_key] = [0, 0]
                totals[credit] += amount
    return leg_rows, daily, segments


def _add_totals(connection: Connection, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
    """Add the batch's totals (rows in ``table``'s column order, ``debit_minor`` and
    ``credit_minor`` last) to ``table``: insert the key's row or add to it."""
    keys = [c.name for c in table.primary_key.columns]
    names = [c.name for c in table.columns]
    head = f"INSERT INTO {table.name} ({', '.join(names)}) "
    tail = (
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET"
        f" debit_minor = {table.name}.debit_minor + excluded.debit_minor,"
        f" credit_minor = {table.name}.credit_minor + excluded.credit_minor"
    )
    if connection.dialect.name == "postgresql":
        # One statement for the whole batch: the rows travel as one array per column.
        arrays = ", ".join(f"%s::{_ARRAY_TYPES[c.name]}[]" for c in table.columns)
        columns = tuple(list(c) for c in zip(*rows))
        connection.exec_driver_sql(f"{head}SELECT * FROM unnest({arrays}){tail}", columns)
    else:
        values = f"VALUES ({', '.join('?' * len(names))})"
        connection.exec_driver_sql(f"{head}{values}{tail}", rows)


_ARRAY_TYPES = {  # PostgreSQL element types of the totals tables' columns, for unnest()
    "subject_code": "text",
    "currency": "char(3)",
    "product": "text",
    "partner": "text",
    "day": "date",
    "debit_minor": "bigint",
    "credit_minor": "bigint",
}


def _book_memos(connection: Connection, postings: Sequence[MemoPosting]) -> None:
    day = _day_param(connection)
    first = _max_seq(connection, MEMO) + 1
    rows = []
    for seq, p in enumerate(postings, start=first):
        dims = dict(p.dimensions)
        rows.append(
            (seq, p.posting_id, p.idempotency_key, p.register.value, day(p.accounting_date))
            + (p.direction.value, p.amount.minor_units, p.amount.currency)
            + tuple(dims.get(k, NO_DIMENSION) for k in DIMENSION_KEYS)
            + (p.memo,)
        )
    with _inserter(connection, MEMO) as insert:
        insert(rows)


# -- reading entries ----------------------------------------------------------------------------


def _scalars_in(
    connection: Connection,
    select: sa.Column,
    column: sa.Column,
    values: Sequence[Any],
    *,
    distinct: bool = False,
    or_column: sa.Column | None = None,
    or_values: Sequence[Any] = (),
) -> list[Any]:
    """``SELECT [DISTINCT] select FROM its table WHERE column IN values [OR or_column IN
    or_values]``, as driver-level SQL (the posting path runs this per batch; compiling an
    expanding IN costs more than the query). A row matching both lists is returned once per
    statement; on SQLite, whose IN lists are chunked, a row can come back once per chunk."""
    tests = [(column, list(values))]
    if or_column is not None:
        tests.append((or_column, list(or_values)))
    tests = [(c, items) for c, items in tests if items]
    if not tests:
        return []
    what = f"DISTINCT {select.name}" if distinct else select.name
    head = f"SELECT {what} FROM {column.table.name} WHERE "
    if connection.dialect.name == "postgresql":
        clauses, params = zip(*(_any_of(c.name, items) for c, items in tests))
        sql = head + " OR ".join(clauses)
        return [row[0] for row in connection.exec_driver_sql(sql, tuple(params))]
    out: list[Any] = []
    chunked = [(c, list(_chunks(items))) for c, items in tests]
    for number in range(max(len(chunks) for _, chunks in chunked)):  # bounded by the longest list
        parts = [(c, chunks[number]) for c, chunks in chunked if number < len(chunks)]
        clauses = [f"{c.name} IN ({', '.join('?' * len(chunk))})" for c, chunk in parts]
        params = tuple(chain.from_iterable(chunk for _, chunk in parts))
        rows = connection.exec_driver_sql(head + " OR ".join(clauses), params)
        out.extend(row[0] for row in rows)
    return out


def _any_of(name: str, items: list[Any]) -> tuple[str, Any]:
    """PostgreSQL's ``name = ANY(...)`` clause and its one parameter for ``items``."""
    joined = _UNIT_SEPARATOR.join(items) if set(map(type, items)) == {str} else ""
    if joined and joined.count(_UNIT_SEPARATOR) == len(items) - 1:
        # One text parameter split by the server: psycopg dumps a 1,000-element list in Python
        # and the planner treats a split string like a small set (index probes), about half the
        # time of ``= ANY(%s)``. Only when no value holds the separator.
        return f"{name} = ANY(string_to_array(%s, chr({ord(_UNIT_SEPARATOR)})))", joined
    return f"{name} = ANY(%s)", items


def _entries_where(
    connection: Connection, column: sa.Column, values: Sequence[str]
) -> list[JournalEntry]:
    """Booked entries whose ``column`` is in ``values``, in posting order."""
    seqs = _scalars_in(connection, ENTRIES.c.seq, column, values)
    return _entries_with_seqs(connection, sorted(seqs))


def _entries_with_seqs(connection: Connection, seqs: Sequence[int]) -> list[JournalEntry]:
    """Booked entries with the sequence numbers ``seqs`` (ascending), in posting order."""
    out: list[JournalEntry] = []
    for chunk in _chunks(seqs):
        entry_where = next(_member_chunks(connection, ENTRIES.c.seq, chunk))
        leg_where = next(_member_chunks(connection, LEGS.c.entry_seq, chunk))
        out.extend(_load_entries(connection, entry_where, leg_where))
    return out


def _load_entries(connection: Connection, entry_where: Any, leg_where: Any) -> list[JournalEntry]:
    legs: dict[int, list[Leg]] = {}
    leg_query = sa.select(LEGS).where(leg_where).order_by(LEGS.c.entry_seq, LEGS.c.leg_no)
    for row in connection.execute(leg_query):
        legs.setdefault(row.entry_seq, []).append(_leg_from_row(row))
    entry_query = sa.select(ENTRIES).where(entry_where).order_by(ENTRIES.c.seq)
    return [
        JournalEntry(
            entry_id=row.entry_id,
            idempotency_key=row.idempotency_key,
            accounting_date=row.accounting_date,
            value_date=row.value_date,
            legs=legs.get(row.seq, ()),
            memo=row.memo,
            reverses=row.reverses,
        )
        for row in connection.execute(entry_query)
    ]


def _dimensions_from_row(row: Any) -> tuple[tuple[str, str], ...]:
    mapping = row._mapping
    return tuple((k, mapping[k]) for k in DIMENSION_KEYS if mapping[k])


def _leg_from_row(row: Any) -> Leg:
    return Leg(
        row.subject_code,
        Side(row.side),
        Money.from_minor(row.amount_minor, row.currency),
        _dimensions_from_row(row),
    )


def _memo_from_row(row: Any) -> MemoPosting:
    return MemoPosting(
        posting_id=row.posting_id,
        idempotency_key=row.idempotency_key,
        register=row.register,
        accounting_date=row.accounting_date,
        direction=row.direction,
        amount=Money.from_minor(row.amount_minor, row.currency),
        dimensions=_dimensions_from_row(row),
        memo=row.memo,
    )


def _memos_where(
    connection: Connection, column: sa.Column, values: Sequence[str]
) -> list[MemoPosting]:
    out: list[MemoPosting] = []
    for clause in _member_chunks(connection, column, values):
        query = sa.select(MEMO).where(clause).order_by(MEMO.c.seq)
        out.extend(_memo_from_row(r) for r in connection.execute(query))
    return out


# -- sums ---------------------------------------------------------------------------------------


def _net(
    connection: Connection,
    codes: Sequence[str],
    currency: str,
    wanted: Dimensions,
    days: Callable[[sa.Column], Any],
) -> int:
    """Debits minus credits in minor units of the legs of ``codes`` in ``currency`` that carry
    every ``wanted`` dimension, on the days ``days(day column)`` selects.

    From the daily totals when no dimension is wanted; from the segment totals when only product
    and partner are; otherwise from the legs, through an indexed dimension's index."""
    if not wanted:
        return _net_from_totals(connection, DAILY, codes, currency, [days(DAILY.c.day)])
    if _by_segment_only(wanted):
        filters = [days(SEGMENTS.c.day), *(SEGMENTS.c[key] == value for key, value in wanted)]
        return _net_from_totals(connection, SEGMENTS, codes, currency, filters)
    return _net_from_legs(connection, codes, currency, wanted, days(DAILY.c.day))


def _by_segment_only(wanted: Dimensions) -> bool:
    return all(key in SEGMENT_DIMENSIONS for key, _ in wanted)


def _net_from_totals(
    connection: Connection, table: sa.Table, codes: Sequence[str], currency: str, filters: list[Any]
) -> int:
    """Debits minus credits in minor units from a totals table (daily or segment)."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(table.c.debit_minor), 0),
        sa.func.coalesce(sa.func.sum(table.c.credit_minor), 0),
    ).where(table.c.subject_code.in_(list(codes)), table.c.currency == currency, *filters)
    debit, credit = connection.execute(query).one()
    return int(debit) - int(credit)


def _signed_amount() -> sa.ColumnElement:
    return sa.case((LEGS.c.side == "debit", LEGS.c.amount_minor), else_=-LEGS.c.amount_minor)


def _leg_filters(
    codes: Sequence[str], currency: str, wanted: Iterable[tuple[str, str]]
) -> list[Any]:
    filters = [LEGS.c.subject_code.in_(list(codes)), LEGS.c.currency == currency]
    for key, value in wanted:
        filters.append(LEGS.c[key] == value)
        if key in INDEXED_DIMENSIONS:
            # Implied by the equality; there so that SQLite sees the partial index's condition in
            # the query and may use the index.
            filters.append(LEGS.c[key] != NO_DIMENSION)
    return filters


def _legs_on_posting_days(
    codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> list[Any]:
    """Filters selecting legs of ``codes`` that carry every wanted dimension, on the days
    (``day_filter`` over ``ledger_daily_balances.day``) the subjects have postings.

    The dimension indexes lead with ``accounting_date``, so a batch's rows land in one region of
    each index instead of one leaf page per loan, customer or merchant (see docs/storage.md). A
    dimension read therefore probes them once per posting day, the days listed by the daily
    totals (``accounting_date IN (subquery)``): an index seek each, a few hundred per year however
    many legs there are.
    """
    days = sa.select(DAILY.c.day).where(
        DAILY.c.subject_code.in_(list(codes)), DAILY.c.currency == currency, day_filter
    )
    return [LEGS.c.accounting_date.in_(days), *_leg_filters(codes, currency, wanted)]


def _net_from_legs_query(
    codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> sa.Select[Any]:
    """Debits minus credits in minor units of the legs carrying every wanted dimension, on the
    posting days ``day_filter`` (over ``ledger_daily_balances.day``) selects."""
    filters = _legs_on_posting_days(codes, currency, wanted, day_filter)
    return sa.select(sa.func.coalesce(sa.func.sum(_signed_amount()), 0)).where(*filters)


def _net_from_legs(
    connection: Connection, codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> int:
    query = _net_from_legs_query(codes, currency, wanted, day_filter)
    return int(connection.execute(query).scalar_one())


def _ledger_postings(
    connection: Connection, codes: Sequence[str], currency: str, wanted: Any, start: date, end: date
) -> list[tuple[JournalEntry, Leg]]:
    if wanted and not _by_segment_only(wanted):
        filters = _legs_on_posting_days(codes, currency, wanted, DAILY.c.day.between(start, end))
    else:  # the subject's legs in the period (its index), filtered by product or partner if any
        filters = _leg_filters(codes, currency, wanted)
        filters.append(LEGS.c.accounting_date.between(start, end))
    query = (
        sa.select(LEGS.c.entry_seq, LEGS.c.leg_no)
        .where(*filters)
        .order_by(LEGS.c.accounting_date, LEGS.c.entry_seq, LEGS.c.leg_no)
    )
    positions = connection.execute(query).all()
    seqs = sorted({seq for seq, _ in positions})
    by_seq: dict[int, JournalEntry] = {}
    for chunk in _chunks(seqs):
        loaded = _load_entries(connection, ENTRIES.c.seq.in_(chunk), LEGS.c.entry_seq.in_(chunk))
        by_seq.update(zip(chunk, loaded))
    return [(by_seq[seq], by_seq[seq].legs[leg_no]) for seq, leg_no in positions]


def _memo_net(
    connection: Connection, register: MemoRegister, currency: str, wanted: Any, as_of: date
) -> int:
    increase = MEMO.c.direction == "increase"
    signed = sa.case((increase, MEMO.c.amount_minor), else_=-MEMO.c.amount_minor)
    query = sa.select(sa.func.coalesce(sa.func.sum(signed), 0)).where(
        MEMO.c.register == register.value,
        MEMO.c.currency == currency,
        MEMO.c.accounting_date <= as_of,
        *[MEMO.c[key] == value for key, value in wanted],
    )
    return int(connection.execute(query).scalar_one())
