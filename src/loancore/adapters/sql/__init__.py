"""SQL stores through SQLAlchemy Core 2: SQLite (the embedded default, a file) and PostgreSQL.

One schema serves both databases. Every table hangs off :data:`METADATA`; ``loancore_schema``
records one version per component (``ledger``, ``quota``, ...) and :func:`ensure_schema` creates,
upgrades or refuses (:class:`~loancore.errors.SchemaVersionMismatch`) accordingly. Amounts are
BIGINT integer minor units beside a CHAR(3) currency code, never DECIMAL or float.

Opening a database::

    from loancore.adapters.sql import create_engine
    engine = create_engine("books.sqlite")  # SQLite file, WAL, synchronous=FULL
    engine = create_engine("postgresql+psycopg://app@db/books")  # PostgreSQL, psycopg 3

Transactions: Engine or Connection
----------------------------------
Every store takes a *bind*:

- an :class:`~sqlalchemy.engine.Engine`: each operation runs in its own transaction, committed
  when the operation returns, rolled back entirely when it raises;
- a :class:`~sqlalchemy.engine.Connection` of the application's: each operation joins the
  application's transaction and never commits it. Ledger (and quota) writes then commit with the
  application's ``connection.commit()`` and vanish with its ``rollback()``, so an order row and its
  journal entry are stored together or not at all. Each write operation runs inside a SAVEPOINT
  (``Connection.begin_nested()``), so a loancore operation that fails undoes only its own work and
  the application's transaction stays usable. Reads through a Connection see its uncommitted writes.

An application that passes its own SQLite connection must create its engine with
:func:`create_engine` (or pass it through :func:`configure_sqlite_engine`): the ``sqlite3``
driver's default transaction handling emits no BEGIN before SAVEPOINT or DDL, which would let a
rolled-back transaction keep a savepoint's writes; loancore refuses an unconfigured SQLite engine.

Locking
-------
On SQLite every transaction on a loancore engine starts with ``BEGIN IMMEDIATE`` (one writer at a
time; WAL lets readers go on), except the deferred read connections loancore opens for queries
(execution option :data:`BEGIN_OPTION`). On PostgreSQL (READ COMMITTED) the stores rely on UNIQUE
constraints and row locks, as documented on each store and in ``docs/storage.md``.
"""

from loancore.adapters.sql.base import (
    BEGIN_OPTION,
    CACHE_KIB,
    CACHE_KIB_MAX,
    ID,
    METADATA,
    SCHEMA_TABLE,
    Bind,
    MigrationStep,
    amount_column,
    binary_text,
    check_bind,
    configure_sqlite_engine,
    create_engine,
    currency_column,
    dialect_name,
    ensure_schema,
    read_connection,
    reading_engine,
    retype_columns,
    schema_version,
    write_transaction,
)

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
