"""Engines, the one shared schema, its versioning, and transactions for loancore's SQL stores.

See the package docstring (:mod:`loancore.adapters.sql`) for the contract with applications; this
module holds the mechanics:

- :func:`create_engine` opens SQLite (a file path or a ``sqlite://`` URL) with WAL,
  ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout, and takes BEGIN away from the
  ``sqlite3`` driver (whose legacy transaction control skips BEGIN before SAVEPOINT and DDL); any
  other URL (``postgresql+psycopg://...``) goes to SQLAlchemy unchanged.
- :data:`METADATA` is the one :class:`sqlalchemy.MetaData` every loancore table belongs to, and
  :data:`SCHEMA_TABLE` records one version per component (``ledger``, ``quota``, ...).
- :func:`ensure_schema` creates a component's tables, records its version and refuses a database it
  cannot use (:class:`~loancore.errors.SchemaVersionMismatch`).
- :func:`write_transaction` and :func:`read_connection` turn a *bind* (an Engine, or an
  application's Connection) into a connection inside the right transaction.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from loancore.errors import InvalidInput, SchemaVersionMismatch

__all__ = [
    "BEGIN_OPTION",
    "CACHE_KIB",
    "CACHE_KIB_MAX",
    "ID",
    "METADATA",
    "SCHEMA_TABLE",
    "Bind",
    "MigrationStep",
    "amount_column",
    "binary_text",
    "check_bind",
    "configure_sqlite_engine",
    "create_engine",
    "currency_column",
    "dialect_name",
    "ensure_schema",
    "read_connection",
    "reading_engine",
    "retype_columns",
    "schema_version",
    "write_transaction",
]

Bind = Engine | Connection
"""What a store accepts: an Engine (the store runs its own transactions) or a Connection (the
store joins the caller's transaction)."""

MigrationStep = Callable[[Connection], None]
"""Upgrades a component's tables from version ``v`` to ``v + 1`` in the caller's transaction."""

# Execution option read by the SQLite "begin" hook: "IMMEDIATE" (default: take the write lock at
# BEGIN, so a writer never fails half-way on a lock upgrade), "DEFERRED" for read-only work.
BEGIN_OPTION = "loancore_sqlite_begin"

CACHE_KIB = 65_536
"""Each SQLite connection's page cache by default, in KiB (64 MiB; SQLite's own default is
2,000 KiB). A batch on a book of 20,000 loans re-reads the pages of the ledger's indexes and
the loan documents it just wrote: with SQLite's 2 MiB the repayment file on two worker processes
spent 6.3-6.8 s of its ~45 s of CPU in the kernel fetching them again, 4.2-4.6 s with 64 MiB,
and ran ~7 % faster (docs/storage.md). The cache fills only as pages are read."""

CACHE_KIB_MAX = 16 * 1024 * 1024
"""The largest page cache a connection may be given (16 GiB)."""

_BEGIN_MODES = {mode: f"BEGIN {mode}" for mode in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE")}
_CONFIGURED = "_loancore_sqlite_configured"

# Constraint names are part of the schema (migrations refer to them), so they are deterministic.
METADATA = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SCHEMA_TABLE = sa.Table(
    "loancore_schema",
    METADATA,
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Surrogate key type: BIGINT, and SQLite's INTEGER (its 64-bit rowid alias) on SQLite."""


def amount_column(name: str, **kwargs: object) -> sa.Column[int]:
    """A money amount as BIGINT integer minor units (fen for CNY, yen for JPY, fils/1000 for KWD).

    Never DECIMAL or float: SQLite hands DECIMAL back as a float, and integers compare, sum and
    index exactly on every backend. The currency lives in a :func:`currency_column` beside it.
    """
    kwargs.setdefault("nullable", False)
    return sa.Column(name, sa.BigInteger, **kwargs)  # type: ignore[arg-type]


def binary_text(length: int | None = None) -> sa.types.TypeEngine[str]:
    """Text (``VARCHAR(length)`` when a length is given) compared and ordered byte by byte on
    every backend, for identifiers, keys and codes.

    SQLite compares text with BINARY by default; PostgreSQL uses the database's collation, which
    on most servers is a locale (``en_US.UTF-8``): slower to compare than bytes, a different order
    from SQLite's, and tied to the operating system's collation library, whose upgrades have
    silently corrupted text indexes (PostgreSQL's wiki, "Locale data changes"). ``COLLATE "C"``
    makes PostgreSQL compare bytes too: the same order on both backends, and unique indexes on
    entry ids and idempotency keys that an OS upgrade cannot break.
    """
    plain = sa.Text() if length is None else sa.String(length)
    binary = sa.Text(collation="C") if length is None else sa.String(length, collation="C")
    return plain.with_variant(binary, "postgresql")


def retype_columns(
    connection: Connection, tables: Sequence[sa.Table], type_: sa.types.TypeEngine[Any]
) -> None:
    """Migration helper: ``ALTER`` every column of ``tables`` declared with ``type_`` (the very
    object) to that type as this dialect renders it. PostgreSQL only (SQLite cannot alter a
    column's type, and needs none of the changes this serves); it rebuilds the indexes on them."""
    if connection.dialect.name != "postgresql":
        return
    rendered = type_.compile(dialect=connection.dialect)
    for table in tables:
        for column in table.columns:
            if column.type is type_:
                connection.exec_driver_sql(
                    f'ALTER TABLE {table.name} ALTER COLUMN "{column.name}" TYPE {rendered}'
                )


def currency_column(name: str = "currency", **kwargs: object) -> sa.Column[str]:
    """An ISO 4217 alphabetic code, CHAR(3)."""
    kwargs.setdefault("nullable", False)
    return sa.Column(name, sa.CHAR(3), **kwargs)  # type: ignore[arg-type]


# -- engines ------------------------------------------------------------------------------------


def _sqlite_url(url_or_path: str | os.PathLike[str] | URL) -> URL | None:
    """The SQLite URL for a path or a sqlite URL, or None for any other database URL."""
    if isinstance(url_or_path, URL):
        return url_or_path if url_or_path.get_backend_name() == "sqlite" else None
    text = os.fspath(url_or_path)
    if "://" in text:
        url = sa.make_url(text)
        return url if url.get_backend_name() == "sqlite" else None
    if text == ":memory:":
        return sa.make_url("sqlite://")
    return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))


def create_engine(
    url_or_path: str | os.PathLike[str] | URL,
    *,
    busy_timeout_ms: int = 30_000,
    cache_kib: int = CACHE_KIB,
    **kwargs: object,
) -> Engine:
    """An Engine for loancore's stores (and, if the application likes, its own tables).

    ``url_or_path``: a filesystem path or ``sqlite:///...`` URL opens SQLite configured by
    :func:`configure_sqlite_engine` (``busy_timeout_ms``: how long a writer waits for the write
    lock, in milliseconds; ``cache_kib``: each connection's page cache, in KiB);
    ``":memory:"`` gives one shared in-memory database (tests only: no durability). Any other
    URL, e.g. ``postgresql+psycopg://user@host/db``, is passed to
    :func:`sqlalchemy.create_engine` with ``kwargs``.
    """
    _check_sqlite_settings(busy_timeout_ms, cache_kib)
    sqlite_url = _sqlite_url(url_or_path)
    if sqlite_url is None:
        return sa.create_engine(url_or_path, **kwargs)  # type: ignore[arg-type]
    if sqlite_url.database in (None, "", ":memory:"):
        kwargs.setdefault("poolclass", sa.pool.StaticPool)
    connect_args = dict(kwargs.pop("connect_args", {}) or {})  # type: ignore[call-overload]
    connect_args.setdefault("check_same_thread", False)
    engine = sa.create_engine(
        sqlite_url,
        connect_args=connect_args,
        **kwargs,
    )
    configure_sqlite_engine(engine, busy_timeout_ms=busy_timeout_ms, cache_kib=cache_kib)
    return engine


def _check_sqlite_settings(busy_timeout_ms: object, cache_kib: object) -> None:
    settings = (("busy_timeout_ms", busy_timeout_ms, None), ("cache_kib", cache_kib, CACHE_KIB_MAX))
    for field, value, upper in settings:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(field, value, "expected an int >= 0")
        if upper is not None and value > upper:
            raise InvalidInput(field, value, f"expected at most {upper}")


def configure_sqlite_engine(
    engine: Engine, *, busy_timeout_ms: int = 30_000, cache_kib: int = CACHE_KIB
) -> Engine:
    """Give an application's own SQLite Engine loancore's pragmas and transaction handling.

    On every new DBAPI connection: ``journal_mode=WAL`` (readers never block the writer),
    ``synchronous=FULL`` (a committed transaction survives power loss, not only a process crash),
    ``foreign_keys=ON``, ``busy_timeout`` and a page cache of ``cache_kib`` KiB
    (:data:`CACHE_KIB` by default; SQLite's own is 2,000). The driver's own BEGIN is switched off
    (``isolation_level = None``) and a "begin" hook emits ``BEGIN IMMEDIATE`` instead (or the mode
    named by the :data:`BEGIN_OPTION` execution option), SQLAlchemy 2's documented recipe: without
    it ``sqlite3`` emits no BEGIN before SAVEPOINT or DDL, so a rolled-back transaction could keep a
    released savepoint's writes. Idempotent; returns ``engine``.
    """
    if engine.dialect.name != "sqlite":
        raise InvalidInput("engine", engine.url.render_as_string(), "expected a SQLite engine")
    _check_sqlite_settings(busy_timeout_ms, cache_kib)
    if getattr(engine, _CONFIGURED, False):
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA cache_size = {-int(cache_kib)}")  # negative: KiB, not pages
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")).upper()
        if mode not in _BEGIN_MODES:
            raise InvalidInput(BEGIN_OPTION, mode, f"expected one of {', '.join(_BEGIN_MODES)}")
        connection.exec_driver_sql(_BEGIN_MODES[mode])

    setattr(engine, _CONFIGURED, True)
    return engine


def dialect_name(bind: Bind) -> str:
    """``"sqlite"`` or ``"postgresql"`` (the SQLAlchemy dialect name of ``bind``)."""
    return bind.dialect.name


# -- transactions -------------------------------------------------------------------------------


def check_bind(bind: object) -> None:
    """Refuse anything but an Engine or Connection, and a SQLite engine loancore did not configure
    (:class:`~loancore.errors.InvalidInput` naming ``bind``)."""
    if not isinstance(bind, (Engine, Connection)):
        raise InvalidInput("bind", bind, "expected a sqlalchemy Engine or Connection")
    if bind.dialect.name == "sqlite":
        engine = bind if isinstance(bind, Engine) else bind.engine
        if not getattr(engine, _CONFIGURED, False):
            raise InvalidInput(
                "bind",
                engine.url.render_as_string(),
                "a SQLite engine must come from loancore.adapters.sql.create_engine or be passed "
                "through configure_sqlite_engine (the sqlite3 driver's default BEGIN handling "
                "breaks SAVEPOINT)",
            )


def reading_engine(engine: Engine) -> Engine:
    """``engine`` (from :func:`create_engine`) with every transaction begun ``DEFERRED`` on
    SQLite: a unit of work on it reads a snapshot and takes no write lock until it writes (a
    process deciding what to write while another writes). It shares ``engine``'s pool and hooks;
    on PostgreSQL it is ``engine`` with an option nothing reads."""
    check_bind(engine)
    reading = engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})
    setattr(reading, _CONFIGURED, True)  # the hooks are engine's own, joined by the option engine
    return reading


@contextlib.contextmanager
def write_transaction(bind: Bind) -> Iterator[Connection]:
    """A connection inside a transaction that commits or rolls back as one unit with the caller.

    - Engine: a new transaction (``BEGIN IMMEDIATE`` on SQLite), committed on normal exit and
      rolled back on an exception.
    - Connection: a SAVEPOINT inside the caller's transaction (begun first if the caller has none
      yet, and left open: committing is the caller's business). On an exception only the work done
      inside is undone, so a failed loancore operation changes nothing even in a transaction the
      application goes on using; on success the writes commit or roll back with the caller's.
    """
    check_bind(bind)
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
    else:
        with bind.begin_nested():
            yield bind


@contextlib.contextmanager
def read_connection(bind: Bind) -> Iterator[Connection]:
    """A connection for reading: a fresh deferred (non-locking) one from an Engine, or the caller's
    own Connection (so a read sees the caller's uncommitted writes)."""
    check_bind(bind)
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            connection.execution_options(**{BEGIN_OPTION: "DEFERRED"})
            yield connection
    else:
        yield bind


# -- schema versioning --------------------------------------------------------------------------


def _lock_schema(connection: Connection) -> None:
    """Serialize schema creation across processes (SQLite's BEGIN IMMEDIATE already does)."""
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(b"loancore_schema")
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def schema_version(bind: Bind, component: str) -> int | None:
    """The recorded schema version of ``component``, or None when it has never been created."""
    with read_connection(bind) as connection:
        if not sa.inspect(connection).has_table(SCHEMA_TABLE.name):
            return None
        query = sa.select(SCHEMA_TABLE.c.version).where(SCHEMA_TABLE.c.component == component)
        return connection.execute(query).scalar_one_or_none()


def ensure_schema(
    bind: Bind,
    component: str,
    version: int,
    tables: Sequence[sa.Table],
    *,
    migrations: Mapping[int, MigrationStep] | None = None,
) -> int | None:
    """Create or upgrade ``component``'s ``tables`` to ``version``; return the version found before.

    In one transaction (a SAVEPOINT in the caller's when ``bind`` is a Connection), serialized
    against other processes doing the same:

    - no version recorded: create the missing tables (and their indexes), record ``version``;
    - the recorded version equals ``version``: nothing to do;
    - newer than ``version``: refuse with :class:`SchemaVersionMismatch` (this code is too old);
    - older: apply ``migrations[v]`` (which upgrades ``v`` to ``v + 1``) for each step up to
      ``version``, or refuse with :class:`SchemaVersionMismatch` when a step is missing, before
      changing anything.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput("version", version, "expected an int >= 1")
    steps = dict(migrations or {})
    with write_transaction(bind) as connection:
        _lock_schema(connection)
        SCHEMA_TABLE.create(connection, checkfirst=True)
        query = sa.select(SCHEMA_TABLE.c.version).where(SCHEMA_TABLE.c.component == component)
        found: int | None = connection.execute(query).scalar_one_or_none()
        if found is None:
            METADATA.create_all(connection, tables=list(tables), checkfirst=True)
            connection.execute(SCHEMA_TABLE.insert().values(component=component, version=version))
            return None
        if found > version:
            raise SchemaVersionMismatch(
                component, found, version, "the database is newer; upgrade loancore"
            )
        _migrate(connection, component, found, version, steps)
        return found


def _migrate(
    connection: Connection,
    component: str,
    found: int,
    version: int,
    steps: Mapping[int, MigrationStep],
) -> None:
    missing = [v for v in range(found, version) if v not in steps]
    if missing:
        raise SchemaVersionMismatch(
            component, found, version, f"no migration registered from version(s) {missing}"
        )
    for step_from in range(found, version):  # bounded: version - found steps
        steps[step_from](connection)
    if found != version:
        connection.execute(
            SCHEMA_TABLE.update()
            .where(SCHEMA_TABLE.c.component == component)
            .values(version=version)
        )
