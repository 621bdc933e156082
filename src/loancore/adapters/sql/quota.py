"""SqlQuotaStore: quota lines, holds and the quota journal on SQLite or PostgreSQL.

Same behaviour as :class:`~loancore.adapters.memory.quota.MemoryQuotaStore` (one test suite runs
against both); amounts are BIGINT minor units. Each :meth:`SqlQuotaStore.apply` is one transaction
(a SAVEPOINT inside the application's, when handed a Connection), taking its locks in one order:

1. the lines the command touches: on PostgreSQL one ``SELECT ... ORDER BY ... FOR UPDATE`` locks
   the master line, then the sub-line (always that order, so two operations never wait on each
   other in a cycle); a command that changes a master's limit also takes a per-borrower advisory
   lock (the borrower cap is a sum over the borrower's master lines). SQLite serialises writers
   with ``BEGIN IMMEDIATE``;
2. the idempotency key, claimed after the line locks (``INSERT ... ON CONFLICT DO NOTHING``): a
   key already taken is a replay (or a conflict), and a twin racing on another line waits for
   the first to end, then replays it;
3. the pure core decides (:func:`loancore.quota.decide`; a refusal raises
   :class:`~loancore.errors.QuotaRejected` and the transaction rolls back, claimed key included),
   and the new rows are written, the journal events last.

A replayed key is compared with the first command through
:func:`loancore.quota.command_fingerprint` (canonical JSON kept in ``quota_operations``); rows
written by schema 1 hold the command's ``repr()`` and are still compared that way.

So concurrent holds on one line from many connections can never exceed its available amount in
total: each decides only after the previous one committed its balance. ``apply``'s statements
run on the DB-API cursor, compiled once per dialect (see ``_STATEMENTS``); docs/quota.md,
"Performance", has the measurements.
"""

from __future__ import annotations

import contextlib
import datetime
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine

from loancore.adapters.sql.base import (
    ID,
    METADATA,
    Bind,
    MigrationStep,
    amount_column,
    binary_text,
    check_bind,
    currency_column,
    ensure_schema,
    read_connection,
    retype_columns,
)
from loancore.checks import require_id
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    NotFound,
    RejectionCode,
)
from loancore.money import Money
from loancore.quota import (
    Capture,
    Command,
    Decision,
    Draw,
    EventKind,
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
    QuotaView,
    RestoreRefunded,
    RestoreRepaid,
    TemporaryLimit,
    Void,
    available_minor,
    check_as_of,
    check_command,
    check_hold_ids,
    check_rebuild,
    command_fingerprint,
    decide,
    load_view,
    rebuild,
)

__all__ = [
    "QUOTA_COMPONENT",
    "QUOTA_MIGRATIONS",
    "QUOTA_SCHEMA_VERSION",
    "QUOTA_TABLES",
    "SqlQuotaStore",
]

QUOTA_COMPONENT = "quota"
QUOTA_SCHEMA_VERSION = 3
TEXT_ID = binary_text(200)  # byte order on both backends (COLLATE "C" on PostgreSQL)
_RETRIES_MAX = 3  # a unique-key race is retried as a replay; more than this is a bug

LINES = sa.Table(
    "quota_lines",
    METADATA,
    sa.Column("line_id", TEXT_ID, primary_key=True),
    sa.Column("borrower_id", TEXT_ID, nullable=False, index=True),
    sa.Column(
        "master_id", TEXT_ID, sa.ForeignKey("quota_lines.line_id"), nullable=True, index=True
    ),
    sa.Column("product", TEXT_ID, nullable=False),
    currency_column(),
    amount_column("limit_permanent_minor"),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("frozen_whole", sa.Boolean, nullable=False),
    amount_column("used_minor"),
    amount_column("held_minor"),
    amount_column("frozen_minor"),
    sa.CheckConstraint(
        "used_minor >= 0 AND held_minor >= 0 AND frozen_minor >= 0", name="balances_not_negative"
    ),
)

TEMPORARY = sa.Table(
    "quota_temporary_limits",
    METADATA,
    sa.Column("limit_id", TEXT_ID, primary_key=True),
    sa.Column("line_id", TEXT_ID, sa.ForeignKey("quota_lines.line_id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    amount_column("amount_minor"),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
)

HOLDS = sa.Table(
    "quota_holds",
    METADATA,
    sa.Column("hold_id", TEXT_ID, primary_key=True),
    sa.Column("line_id", TEXT_ID, sa.ForeignKey("quota_lines.line_id"), nullable=False),
    currency_column(),
    amount_column("amount_minor"),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    amount_column("captured_minor"),
    sa.Index("ix_quota_holds_line_status", "line_id", "status"),
    sa.Index("ix_quota_holds_status_expires", "status", "expires_on"),
)

OPERATIONS = sa.Table(
    "quota_operations",
    METADATA,
    sa.Column("key", TEXT_ID, primary_key=True),
    # command_fingerprint(command) (schema 1: repr(command)): compared when the key is replayed
    sa.Column("command", sa.Text, nullable=False),
    # Always 0 (RejectionCode.OK) since schema 3: a refusal is raised and not recorded. Schemas 1
    # and 2 recorded refusals too; the 2 -> 3 migration deletes those rows, freeing their keys.
    sa.Column("code", sa.Integer, nullable=False),
)

EVENTS = sa.Table(
    "quota_events",
    METADATA,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("key", TEXT_ID, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("borrower_id", TEXT_ID, nullable=False),
    sa.Column("line_id", TEXT_ID, nullable=False, index=True),
    sa.Column("master_id", TEXT_ID, nullable=True),
    currency_column(),
    amount_column("amount_minor"),
    amount_column("released_minor"),
    sa.Column("ref_id", TEXT_ID, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=True),
    sa.Column("ends_on", sa.Date, nullable=True),
    sa.Column("product", TEXT_ID, nullable=False),
    sa.UniqueConstraint("key", "seq"),
)

QUOTA_TABLES = (LINES, TEMPORARY, HOLDS, OPERATIONS, EVENTS)


def _v1_to_v2(connection: Connection) -> None:
    """Schema 1 -> 2: replays compare canonical fingerprints (rows written by schema 1 keep their
    ``repr()`` text and are still compared that way, so nothing is rewritten), and on PostgreSQL
    the identifier columns compare bytes (COLLATE "C"; PostgreSQL rebuilds their indexes). The
    version number itself keeps a schema-1 loancore, which could not read the new fingerprints,
    away from the database."""
    retype_columns(connection, QUOTA_TABLES, TEXT_ID)


def _v2_to_v3(connection: Connection) -> None:
    """Schema 2 -> 3: refusals are raised and no longer recorded, so the operations that schemas
    1 and 2 recorded as refused (``code <> 0``, no events, nothing else written) are deleted: their
    keys are free again, and a retry is judged afresh, as it would be today."""
    connection.execute(OPERATIONS.delete().where(OPERATIONS.c.code != int(RejectionCode.OK)))


QUOTA_MIGRATIONS: dict[int, MigrationStep] = {1: _v1_to_v2, 2: _v2_to_v3}
"""The quota schema's upgrade steps: ``QUOTA_MIGRATIONS[v]`` takes version ``v`` to ``v + 1``."""

# -- the statements of apply -----------------------------------------------------------------------
#
# apply() and the reads of single rows run these statements on the DB-API cursor of the connection
# SQLAlchemy manages (inside the transaction it holds, see _write and _read), compiled by SQLAlchemy
# once per dialect: SQLAlchemy's execution machinery costs about 50 µs a statement here, the driver
# about 4 (docs/quota.md, "Performance"). Parameters are named (the ``p_`` prefix keeps them apart
# from the column names SQLAlchemy reserves in INSERT and UPDATE). Rows come back as tuples in the
# order of the column lists below; the bulk reads (lines, snapshot, journal) select the same lists
# through SQLAlchemy, so one converter per kind of row reads both.

_LINE_COLUMNS = (
    "line_id", "borrower_id", "master_id", "product", "currency", "limit_permanent_minor",
    "starts_on", "expires_on", "status", "frozen_whole", "used_minor", "held_minor",
    "frozen_minor",
)  # fmt: skip
_HOLD_COLUMNS = (
    "hold_id", "line_id", "currency", "amount_minor", "expires_on", "status", "captured_minor",
)  # fmt: skip
_EVENT_FIELDS = (
    "key", "seq", "kind", "as_of", "borrower_id", "line_id", "master_id", "currency",
    "amount_minor", "released_minor", "ref_id", "starts_on", "ends_on", "product",
)  # fmt: skip
_TEMPORARY_COLUMNS = ("limit_id", "amount_minor", "starts_on", "ends_on")
_LINES = [LINES.c[name] for name in _LINE_COLUMNS]
_HOLDS = [HOLDS.c[name] for name in _HOLD_COLUMNS]
_EVENTS = [EVENTS.c[name] for name in _EVENT_FIELDS]
_TEMPORARY = [TEMPORARY.c[name] for name in _TEMPORARY_COLUMNS]
_HAS_TEMPORARY = len(_LINE_COLUMNS)  # the position of the flag _PAIR adds to a line row


def _p(name: str) -> Any:
    return sa.bindparam(f"p_{name}")


def _values(names: Sequence[str]) -> dict[str, Any]:
    return {name: _p(name) for name in names}


_SUB = LINES.alias("sub")
_HAS_TEMPORARY_FLAG = (
    sa.exists().where(TEMPORARY.c.line_id == LINES.c.line_id).label("has_temporary")
)
# Constants as SQL text, not parameters: every parameter of these statements is named below.
_ZERO: Any = sa.literal_column("0")
_MINUS_ONE: Any = sa.literal_column("-1")
# A line and its master in one statement, master first (its master_id is NULL, which sorts first
# as "IS NOT NULL" is false): with FOR UPDATE, PostgreSQL locks the rows in that order, so the
# lock order is master, then sub-line, in every operation. A line's master_id never changes, so
# the sub-query may read it without a lock. The flag says whether a line has temporary limits.
_PAIR = (
    sa.select(*_LINES, _HAS_TEMPORARY_FLAG)
    .where(
        sa.or_(
            LINES.c.line_id == _p("line_id"),
            LINES.c.line_id
            == sa.select(_SUB.c.master_id).where(_SUB.c.line_id == _p("line_id")).scalar_subquery(),
        )
    )
    .order_by(LINES.c.master_id.is_not(None))
)
_KEYS_PER_READ = 64
_STATEMENTS: dict[str, Any] = {
    "pair": _PAIR,
    "pair_for_update": _PAIR.with_for_update(of=LINES),
    # Two ids (the same one twice for a master): read after the row locks, in a new statement.
    "temporary": sa.select(TEMPORARY.c.line_id, *_TEMPORARY)
    .where(TEMPORARY.c.line_id.in_([_p("line_id"), _p("other_id")]))
    .order_by(TEMPORARY.c.line_id, TEMPORARY.c.position),
    "hold": sa.select(*_HOLDS).where(HOLDS.c.hold_id == _p("hold_id")),
    "open_holds": sa.select(*_HOLDS)
    .where(HOLDS.c.line_id == _p("line_id"), HOLDS.c.status == _p("status"))
    .order_by(HOLDS.c.hold_id),
    "sub_lines_used": sa.select(sa.func.coalesce(sa.func.sum(LINES.c.used_minor), _ZERO)).where(
        LINES.c.master_id == _p("master_id")
    ),
    "masters_of": sa.select(*_LINES, _HAS_TEMPORARY_FLAG)
    .where(
        LINES.c.borrower_id == _p("borrower_id"),
        LINES.c.master_id.is_(None),
        LINES.c.line_id != _p("line_id"),
    )
    .order_by(LINES.c.line_id),
    "temporary_of": sa.select(*_TEMPORARY)
    .where(TEMPORARY.c.line_id == _p("line_id"))
    .order_by(TEMPORARY.c.position),
    "borrower_lock": sa.select(sa.func.pg_advisory_xact_lock(_p("lock_key"))),
    "operation": sa.select(OPERATIONS.c.command).where(OPERATIONS.c.key == _p("key")),
    # apply_many's look-up of the keys already taken, _KEYS_PER_READ at a time (padded).
    "operations_in": sa.select(OPERATIONS.c.key, OPERATIONS.c.command).where(
        OPERATIONS.c.key.in_([_p(f"k{n}") for n in range(_KEYS_PER_READ)])
    ),
    "events_of": sa.select(*_EVENTS).where(EVENTS.c.key == _p("key")).order_by(EVENTS.c.seq),
    "update_balance": LINES.update()
    .where(LINES.c.line_id == _p("line_id"))
    .values(_values(("used_minor", "held_minor", "frozen_minor"))),
    # A sub-line's and its master's balances in one statement (one round trip, where psycopg's
    # executemany enters pipeline mode, which costs more than it saves for two rows).
    "update_balances": LINES.update()
    .where(LINES.c.line_id.in_([_p("line_id"), _p("other_id")]))
    .values(
        {
            name: sa.case((LINES.c.line_id == _p("line_id"), _p(name)), else_=_p(f"other_{name}"))
            for name in ("used_minor", "held_minor", "frozen_minor")
        }
    ),
    "insert_hold": HOLDS.insert().values(_values(_HOLD_COLUMNS)),
    "update_hold": HOLDS.update()
    .where(HOLDS.c.hold_id == _p("hold_id"))
    .values(_values(("status", "captured_minor"))),
    "insert_event": EVENTS.insert().values(_values(_EVENT_FIELDS)),
    "insert_line": LINES.insert().values(_values(_LINE_COLUMNS)),
    "update_terms": LINES.update()
    .where(LINES.c.line_id == _p("line_id"))
    .values(_values(("limit_permanent_minor", "status", "frozen_whole"))),
    "delete_temporary": TEMPORARY.delete().where(TEMPORARY.c.limit_id == _p("limit_id")),
    "last_position": sa.select(
        sa.func.coalesce(sa.func.max(TEMPORARY.c.position), _MINUS_ONE)
    ).where(TEMPORARY.c.line_id == _p("line_id")),
    "insert_temporary": TEMPORARY.insert().values(
        _values(("line_id", "position", *_TEMPORARY_COLUMNS))
    ),
}


def _claim_operation(dialect: Dialect) -> Any:
    """INSERT the operation row unless its key is taken (then nothing, and no error: the key is
    a replay, or a twin's that committed first)."""
    row = _values(("key", "command", "code"))
    if dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(OPERATIONS).values(row).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(OPERATIONS).values(row).on_conflict_do_nothing()


@attrs.frozen
class _Compiled:
    """A statement's SQL text for one dialect, and the order of its parameters when the driver's
    parameter style is positional (None: the driver takes them by name)."""

    sql: str
    names: tuple[str, ...] | None


_COMPILED: dict[tuple[str, str, str], dict[str, _Compiled]] = {}


def _compiled_for(dialect: Dialect) -> dict[str, _Compiled]:
    """Every statement above compiled for ``dialect`` (once per dialect, driver and parameter
    style; a race compiles twice and keeps either, which are equal)."""
    cache_key = (dialect.name, str(dialect.driver), str(dialect.paramstyle))
    found = _COMPILED.get(cache_key)
    if found is None:
        statements = {**_STATEMENTS, "claim_operation": _claim_operation(dialect)}
        found = {}
        for name, statement in statements.items():
            compiled = statement.compile(dialect=dialect)
            names = None
            if compiled.positional:
                names = tuple(n.removeprefix("p_") for n in compiled.positiontup or ())
            found[name] = _Compiled(compiled.string, names)
        _COMPILED[cache_key] = found
    return found


class _Raw:
    """The statements of :data:`_STATEMENTS` run on the DB-API connection under ``connection``,
    inside whatever transaction that connection is in. Dates go to SQLite as ISO text (what
    SQLAlchemy's SQLite DATE stores) and come back through :func:`_day`."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        if dbapi_connection is None:
            raise InvariantViolation("quota store: the connection has no DB-API connection")
        self.dbapi_connection: Any = dbapi_connection
        self.cursor: Any = dbapi_connection.cursor()
        self.statements = _compiled_for(dialect)
        self.sqlite = dialect.name == "sqlite"

    @classmethod
    def on(cls, connection: Connection) -> _Raw:
        """The DB-API connection under a SQLAlchemy Connection."""
        return cls(connection.connection.dbapi_connection, connection.dialect)

    def _parameters(self, compiled: _Compiled, values: dict[str, Any]) -> Any:
        names = compiled.names
        if names is None:  # named (psycopg): the driver adapts dates itself
            return {f"p_{name}": value for name, value in values.items()}
        if self.sqlite:  # positional (sqlite3): dates as SQLAlchemy's SQLite DATE stores them
            return [
                value.isoformat() if value.__class__ is _DATE else value
                for value in map(values.__getitem__, names)
            ]
        return [values[name] for name in names]

    def execute(self, name: str, values: dict[str, Any]) -> int:
        """Run statement ``name``; the number of rows it changed."""
        compiled = self.statements[name]
        self.cursor.execute(compiled.sql, self._parameters(compiled, values))
        return int(self.cursor.rowcount)

    def execute_many(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        compiled = self.statements[name]
        self.cursor.executemany(compiled.sql, [self._parameters(compiled, r) for r in rows])

    def rows(self, name: str, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        self.execute(name, values)
        return list(self.cursor.fetchall())

    def first(self, name: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
        self.execute(name, values)
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    def run(self, sql: str) -> None:
        """Transaction control (BEGIN, COMMIT, SAVEPOINT ...), sent as it is."""
        self.cursor.execute(sql)


_SAVEPOINT = "loancore_quota"
_DATE = datetime.date


@contextlib.contextmanager
def _write(bind: Bind) -> Iterator[_Raw]:
    """One write transaction for :meth:`SqlQuotaStore.apply`, run on the DB-API connection.

    - Engine: a connection of its own and a new transaction (``BEGIN IMMEDIATE`` on SQLite, the
      driver's implicit BEGIN on PostgreSQL), committed on normal exit, rolled back otherwise.
    - Connection: a SAVEPOINT inside the application's transaction (begun through SQLAlchemy
      first if it has none yet, and left open: committing is the application's business),
      released on normal exit, rolled back to and released on an exception, so a refused or
      failed command undoes only its own writes.
    """
    if isinstance(bind, Engine):
        pooled = bind.raw_connection()  # no SQLAlchemy Connection: it would sit unused
        try:
            raw = _Raw(pooled.dbapi_connection, bind.dialect)
            if raw.sqlite:
                raw.run("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                _rollback(raw)
                raise
            if raw.sqlite:
                raw.run("COMMIT")
            else:
                raw.dbapi_connection.commit()
        finally:
            pooled.close()  # back to the pool
        return
    if not bind.in_transaction():
        bind.begin()
    raw = _Raw.on(bind)
    raw.run(f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield raw
    except BaseException:
        raw.run(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        raw.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        raise
    raw.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")


def _rollback(raw: _Raw) -> None:
    if raw.sqlite:
        if raw.dbapi_connection.in_transaction:
            raw.run("ROLLBACK")
    else:
        raw.dbapi_connection.rollback()


@contextlib.contextmanager
def _read(bind: Bind) -> Iterator[_Raw]:
    """A read on the DB-API connection: on an Engine, in a read transaction of its own (one
    snapshot, no write lock: ``BEGIN DEFERRED`` on SQLite), ended when done; on the
    application's Connection, inside its transaction (seeing its uncommitted writes)."""
    if isinstance(bind, Engine):
        pooled = bind.raw_connection()
        try:
            raw = _Raw(pooled.dbapi_connection, bind.dialect)
            if raw.sqlite:
                raw.run("BEGIN DEFERRED")
            try:
                yield raw
            finally:
                _rollback(raw)
        finally:
            pooled.close()
        return
    yield _Raw.on(bind)


_PAGE = 2_000
_JOURNAL_PAGE = (
    sa.select(EVENTS.c.id, *_EVENTS)
    .where(EVENTS.c.id > sa.bindparam("after"))
    .order_by(EVENTS.c.id)
    .limit(sa.bindparam("page", type_=sa.Integer))
)


class SqlQuotaStore:
    """A quota store on SQLite or PostgreSQL (see the module docstring for the guarantees).

    ``bind`` is an Engine (each call is its own transaction) or the application's Connection (each
    call joins the application's transaction in a SAVEPOINT; the application commits). The schema
    is created or checked on construction unless ``create_schema`` is False.
    """

    def __init__(
        self, bind: Bind, config: QuotaConfig | None = None, *, create_schema: bool = True
    ) -> None:
        self.config = QuotaConfig() if config is None else config
        if not isinstance(self.config, QuotaConfig):
            raise InvalidInput("config", config, "expected a QuotaConfig")
        check_bind(bind)
        self._bind = bind
        dbapi = bind.dialect.loaded_dbapi
        self._integrity_errors: tuple[type[Exception], ...] = (
            sa.exc.IntegrityError, dbapi.IntegrityError
        )  # fmt: skip
        if create_schema:
            ensure_schema(
                bind,
                QUOTA_COMPONENT,
                QUOTA_SCHEMA_VERSION,
                QUOTA_TABLES,
                migrations=QUOTA_MIGRATIONS,
            )

    @property
    def bind(self) -> Bind:
        """What the store was built on: an Engine, or the application's Connection (read-only)."""
        return self._bind

    @property
    def engine(self) -> Engine:
        """The Engine under :attr:`bind` (the bind itself, or the Connection's engine), for an
        application that opens its own connections on the same database (read-only)."""
        bind = self._bind
        return bind if isinstance(bind, Engine) else bind.engine

    def using(self, connection: Connection) -> SqlQuotaStore:
        """This store bound to ``connection`` (joining its transaction), schema not re-checked."""
        return SqlQuotaStore(connection, self.config, create_schema=False)

    # -- writing --------------------------------------------------------------------------------

    def apply(self, command: Command, *, as_of: datetime.date) -> QuotaResult:
        """Apply ``command`` as of ``as_of`` in one transaction (see :mod:`loancore.quota`)."""
        check_as_of(as_of)
        check_command(command)
        fingerprint = command_fingerprint(command)
        try:
            with _write(self._bind) as raw:
                return self._apply(raw, command, fingerprint, as_of)
        except self._integrity_errors as error:
            # Claiming the key first makes a twin's key a replay, not an error; any constraint
            # failing (a negative balance) is a bug, never a business outcome.
            detail = f"quota write for {command.key!r} broke a constraint: {error}"
            raise InvariantViolation(detail) from error

    def _apply(
        self, raw: _Raw, command: Command, fingerprint: str, as_of: datetime.date
    ) -> QuotaResult:
        view = load_view(command, _Source(raw, lock=True), as_of=as_of)
        # After the locks: claim the key (the journal's part comes last, see _persist). A twin
        # that holds it uncommitted on another line makes PostgreSQL wait for its end.
        claim = {"key": command.key, "command": fingerprint, "code": int(RejectionCode.OK)}
        if not raw.execute("claim_operation", claim):
            done = _result(raw, command.key)
            if done is None:
                raise InvariantViolation(f"quota key {command.key!r} is taken but not stored")
            if not _same_command(done[0], fingerprint, command):
                raise IdempotencyConflict(command.key, f"first applied as {done[0]}")
            return attrs.evolve(done[1], replayed=True)
        # A refusal raises here: leaving _write rolls the claimed key back, so it stays free.
        decision = decide(command, view, as_of=as_of, config=self.config)
        _persist(raw, view, decision)
        return QuotaResult(command.key, decision.events)

    def apply_many(
        self, commands: Sequence[Command], *, as_of: datetime.date
    ) -> tuple[QuotaResult, ...]:
        """Apply ``commands`` in order, as one step: the results :meth:`apply` would give one
        after the other, or, when one is refused (or raises), that error and no change at all.

        Captures, voids, draws and restores (the commands servicing sends) are decided in
        memory against the rows read once per line and hold, then written together: a
        statement per kind of row for the whole list instead of five or six per command. A
        list of one, a list with any other command, or a key a concurrent twin claimed in the
        meantime goes through :meth:`apply`'s own steps, one command at a time (same rules,
        same result).
        """
        check_as_of(as_of)
        commands = tuple(commands)
        for command in commands:
            check_command(command)
        fingerprints = [command_fingerprint(command) for command in commands]
        try:
            with _write(self._bind) as raw:
                # One command: apply's own steps take fewer statements than the batch's.
                if len(commands) > 1 and all(type(c) in _BATCHED for c in commands):
                    raw.run(f"SAVEPOINT {_BATCH_SAVEPOINT}")
                    try:
                        results = self._apply_batched(raw, commands, fingerprints, as_of)
                    except _OneByOne:
                        raw.run(f"ROLLBACK TO SAVEPOINT {_BATCH_SAVEPOINT}")
                    else:
                        raw.run(f"RELEASE SAVEPOINT {_BATCH_SAVEPOINT}")
                        return results
                return tuple(
                    self._apply(raw, command, fingerprint, as_of)
                    for command, fingerprint in zip(commands, fingerprints, strict=True)
                )
        except self._integrity_errors as error:
            detail = f"quota write of {len(commands)} commands broke a constraint: {error}"
            raise InvariantViolation(detail) from error

    def _apply_batched(
        self,
        raw: _Raw,
        commands: tuple[Command, ...],
        fingerprints: list[str],
        as_of: datetime.date,
    ) -> tuple[QuotaResult, ...]:
        """:meth:`apply_many` for commands of :data:`_BATCHED` (raises :class:`_OneByOne` when
        the rows cannot be written together)."""
        stored = _stored_commands(raw, [command.key for command in commands])
        source = _Batch(raw)
        results: list[QuotaResult] = []
        decided: dict[str, tuple[str, QuotaResult]] = {}  # key -> fingerprint, first result
        events: list[QuotaEvent] = []
        for command, fingerprint in zip(commands, fingerprints, strict=True):
            key = command.key
            first = decided.get(key)
            if first is None and key in stored:
                # Locked like apply: the line first, then the stored result.
                load_view(command, source, as_of=as_of)
                done = _result(raw, key)
                if done is None:
                    raise InvariantViolation(f"quota key {key!r} is taken but not stored")
                first = (done[0], done[1])
                decided[key] = first
            if first is not None:
                if not _same_command(first[0], fingerprint, command):
                    raise IdempotencyConflict(key, f"first applied as {first[0]}")
                results.append(attrs.evolve(first[1], replayed=True))
                continue
            view = load_view(command, source, as_of=as_of)
            decision = decide(command, view, as_of=as_of, config=self.config)
            source.absorb(decision)
            result = QuotaResult(key, decision.events)
            decided[key] = (fingerprint, result)
            events.extend(decision.events)
            results.append(result)
        claims = [
            {"key": key, "command": fingerprint, "code": int(RejectionCode.OK)}
            for key, (fingerprint, _result_) in decided.items()
            if key not in stored
        ]
        if claims:
            raw.execute_many("claim_operation", claims)
            if raw.cursor.rowcount != len(claims):  # a twin claimed one since: one by one
                raise _OneByOne
        source.write()
        if events:
            raw.execute_many("insert_event", [_event_row(event) for event in events])
        return tuple(results)

    # -- reading --------------------------------------------------------------------------------

    def result(self, key: str) -> QuotaResult | None:
        """The result of the operation applied under ``key``, or None."""
        require_id("key", key)
        with _read(self._bind) as raw:
            done = _result(raw, key)
        return None if done is None else done[1]

    def line(self, line_id: str) -> QuotaLine:
        require_id("line_id", line_id)
        with _read(self._bind) as raw:
            line, _balance, _master, _master_balance = _Source(raw, lock=False).line_pair(line_id)
        if line is None:
            raise NotFound("quota line", line_id)
        return line

    def balance(self, line_id: str) -> LineBalance:
        require_id("line_id", line_id)
        with _read(self._bind) as raw:
            _line, balance, _master, _master_balance = _Source(raw, lock=False).line_pair(line_id)
        if balance is None:
            raise NotFound("quota line", line_id)
        return balance

    def hold(self, hold_id: str) -> QuotaHold:
        require_id("hold_id", hold_id)
        with _read(self._bind) as raw:
            hold = _Source(raw, lock=False).hold(hold_id)
        if hold is None:
            raise NotFound("quota hold", hold_id)
        return hold

    def holds(self, hold_ids: Sequence[str]) -> dict[str, QuotaHold]:
        ids = check_hold_ids(hold_ids)
        unique = list(dict.fromkeys(ids))
        found: dict[str, QuotaHold] = {}
        with read_connection(self._bind) as connection:
            for first in range(0, len(unique), _IN_MAX):  # bounded: HOLDS_READ_MAX / _IN_MAX
                chunk = unique[first : first + _IN_MAX]
                query = sa.select(*_HOLDS).where(HOLDS.c.hold_id.in_(chunk))
                found.update((row[0], _hold_of(row)) for row in connection.execute(query))
        return {hold_id: found[hold_id] for hold_id in unique if hold_id in found}

    def available(self, line_id: str, *, as_of: datetime.date) -> Money:
        """What can be held or drawn on ``line_id`` now: its own available bound by its master's."""
        require_id("line_id", line_id)
        check_as_of(as_of)
        with _read(self._bind) as raw:
            pair = _Source(raw, lock=False).line_pair(line_id)
        line, balance, master, master_balance = pair
        if line is None or balance is None:
            raise NotFound("quota line", line_id)
        return line.money(available_minor(line, balance, master, master_balance, as_of=as_of))

    def lines(self, *, borrower_id: str | None = None) -> tuple[QuotaLine, ...]:
        """Every line (of ``borrower_id`` if given), in line id order."""
        query = sa.select(*_LINES).order_by(LINES.c.line_id)
        if borrower_id is not None:
            require_id("borrower_id", borrower_id)
            query = query.where(LINES.c.borrower_id == borrower_id)
        with read_connection(self._bind) as connection:
            rows = connection.execute(query).all()
            temporary = _all_temporary_limits(connection)
        return tuple(_line_of(r, temporary.get(r[0], ())) for r in rows)

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        require_id("line_id", line_id)
        with _read(self._bind) as raw:
            return _Source(raw, lock=False).open_holds(line_id)

    def line_ids_with_expired_holds(self, *, as_of: datetime.date) -> tuple[str, ...]:
        """Lines with an open hold whose expiry is before ``as_of`` (work for ExpireHolds)."""
        check_as_of(as_of)
        query = (
            sa.select(HOLDS.c.line_id)
            .where(HOLDS.c.status == int(HoldStatus.OPEN), HOLDS.c.expires_on < as_of)
            .distinct()
            .order_by(HOLDS.c.line_id)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

    def journal(self) -> Iterator[QuotaEvent]:
        """Every quota event in journal order, read in pages of ``_PAGE`` rows."""
        after = 0
        while True:  # bounded: each page moves ``after`` past the rows it read
            with read_connection(self._bind) as connection:
                rows = connection.execute(_JOURNAL_PAGE, {"after": after, "page": _PAGE}).all()
            yield from (_event_of(r[1:]) for r in rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds, read in one transaction."""
        with read_connection(self._bind) as connection:
            rows = connection.execute(sa.select(*_LINES)).all()
            temporary = _all_temporary_limits(connection)
            holds = connection.execute(sa.select(*_HOLDS)).all()
        return QuotaSnapshot(
            {r[0]: _line_of(r, temporary.get(r[0], ())) for r in rows},
            {r[0]: _balance_of(r) for r in rows},
            {h[0]: _hold_of(h) for h in holds},
        )

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored rows differ."""
        with read_connection(self._bind) as connection, _snapshot_transaction(connection):
            rows = connection.execute(sa.select(*_EVENTS).order_by(EVENTS.c.id))
            events = [_event_of(r) for r in rows]
            stored = self.using(connection).snapshot()
        return check_rebuild(rebuild(events), stored)


def _all_temporary_limits(connection: Connection) -> dict[str, tuple[TemporaryLimit, ...]]:
    """Every temporary limit by line id, in position order (for the bulk reads)."""
    query = sa.select(TEMPORARY.c.line_id, *_TEMPORARY).order_by(
        TEMPORARY.c.line_id, TEMPORARY.c.position
    )
    found: dict[str, list[TemporaryLimit]] = {}
    for row in connection.execute(query):
        found.setdefault(row[0], []).append(_temporary_of(row[1:]))
    return {line_id: tuple(limits) for line_id, limits in found.items()}


class _snapshot_transaction:
    """Run the reads of :meth:`SqlQuotaStore.check` in one REPEATABLE READ snapshot on PostgreSQL
    (journal and rows then agree while writers go on); SQLite's read transaction already does."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        if self._connection.dialect.name == "postgresql" and not self._connection.in_transaction():
            self._connection.execution_options(isolation_level="REPEATABLE READ")

    def __exit__(self, *_exc: object) -> None:
        return None


# -- apply_many -----------------------------------------------------------------------------------

_BATCHED: frozenset[type] = frozenset({Capture, Void, Draw, RestoreRepaid, RestoreRefunded})
"""The commands :meth:`SqlQuotaStore.apply_many` decides together: their view is a line pair,
a hold and (a restore on a master) the sub-lines' use, and they change balances and holds only."""

_BATCH_SAVEPOINT = "loancore_quota_batch"


class _OneByOne(Exception):
    """The batch cannot be written together; apply_many rolls it back and goes one by one."""


def _stored_commands(raw: _Raw, keys: Sequence[str]) -> dict[str, str]:
    """The command text stored under each of ``keys`` that is taken (one read per
    :data:`_KEYS_PER_READ` keys, the last read padded with its last key)."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _KEYS_PER_READ):
        chunk = unique[start : start + _KEYS_PER_READ]
        chunk += [chunk[-1]] * (_KEYS_PER_READ - len(chunk))
        values = {f"k{n}": key for n, key in enumerate(chunk)}
        for key, command in raw.rows("operations_in", values):
            found[key] = command
    return found


def _event_row(event: QuotaEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _EVENT_FIELDS} | {"kind": int(event.kind)}


class _Batch:
    """The :class:`loancore.quota.ViewSource` of :meth:`SqlQuotaStore.apply_many`: rows are read
    (and on PostgreSQL locked) the first time a command needs them, then served as the commands
    decided so far left them; :meth:`write` writes what changed, once per row."""

    def __init__(self, raw: _Raw) -> None:
        self._raw = raw
        self._source = _Source(raw, lock=True)
        self._lines: dict[str, QuotaLine] = {}
        self._balances: dict[str, LineBalance] = {}
        self._sub_lines_used: dict[str, int] = {}  # per master, as read
        self._sub_lines_moved: dict[str, int] = {}  # per master, its sub-lines' change of used
        self._holds: dict[str, QuotaHold | None] = {}
        self._stored_holds: set[str] = set()
        self._changed_lines: set[str] = set()
        self._changed_holds: set[str] = set()

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        line = self._lines.get(line_id)
        if line is None or (line.master_id is not None and line.master_id not in self._lines):
            self._keep(self._source.line_pair(line_id))
            line = self._lines.get(line_id)
            if line is None:
                return None, None, None, None
        balance = self._balances[line_id]
        if line.master_id is None:
            return line, balance, None, None
        return line, balance, self._lines[line.master_id], self._balances[line.master_id]

    def _keep(
        self,
        pair: tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None],
    ) -> None:
        # Rows already kept stay as the batch left them: the database has not seen its changes.
        line, balance, master, master_balance = pair
        for kept, kept_balance in ((line, balance), (master, master_balance)):
            if kept is None or kept_balance is None or kept.line_id in self._lines:
                continue
            self._lines[kept.line_id] = kept
            self._balances[kept.line_id] = kept_balance

    def hold(self, hold_id: str) -> QuotaHold | None:
        if hold_id not in self._holds:
            hold = self._source.hold(hold_id)
            self._holds[hold_id] = hold
            if hold is not None:
                self._stored_holds.add(hold_id)
        return self._holds[hold_id]

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        raise _OneByOne  # not asked by the commands of _BATCHED

    def sub_lines_used_minor(self, master_id: str) -> int:
        # Read once: a sub-line changes only under its master's lock, which the batch holds.
        stored = self._sub_lines_used.get(master_id)
        if stored is None:
            stored = self._sub_lines_used[master_id] = self._source.sub_lines_used_minor(master_id)
        return stored + self._sub_lines_moved.get(master_id, 0)

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        raise _OneByOne  # not asked by the commands of _BATCHED

    def absorb(self, decision: Decision) -> None:
        """Serve what ``decision`` changed from now on."""
        if decision.lines:
            raise _OneByOne  # terms changed: apply's own writer handles them
        for line_id, balance in decision.balances:
            master_id = self._lines[line_id].master_id
            if master_id is not None:
                moved = balance.used_minor - self._balances[line_id].used_minor
                self._sub_lines_moved[master_id] = self._sub_lines_moved.get(master_id, 0) + moved
            self._balances[line_id] = balance
            self._changed_lines.add(line_id)
        for hold in decision.holds:
            self._holds[hold.hold_id] = hold
            self._changed_holds.add(hold.hold_id)

    def write(self) -> None:
        """Write the balances and holds the batch changed: one statement per kind of row."""
        raw = self._raw
        balances = [
            {"line_id": line_id, "used_minor": balance.used_minor,
             "held_minor": balance.held_minor, "frozen_minor": balance.frozen_minor}
            for line_id in sorted(self._changed_lines)
            for balance in (self._balances[line_id],)
        ]  # fmt: skip
        if balances:
            raw.execute_many("update_balance", balances)
        updated: list[dict[str, Any]] = []
        inserted: list[dict[str, Any]] = []
        for hold_id in sorted(self._changed_holds):
            hold = self._holds[hold_id]
            assert hold is not None, hold_id
            values = {"hold_id": hold_id, "status": int(hold.status)}
            values["captured_minor"] = hold.captured_minor
            if hold_id in self._stored_holds:
                updated.append(values)
            else:
                values.update(
                    line_id=hold.line_id, currency=hold.currency,
                    amount_minor=hold.amount_minor, expires_on=hold.expires_on,
                )  # fmt: skip
                inserted.append(values)
        if updated:
            raw.execute_many("update_hold", updated)
        if inserted:
            raw.execute_many("insert_hold", inserted)


# -- reading rows ---------------------------------------------------------------------------------


class _Source:
    """The database seen through :class:`loancore.quota.ViewSource`, locking rows when asked
    (PostgreSQL: ``FOR UPDATE``, master first; SQLite's ``BEGIN IMMEDIATE`` already serialises
    writers, and a transaction reads one snapshot)."""

    def __init__(self, raw: _Raw, *, lock: bool) -> None:
        self._raw = raw
        self._lock = lock and not raw.sqlite
        # Without row locks, reading a hold again inside the same transaction returns the same
        # row, so the second read load_view makes (for PostgreSQL, after the line lock) is
        # served from here.
        self._holds: dict[str, QuotaHold | None] | None = None if self._lock else {}

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        raw = self._raw
        rows = raw.rows("pair_for_update" if self._lock else "pair", {"line_id": line_id})
        row = next((r for r in rows if r[0] == line_id), None)
        if row is None:
            return None, None, None, None
        master_row = next((r for r in rows if r[0] != line_id), None)
        ids = [r[0] for r in rows if self._lock or r[_HAS_TEMPORARY]]
        # Locked rows are read as they are now; whether they have temporary limits is read in a
        # statement of its own after the locks, which sees what their last holder committed.
        temporary = _temporary_limits(raw, ids)
        line, balance = _line_and_balance(row, temporary)
        if master_row is None:
            return line, balance, None, None
        master, master_balance = _line_and_balance(master_row, temporary)
        return line, balance, master, master_balance

    def hold(self, hold_id: str) -> QuotaHold | None:
        holds = self._holds
        if holds is not None and hold_id in holds:
            return holds[hold_id]
        row = self._raw.first("hold", {"hold_id": hold_id})
        hold = None if row is None else _hold_of(row)
        if holds is not None:
            holds[hold_id] = hold
        return hold

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        rows = self._raw.rows("open_holds", {"line_id": line_id, "status": int(HoldStatus.OPEN)})
        return tuple(_hold_of(r) for r in rows)

    def sub_lines_used_minor(self, master_id: str) -> int:
        row = self._raw.first("sub_lines_used", {"master_id": master_id})
        return 0 if row is None else int(row[0])

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        raw = self._raw
        if self._lock:
            # Every change of a master's limit takes this lock last, so the sum below cannot move.
            key = zlib.crc32(f"loancore.quota.borrower:{borrower_id}".encode())
            raw.execute("borrower_lock", {"lock_key": key})
        rows = raw.rows("masters_of", {"borrower_id": borrower_id, "line_id": exclude_line_id})
        total = 0
        for row in rows:  # bounded: one borrower's master lines
            temporary = _temporary_limits(raw, [row[0]] if row[_HAS_TEMPORARY] else [])
            total += _line_of(row, temporary.get(row[0], ())).limit_exposure_minor(as_of)
        return total


def _temporary_limits(raw: _Raw, line_ids: Sequence[str]) -> dict[str, tuple[TemporaryLimit, ...]]:
    """The temporary limits of at most two lines (a line and its master), in position order."""
    if not line_ids:
        return {}
    assert len(line_ids) <= 2, line_ids
    values = {"line_id": line_ids[0], "other_id": line_ids[-1]}
    found: dict[str, list[TemporaryLimit]] = {}
    for row in raw.rows("temporary", values):
        found.setdefault(row[0], []).append(_temporary_of(row[1:]))
    return {line_id: tuple(limits) for line_id, limits in found.items()}


def _day(value: Any) -> datetime.date:
    """A DATE column's value: a date (PostgreSQL, or SQLAlchemy) or SQLite's ISO text."""
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def _temporary_of(row: Sequence[Any]) -> TemporaryLimit:
    """A TemporaryLimit from a row of _TEMPORARY_COLUMNS."""
    return TemporaryLimit(row[0], row[1], _day(row[2]), _day(row[3]))


def _line_and_balance(
    row: Sequence[Any], temporary: dict[str, tuple[TemporaryLimit, ...]]
) -> tuple[QuotaLine, LineBalance]:
    return _line_of(row, temporary.get(row[0], ())), _balance_of(row)


def _balance_of(row: Sequence[Any]) -> LineBalance:
    """The balance in a row of _LINE_COLUMNS."""
    return LineBalance(row[10], row[11], row[12])


def _line_of(row: Sequence[Any], temporary: tuple[TemporaryLimit, ...]) -> QuotaLine:
    """The line in a row of _LINE_COLUMNS."""
    return QuotaLine(
        row[0], row[1], row[2], row[3], row[4], row[5], _day(row[6]), _day(row[7]),
        LineStatus(row[8]), bool(row[9]), temporary,
    )  # fmt: skip


_IN_MAX = 500
"""The most ids one ``IN (...)`` list binds (well under every driver's parameter limit)."""


def _hold_of(row: Sequence[Any]) -> QuotaHold:
    """The hold in a row of _HOLD_COLUMNS."""
    return QuotaHold(
        row[0], row[1], row[2], row[3], _day(row[4]), HoldStatus(row[5]), row[6]
    )  # fmt: skip


def _event_of(row: Sequence[Any]) -> QuotaEvent:
    """The event in a row of _EVENT_FIELDS."""
    starts_on, ends_on = row[11], row[12]
    return QuotaEvent(
        row[0], row[1], EventKind(row[2]), _day(row[3]), row[4], row[5], row[6], row[7], row[8],
        row[9], row[10], None if starts_on is None else _day(starts_on),
        None if ends_on is None else _day(ends_on), row[13],
    )  # fmt: skip


def _same_command(stored: str, fingerprint: str, command: Command) -> bool:
    """Whether the command stored for a key (its fingerprint, or under schema 1 its ``repr()``,
    told apart by the fingerprint's leading brace) is ``command``."""
    if stored.startswith("{"):
        return stored == fingerprint
    return stored == repr(command)


def _result(raw: _Raw, key: str) -> tuple[str, QuotaResult] | None:
    """The command text stored under ``key`` and its result, or None."""
    row = raw.first("operation", {"key": key})
    if row is None:
        return None
    events = tuple(_event_of(r) for r in raw.rows("events_of", {"key": key}))
    return row[0], QuotaResult(key, events)


# -- writing rows ---------------------------------------------------------------------------------


def _persist(raw: _Raw, view: QuotaView, decision: Decision) -> None:
    """Write the decision's new lines, balances, holds and events (in the caller's transaction;
    the journal last)."""
    before = {line.line_id: line for line in (view.line, view.master) if line is not None}
    for line in decision.lines:
        _write_line(raw, before.get(line.line_id), line)
    _write_balances(raw, decision.balances)
    known = {hold.hold_id for hold in (view.hold, *view.holds) if hold is not None}
    for hold in decision.holds:
        values = {"hold_id": hold.hold_id, "status": int(hold.status)}
        values["captured_minor"] = hold.captured_minor
        if hold.hold_id in known:
            raw.execute("update_hold", values)
        else:
            values.update(
                line_id=hold.line_id, currency=hold.currency, amount_minor=hold.amount_minor,
                expires_on=hold.expires_on,
            )  # fmt: skip
            raw.execute("insert_hold", values)
    rows = [_event_row(event) for event in decision.events]
    if len(rows) == 1:
        raw.execute("insert_event", rows[0])
    elif rows:
        raw.execute_many("insert_event", rows)


def _write_balances(raw: _Raw, balances: Sequence[tuple[str, LineBalance]]) -> None:
    """Update the balances of a line and (when it moved) its master: one statement."""
    values = [
        {"line_id": i, "used_minor": b.used_minor, "held_minor": b.held_minor,
         "frozen_minor": b.frozen_minor}
        for i, b in balances
    ]  # fmt: skip
    if len(values) == 2:
        first, other = values
        raw.execute(
            "update_balances",
            first | {"other_id": other["line_id"]}
            | {f"other_{k}": other[k] for k in ("used_minor", "held_minor", "frozen_minor")},
        )  # fmt: skip
        return
    for row in values:  # bounded: at most a line and its master
        raw.execute("update_balance", row)


def _write_line(raw: _Raw, old: QuotaLine | None, line: QuotaLine) -> None:
    terms = {
        "line_id": line.line_id,
        "limit_permanent_minor": line.limit_permanent_minor,
        "status": int(line.status),
        "frozen_whole": line.frozen_whole,
    }
    if old is None:
        raw.execute(
            "insert_line",
            terms
            | {
                "borrower_id": line.borrower_id, "master_id": line.master_id,
                "product": line.product, "currency": line.currency, "starts_on": line.starts_on,
                "expires_on": line.expires_on, "used_minor": 0, "held_minor": 0,
                "frozen_minor": 0,
            },
        )  # fmt: skip
    else:
        raw.execute("update_terms", terms)
    old_ids = {t.limit_id for t in old.temporary_limits} if old is not None else set()
    new_ids = {t.limit_id for t in line.temporary_limits}
    for gone in sorted(old_ids - new_ids):  # bounded: a line's few temporary limits
        raw.execute("delete_temporary", {"limit_id": gone})
    added = [t for t in line.temporary_limits if t.limit_id not in old_ids]
    if not added:
        return
    # Positions only grow, so reading in position order gives the tuple's order back.
    last = raw.first("last_position", {"line_id": line.line_id})
    first_free = (-1 if last is None else int(last[0])) + 1
    for position, temporary in enumerate(added, start=first_free):
        raw.execute(
            "insert_temporary",
            {
                "line_id": line.line_id, "position": position,
                "limit_id": temporary.limit_id, "amount_minor": temporary.amount_minor,
                "starts_on": temporary.starts_on, "ends_on": temporary.ends_on,
            },
        )  # fmt: skip
