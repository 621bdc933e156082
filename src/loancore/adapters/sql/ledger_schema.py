"""The SQL ledger's schema: tables, indexes and migrations (component ``ledger``).

Tables (version :data:`LEDGER_SCHEMA_VERSION`; see ``docs/storage.md``):

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

``ledger_currency_totals`` total debits (book ``journal``) and total memo increases (``memo``)
                          per currency, kept by the posting transaction: no total may pass
                          ``TOTAL_MINOR_MAX``, so no stored sum can overflow 64 bits
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.sql.base import (
    ID,
    METADATA,
    MigrationStep,
    amount_column,
    binary_text,
    currency_column,
    retype_columns,
)
from loancore.errors import InvalidInput
from loancore.ledger.entries import (
    DIMENSION_KEYS,
)
from loancore.ledger.rules import TOTAL_MINOR_MAX

__all__ = [
    "CLOSES",
    "DAILY",
    "DIMENSION_INDEXES",
    "ENTRIES",
    "INDEXED_DIMENSIONS",
    "LEDGER_COMPONENT",
    "LEDGER_MIGRATIONS",
    "LEDGER_SCHEMA_VERSION",
    "LEDGER_TABLES",
    "LEGS",
    "MEMO",
    "NO_DIMENSION",
    "SEGMENTS",
    "SEGMENT_DIMENSIONS",
    "STATE",
    "SUBJECTS",
    "TOTALS",
    "TOTALS_SLOTS",
    "slot_cap",
    "slot_shares",
]

LEDGER_COMPONENT = "ledger"
LEDGER_SCHEMA_VERSION = 5

# Identifiers, keys, codes and dimension values are text without a column length: the values
# themselves check theirs (``loancore.checks.require_id``: at most 200 characters, no NUL, no lone
# surrogate), so both backends accept exactly the same values. Compared byte by byte on both
# (``binary_text``: COLLATE "C" on PostgreSQL; schema 1 used the database's).
CODE = TEXT_ID = KEY = binary_text()  # one type object: the 1 -> 2 migration finds them by it

NO_DIMENSION = ""
"""A dimension column's value on a leg or memo posting that does not carry that dimension.

Not NULL, because Python's sqlite3 binds ``None`` through its adaptation protocol (a registry
lookup and two failed attribute lookups, ~0.45 us a value) and a ``str`` directly: at three absent
dimensions a leg, NULLs cost an eighth of the SQLite posting time. Dimension values are non-empty
(``dimensions_of``), so the empty string is unambiguous. The room is the same on SQLite (a
one-byte record header either way); PostgreSQL stores one byte more than NULL's bitmap bit."""


def _dimension_column(key: str) -> sa.Column[Any]:
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

ENTRY_SEQUENCE = sa.Sequence("ledger_entry_seqs", start=1)
"""PostgreSQL: where writers draw entry sequence numbers (schema 5), so that no writer waits for
another to learn the next number. Numbers increase but may have gaps (a rolled-back batch keeps
the ones it drew). SQLite ignores it: its writers are serialized and number from ``MAX(seq)``."""

ENTRIES = sa.Table(
    "ledger_entries",
    METADATA,
    sa.Column("seq", ID, ENTRY_SEQUENCE, primary_key=True, autoincrement=False),
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

# The sequence belongs to the column, so dropping or truncating (RESTART IDENTITY) the table
# drops or resets it too.
_OWN_SEQUENCE = sa.DDL(f"ALTER SEQUENCE {ENTRY_SEQUENCE.name} OWNED BY ledger_entries.seq")  # type: ignore[no-untyped-call]
sa.event.listen(ENTRIES, "after_create", _OWN_SEQUENCE.execute_if(dialect="postgresql"))

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

TOTALS_SLOTS = 16
"""How many rows (slots) a running total may be split into on PostgreSQL (schema 5): each
concurrent writer adds to its own slot of the daily, segment and currency totals, so writers on
different loans never wait for each other's row locks on a shared subject's total; readers sum
the slots. SQLite has one writer at a time and uses slot 0 only."""


def slot_cap(slot: int) -> int:
    """The most a slot of a currency total (``ledger_currency_totals``) may hold: the slots' caps
    add up to exactly ``TOTAL_MINOR_MAX`` (2**63 - 1), so the slots together can never pass it."""
    share, rest = divmod(TOTAL_MINOR_MAX, TOTALS_SLOTS)
    return share + (1 if slot < rest else 0)


def slot_shares(total_minor: int) -> tuple[int, ...]:
    """``total_minor`` (0 .. TOTAL_MINOR_MAX) spread over the slots, filled from slot 0 up to
    each slot's cap: the values sum to ``total_minor`` and none passes its cap."""
    if not 0 <= total_minor <= TOTAL_MINOR_MAX:
        raise InvalidInput("total_minor", total_minor, f"expected 0 .. {TOTAL_MINOR_MAX}")
    shares = []
    left = total_minor
    for slot in range(TOTALS_SLOTS):
        share = min(left, slot_cap(slot))
        shares.append(share)
        left -= share
    return tuple(shares)


def _slot_column() -> sa.Column[int]:
    # Right after the other key columns: SQLite 3.40's integrity_check misreports NOT NULL
    # columns of a WITHOUT ROWID table whose primary key columns do not come first.
    return sa.Column("slot", sa.SmallInteger, primary_key=True, nullable=False, server_default="0")


DAILY = sa.Table(
    "ledger_daily_balances",
    METADATA,
    sa.Column("subject_code", CODE, primary_key=True),
    sa.Column("currency", sa.CHAR(3), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    _slot_column(),
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
    _slot_column(),
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
    # The largest entry sequence number at the close (schema 5): the next close counts the
    # entries above it, since PostgreSQL's numbers may have gaps and MAX(seq) is no count.
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
)

TOTALS = sa.Table(
    "ledger_currency_totals",
    METADATA,
    sa.Column("book", sa.String(8), primary_key=True),
    sa.Column("currency", sa.CHAR(3), primary_key=True),
    _slot_column(),
    amount_column("total_minor"),
    sa.CheckConstraint("book IN ('journal', 'memo')", name="book_known"),
    sa.CheckConstraint("total_minor >= 0", name="total_not_negative"),
)
"""Per currency, the total of every debit booked (book ``journal``) and of every memo increase
(book ``memo``), in minor units, added to in the posting transaction. The posting rules refuse a
batch that would take one past ``loancore.ledger.TOTAL_MINOR_MAX`` (2**63 - 1): every amount,
daily total, balance and SUM the store keeps or computes is bounded by these totals, so none can
overflow a 64-bit integer (SQLite would turn an overflowing addition into a float)."""

LEDGER_TABLES: tuple[sa.Table, ...] = (
    STATE,
    SUBJECTS,
    ENTRIES,
    LEGS,
    DAILY,
    SEGMENTS,
    MEMO,
    CLOSES,
    TOTALS,
)
"""The ledger component's tables, in creation order."""


def _v1_to_v2(connection: Connection) -> None:
    """Schema 1 -> 2: the dimension indexes lead with ``accounting_date`` instead of the
    dimension (same names and conditions), and on PostgreSQL identifier columns compare bytes
    (COLLATE "C"; PostgreSQL rebuilds the indexes on them). In the migration's transaction."""
    since_3 = (SEGMENTS, TOTALS)
    retype_columns(connection, [t for t in LEDGER_TABLES if t not in since_3], TEXT_ID)
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


def _rebuild_postgres_table(
    connection: Connection, table: sa.Table, sources: dict[str, str]
) -> None:
    """:func:`_rebuild_sqlite_table` on PostgreSQL: the old table and its primary key (whose
    index name is schema-wide) are renamed out of the way first."""
    old = f"{table.name}_before_migration"
    connection.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
    connection.exec_driver_sql(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table.name} TO pk_{old}")
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


def _v3_to_v4(connection: Connection) -> None:
    """Schema 3 -> 4: ``ledger_currency_totals`` created and filled from the daily totals (total
    debits per currency) and the memo postings (total increases per currency). A ledger whose
    totals already pass 2**63 - 1 cannot be represented; the step then fails and changes nothing.
    In the migration's transaction."""
    TOTALS.create(connection)
    connection.exec_driver_sql(_TOTALS_FROM_BOOKS)


_TOTALS_FROM_BOOKS = (
    "INSERT INTO ledger_currency_totals (book, currency, total_minor)"
    " SELECT 'journal', currency, SUM(debit_minor) FROM ledger_daily_balances GROUP BY currency"
    " UNION ALL"
    " SELECT 'memo', currency, SUM(amount_minor) FROM ledger_memo_postings"
    " WHERE direction = 'increase' GROUP BY currency"
)
"""The running totals computed from the books (the migration fills the table with it; the bench's
bulk loader uses it too)."""


def _v4_to_v5(connection: Connection) -> None:
    """Schema 4 -> 5, for concurrent writers: the daily, segment and currency totals get a
    ``slot`` column (0 for every existing row) in their primary key, after the other key
    columns; the close log gets ``last_seq`` (equal to ``entries_booked``: numbers had no gaps
    before); PostgreSQL gets the ``ledger_entry_seqs`` sequence, starting after the largest
    number booked. Both backends rebuild the three totals tables (few rows: one per subject, currency and day). In the migration's transaction."""
    postgres = connection.dialect.name == "postgresql"
    for table in (DAILY, SEGMENTS, TOTALS):
        if _has_column(connection, table, "slot"):
            continue  # created by an earlier step of this upgrade from the current declaration
        if postgres:
            _rebuild_postgres_table(connection, table, {"slot": "0"})
        else:
            _rebuild_sqlite_table(connection, table, {"slot": "0"})
    if not _has_column(connection, CLOSES, "last_seq"):
        connection.exec_driver_sql(
            f"ALTER TABLE {CLOSES.name} ADD COLUMN last_seq BIGINT DEFAULT '0' NOT NULL"
        )
    connection.exec_driver_sql(f"UPDATE {CLOSES.name} SET last_seq = entries_booked")
    if postgres:
        name = ENTRY_SEQUENCE.name
        connection.exec_driver_sql(f"CREATE SEQUENCE IF NOT EXISTS {name}")
        connection.exec_driver_sql(f"ALTER SEQUENCE {name} OWNED BY {ENTRIES.name}.seq")
        connection.exec_driver_sql(
            f"SELECT setval('{name}', COALESCE(MAX(seq), 0) + 1, false) FROM {ENTRIES.name}"
        )


def _has_column(connection: Connection, table: sa.Table, name: str) -> bool:
    return any(c["name"] == name for c in sa.inspect(connection).get_columns(table.name))


LEDGER_MIGRATIONS: dict[int, MigrationStep] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
}
"""The ledger schema's upgrade steps: ``LEDGER_MIGRATIONS[v]`` takes version ``v`` to ``v + 1``."""
