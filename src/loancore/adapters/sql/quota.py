"""SqlQuotaStore: quota lines, holds and the quota journal on SQLite or PostgreSQL.

Same behaviour as :class:`~loancore.adapters.memory.quota.MemoryQuotaStore` (one test suite runs
against both); amounts are BIGINT minor units. Each :meth:`SqlQuotaStore.apply` is one transaction
(a SAVEPOINT inside the application's, when handed a Connection):

1. lock what the command touches: on PostgreSQL ``SELECT ... FOR UPDATE`` of the master line, then
   the sub-line (always that order, so two operations never wait on each other in a cycle); a
   command that changes a master's limit also takes a per-borrower advisory lock (the borrower cap
   is a sum over the borrower's master lines). SQLite serialises writers with ``BEGIN IMMEDIATE``;
2. look the idempotency key up (after the locks, so a racing twin on the same line is seen);
3. let the pure core decide (:func:`loancore.quota.decide`) and write the new rows and the
   journal events. The key is UNIQUE, so a twin on another line ends as a replay, not twice.

A replayed key is compared with the first command through
:func:`loancore.quota.command_fingerprint` (canonical JSON kept in ``quota_operations``); rows
written by schema 1 hold the command's ``repr()`` and are still compared that way.

So concurrent holds on one line from many connections can never exceed its available amount in
total: each decides only after the previous one committed its balance.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
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
    Command,
    Decision,
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
    TemporaryLimit,
    available_minor,
    check_as_of,
    check_command,
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

# Statements run on every hold and capture, built once (SQLAlchemy then only looks up its
# compiled form); parameters are bound at execution.
_LINE = sa.select(LINES).where(LINES.c.line_id == sa.bindparam("line_id"))
_LINE_FOR_UPDATE = _LINE.with_for_update()
_MASTER_ID = sa.select(LINES.c.master_id).where(LINES.c.line_id == sa.bindparam("line_id"))
# Without row locks (SQLite), a line, its master and whether each has temporary limits in one
# statement: the line's row, and the row whose id is the line's master_id.
_SUB = LINES.alias("sub")
_LINE_PAIR = sa.select(
    LINES,
    sa.exists().where(TEMPORARY.c.line_id == LINES.c.line_id).label("has_temporary"),
).where(
    sa.or_(
        LINES.c.line_id == sa.bindparam("line_id"),
        LINES.c.line_id
        == sa.select(_SUB.c.master_id)
        .where(_SUB.c.line_id == sa.bindparam("line_id"))
        .scalar_subquery(),
    )
)
_HOLD = sa.select(HOLDS).where(HOLDS.c.hold_id == sa.bindparam("hold_id"))
_OPERATION = sa.select(OPERATIONS).where(OPERATIONS.c.key == sa.bindparam("key"))
_UPDATE_BALANCE = (
    LINES.update()
    .where(LINES.c.line_id == sa.bindparam("id"))
    .values(
        used_minor=sa.bindparam("used"),
        held_minor=sa.bindparam("held"),
        frozen_minor=sa.bindparam("frozen"),
    )
)
_INSERT_OPERATION = OPERATIONS.insert()
_INSERT_HOLD = HOLDS.insert()
_INSERT_EVENTS = EVENTS.insert()
_UPDATE_HOLD = (
    HOLDS.update()
    .where(HOLDS.c.hold_id == sa.bindparam("id"))
    .values(status=sa.bindparam("new_status"), captured_minor=sa.bindparam("new_captured"))
)
_PAGE = 2_000
_JOURNAL_PAGE = (
    sa.select(EVENTS)
    .where(EVENTS.c.id > sa.bindparam("after"))
    .order_by(EVENTS.c.id)
    .limit(sa.bindparam("page", type_=sa.Integer))
)
_TEMPORARY_OF = (
    sa.select(TEMPORARY)
    .where(TEMPORARY.c.line_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(TEMPORARY.c.line_id, TEMPORARY.c.position)
)
_EVENT_FIELDS = (
    "key", "seq", "kind", "as_of", "borrower_id", "line_id", "master_id", "currency",
    "amount_minor", "released_minor", "ref_id", "starts_on", "ends_on", "product",
)  # fmt: skip


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
        self._bind = bind
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
        for _attempt in range(_RETRIES_MAX):
            try:
                with write_transaction(self._bind) as connection:
                    return self._apply(connection, command, fingerprint, as_of)
            except sa.exc.IntegrityError as error:
                # A twin with the same key committed first (on another line): replay it. Any other
                # constraint (a negative balance) failing is a bug, never a business outcome.
                if self.result(command.key) is None:
                    detail = f"quota write for {command.key!r} broke a constraint: {error}"
                    raise InvariantViolation(detail) from error
        raise InvariantViolation(f"quota key {command.key!r} kept colliding, no stored result")

    def _apply(
        self, connection: Connection, command: Command, fingerprint: str, as_of: datetime.date
    ) -> QuotaResult:
        source = _Source(connection, lock=True)
        view = load_view(command, source, as_of=as_of)
        done = _result(connection, command.key)
        if done is not None:
            if not _same_command(done[0], fingerprint, command):
                raise IdempotencyConflict(command.key, f"first applied as {done[0]}")
            return attrs.evolve(done[1], replayed=True)
        decision = decide(command, view, as_of=as_of, config=self.config)  # raises a refusal
        operation = {"key": command.key, "command": fingerprint, "code": int(RejectionCode.OK)}
        connection.execute(_INSERT_OPERATION, operation)
        _persist(connection, view, decision)
        return QuotaResult(command.key, decision.events)

    # -- reading --------------------------------------------------------------------------------

    def result(self, key: str) -> QuotaResult | None:
        """The result of the operation applied under ``key``, or None."""
        require_id("key", key)
        with read_connection(self._bind) as connection:
            done = _result(connection, key)
        return None if done is None else done[1]

    def line(self, line_id: str) -> QuotaLine:
        require_id("line_id", line_id)
        with read_connection(self._bind) as connection:
            line, _balance = _Source(connection, lock=False).one_line(line_id)
        if line is None:
            raise NotFound("quota line", line_id)
        return line

    def balance(self, line_id: str) -> LineBalance:
        require_id("line_id", line_id)
        with read_connection(self._bind) as connection:
            _line, balance = _Source(connection, lock=False).one_line(line_id)
        if balance is None:
            raise NotFound("quota line", line_id)
        return balance

    def hold(self, hold_id: str) -> QuotaHold:
        require_id("hold_id", hold_id)
        with read_connection(self._bind) as connection:
            hold = _Source(connection, lock=False).hold(hold_id)
        if hold is None:
            raise NotFound("quota hold", hold_id)
        return hold

    def available(self, line_id: str, *, as_of: datetime.date) -> Money:
        """What can be held or drawn on ``line_id`` now: its own available bound by its master's."""
        require_id("line_id", line_id)
        check_as_of(as_of)
        with read_connection(self._bind) as connection:
            pair = _Source(connection, lock=False).line_pair(line_id)
        line, balance, master, master_balance = pair
        if line is None or balance is None:
            raise NotFound("quota line", line_id)
        return line.money(available_minor(line, balance, master, master_balance, as_of=as_of))

    def lines(self, *, borrower_id: str | None = None) -> tuple[QuotaLine, ...]:
        """Every line (of ``borrower_id`` if given), in line id order."""
        query = sa.select(LINES).order_by(LINES.c.line_id)
        if borrower_id is not None:
            require_id("borrower_id", borrower_id)
            query = query.where(LINES.c.borrower_id == borrower_id)
        with read_connection(self._bind) as connection:
            rows = connection.execute(query).all()
            temporary = _temporary_limits(connection, [r.line_id for r in rows])
        return tuple(_line_of(r, temporary.get(r.line_id, ())) for r in rows)

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        require_id("line_id", line_id)
        with read_connection(self._bind) as connection:
            return _Source(connection, lock=False).open_holds(line_id)

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
            yield from (_event_of(r) for r in rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1].id

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds, read in one transaction."""
        with read_connection(self._bind) as connection:
            rows = connection.execute(sa.select(LINES)).all()
            temporary = _temporary_limits(connection, [r.line_id for r in rows])
            holds = connection.execute(sa.select(HOLDS)).all()
        return QuotaSnapshot(
            {r.line_id: _line_of(r, temporary.get(r.line_id, ())) for r in rows},
            {r.line_id: LineBalance(r.used_minor, r.held_minor, r.frozen_minor) for r in rows},
            {h.hold_id: _hold_of(h) for h in holds},
        )

    def check(self) -> tuple[QuotaIssue, ...]:
        """Rebuild everything from the journal and list where the stored rows differ."""
        with read_connection(self._bind) as connection, _snapshot_transaction(connection):
            rows = connection.execute(sa.select(EVENTS).order_by(EVENTS.c.id))
            events = [_event_of(r) for r in rows]
            stored = self.using(connection).snapshot()
        return check_rebuild(rebuild(events), stored)


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


# -- reading rows -------------------------------------------------------------------------------


class _Source:
    """The database seen through :class:`loancore.quota.ViewSource`, locking rows when asked."""

    def __init__(self, connection: Connection, *, lock: bool) -> None:
        self._connection = connection
        self._lock = lock and connection.dialect.name == "postgresql"
        # Without row locks (SQLite: one writer at a time, and a transaction reads one snapshot)
        # reading a hold again inside the same transaction returns the same row, so the second
        # read load_view makes (for PostgreSQL, after the line lock) is served from here.
        self._holds: dict[str, QuotaHold | None] | None = None if self._lock else {}

    def _select_line(self, line_id: str) -> Any:
        query = _LINE_FOR_UPDATE if self._lock else _LINE
        return self._connection.execute(query, {"line_id": line_id}).first()

    def one_line(self, line_id: str) -> tuple[QuotaLine | None, LineBalance | None]:
        row = self._select_line(line_id)
        if row is None:
            return None, None
        return _line_and_balance(row, _temporary_limits(self._connection, [line_id]))

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        if self._lock:
            # The master id of a line never changes, so it can be read before any lock is taken;
            # then lock the master first and the sub-line second: one global order, no deadlock.
            found = self._connection.execute(_MASTER_ID, {"line_id": line_id}).first()
            if found is None:
                return None, None, None, None
            master_row = None if found.master_id is None else self._select_line(found.master_id)
            row = self._select_line(line_id)
            ids = [line_id] if master_row is None else [master_row.line_id, line_id]
        else:  # no row locks, hence no lock order: one statement reads both rows
            rows = self._connection.execute(_LINE_PAIR, {"line_id": line_id}).all()
            row = next((r for r in rows if r.line_id == line_id), None)
            if row is None:
                return None, None, None, None
            master_row = next((r for r in rows if r.line_id != line_id), None)
            ids = [r.line_id for r in rows if r.has_temporary]
        temporary = _temporary_limits(self._connection, ids)
        line, balance = _line_and_balance(row, temporary)
        if master_row is None:
            return line, balance, None, None
        master, master_balance = _line_and_balance(master_row, temporary)
        return line, balance, master, master_balance

    def hold(self, hold_id: str) -> QuotaHold | None:
        holds = self._holds
        if holds is not None and hold_id in holds:
            return holds[hold_id]
        row = self._connection.execute(_HOLD, {"hold_id": hold_id}).first()
        hold = None if row is None else _hold_of(row)
        if holds is not None:
            holds[hold_id] = hold
        return hold

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        query = (
            sa.select(HOLDS)
            .where(HOLDS.c.line_id == line_id, HOLDS.c.status == int(HoldStatus.OPEN))
            .order_by(HOLDS.c.hold_id)
        )
        return tuple(_hold_of(r) for r in self._connection.execute(query))

    def sub_lines_used_minor(self, master_id: str) -> int:
        total = sa.func.coalesce(sa.func.sum(LINES.c.used_minor), 0)
        query = sa.select(total).where(LINES.c.master_id == master_id)
        return int(self._connection.execute(query).scalar_one())

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        if self._lock:
            # Every change of a master's limit takes this lock last, so the sum below cannot move.
            key = zlib.crc32(f"loancore.quota.borrower:{borrower_id}".encode())
            self._connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        query = sa.select(LINES).where(
            LINES.c.borrower_id == borrower_id,
            LINES.c.master_id.is_(None),
            LINES.c.line_id != exclude_line_id,
        )
        rows = self._connection.execute(query).all()
        temporary = _temporary_limits(self._connection, [r.line_id for r in rows])
        lines = (_line_of(r, temporary.get(r.line_id, ())) for r in rows)
        return sum(line.limit_exposure_minor(as_of) for line in lines)


def _temporary_limits(
    connection: Connection, line_ids: Sequence[str]
) -> dict[str, tuple[TemporaryLimit, ...]]:
    if not line_ids:
        return {}
    found: dict[str, list[TemporaryLimit]] = {}
    for start in range(0, len(line_ids), 500):  # bounded IN lists
        chunk = list(line_ids[start : start + 500])
        for r in connection.execute(_TEMPORARY_OF, {"ids": chunk}):
            limit = TemporaryLimit(r.limit_id, r.amount_minor, r.starts_on, r.ends_on)
            found.setdefault(r.line_id, []).append(limit)
    return {line_id: tuple(limits) for line_id, limits in found.items()}


def _line_and_balance(
    row: Any, temporary: dict[str, tuple[TemporaryLimit, ...]]
) -> tuple[QuotaLine, LineBalance]:
    balance = LineBalance(row.used_minor, row.held_minor, row.frozen_minor)
    return _line_of(row, temporary.get(row.line_id, ())), balance


def _line_of(row: Any, temporary: tuple[TemporaryLimit, ...]) -> QuotaLine:
    return QuotaLine(
        row.line_id, row.borrower_id, row.master_id, row.product, row.currency,
        row.limit_permanent_minor, row.starts_on, row.expires_on, LineStatus(row.status),
        bool(row.frozen_whole), temporary,
    )  # fmt: skip


def _hold_of(row: Any) -> QuotaHold:
    return QuotaHold(
        row.hold_id, row.line_id, row.currency, row.amount_minor, row.expires_on,
        HoldStatus(row.status), row.captured_minor,
    )  # fmt: skip


def _event_of(row: Any) -> QuotaEvent:
    values = {name: getattr(row, name) for name in _EVENT_FIELDS}
    values["kind"] = EventKind(values["kind"])
    return QuotaEvent(**values)


def _same_command(stored: str, fingerprint: str, command: Command) -> bool:
    """Whether the command stored for a key (its fingerprint, or under schema 1 its ``repr()``,
    told apart by the fingerprint's leading brace) is ``command``."""
    if stored.startswith("{"):
        return stored == fingerprint
    return stored == repr(command)


def _result(connection: Connection, key: str) -> tuple[str, QuotaResult] | None:
    row = connection.execute(_OPERATION, {"key": key}).first()
    if row is None:
        return None
    query = sa.select(EVENTS).where(EVENTS.c.key == key).order_by(EVENTS.c.seq)
    events = tuple(_event_of(r) for r in connection.execute(query))
    return row.command, QuotaResult(key, events)


# -- writing rows -------------------------------------------------------------------------------


def _persist(connection: Connection, view: QuotaView, decision: Decision) -> None:
    """Write the decision's new lines, balances, holds and events (in the caller's transaction)."""
    before = {line.line_id: line for line in (view.line, view.master) if line is not None}
    for line in decision.lines:
        _write_line(connection, before.get(line.line_id), line)
    if decision.balances:
        connection.execute(
            _UPDATE_BALANCE,
            [
                {"id": i, "used": b.used_minor, "held": b.held_minor, "frozen": b.frozen_minor}
                for i, b in decision.balances
            ],
        )
    known = {hold.hold_id for hold in (view.hold, *view.holds) if hold is not None}
    for hold in decision.holds:
        status, captured = int(hold.status), hold.captured_minor
        if hold.hold_id in known:
            update = {"id": hold.hold_id, "new_status": status, "new_captured": captured}
            connection.execute(_UPDATE_HOLD, update)
        else:
            row = {
                "hold_id": hold.hold_id, "line_id": hold.line_id, "currency": hold.currency,
                "amount_minor": hold.amount_minor, "expires_on": hold.expires_on,
                "status": status, "captured_minor": captured,
            }  # fmt: skip
            connection.execute(_INSERT_HOLD, row)
    if decision.events:
        rows = [
            {name: _column_value(getattr(e, name)) for name in _EVENT_FIELDS}
            for e in decision.events
        ]
        connection.execute(_INSERT_EVENTS, rows)


def _column_value(value: Any) -> Any:
    return int(value) if isinstance(value, EventKind) else value


def _write_line(connection: Connection, old: QuotaLine | None, line: QuotaLine) -> None:
    terms = {
        "limit_permanent_minor": line.limit_permanent_minor,
        "status": int(line.status),
        "frozen_whole": line.frozen_whole,
    }
    if old is None:
        connection.execute(
            LINES.insert().values(
                line_id=line.line_id,
                borrower_id=line.borrower_id,
                master_id=line.master_id,
                product=line.product,
                currency=line.currency,
                starts_on=line.starts_on,
                expires_on=line.expires_on,
                used_minor=0,
                held_minor=0,
                frozen_minor=0,
                **terms,
            )
        )
    else:
        connection.execute(LINES.update().where(LINES.c.line_id == line.line_id).values(**terms))
    old_ids = {t.limit_id for t in old.temporary_limits} if old is not None else set()
    new_ids = {t.limit_id for t in line.temporary_limits}
    if old_ids - new_ids:
        gone = sorted(old_ids - new_ids)
        connection.execute(TEMPORARY.delete().where(TEMPORARY.c.limit_id.in_(gone)))
    added = [t for t in line.temporary_limits if t.limit_id not in old_ids]
    if not added:
        return
    # Positions only grow, so reading in position order gives the tuple's order back.
    highest = sa.func.coalesce(sa.func.max(TEMPORARY.c.position), -1)
    last = sa.select(highest).where(TEMPORARY.c.line_id == line.line_id)
    first_free = int(connection.execute(last).scalar_one()) + 1
    for position, temporary in enumerate(added, start=first_free):
        connection.execute(
            TEMPORARY.insert().values(
                limit_id=temporary.limit_id,
                line_id=line.line_id,
                position=position,
                amount_minor=temporary.amount_minor,
                starts_on=temporary.starts_on,
                ends_on=temporary.ends_on,
            )
        )
