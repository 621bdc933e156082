"""Fresh SQL databases and SQL ledger stores for tests (SQLite file or PostgreSQL schema).

``make_sql_ledger_store(kind, tmp_path, postgres_url)`` is what tests/ledger/conftest.py uses to run
the ledger conformance suite against :class:`~loancore.adapters.sql.ledger.SqlLedgerStore`:

- ``"sqlite"``: a new database file under ``tmp_path``;
- ``"postgres"``: an empty PostgreSQL schema on ``postgres_url`` (the ``postgres_url`` fixture),
  selected through the connection's ``search_path``, so tests never see each other's rows (a few
  schemas per process are emptied and reused; see :func:`make_sql_engine`).
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from loancore.adapters.sql import create_engine

__all__ = [
    "IDENTIFIER_COLUMNS",
    "SEGMENTS_VS_LEGS",
    "SQL_KINDS",
    "make_sql_engine",
    "make_sql_ledger_store",
]

SQL_KINDS = ("sqlite", "postgres")
_DIMENSIONS = ("customer", "loan", "merchant", "partner", "product")
IDENTIFIER_COLUMNS = [
    ("ledger_subjects", "code"),
    ("ledger_subjects", "parent_code"),
    ("ledger_entries", "entry_id"),
    ("ledger_entries", "idempotency_key"),
    ("ledger_entries", "reverses"),
    ("ledger_legs", "subject_code"),
    *[("ledger_legs", key) for key in _DIMENSIONS],
    ("ledger_daily_balances", "subject_code"),
    ("ledger_daily_segment_balances", "subject_code"),
    ("ledger_daily_segment_balances", "product"),
    ("ledger_daily_segment_balances", "partner"),
    ("ledger_memo_postings", "posting_id"),
    ("ledger_memo_postings", "idempotency_key"),
    *[("ledger_memo_postings", key) for key in _DIMENSIONS],
]
"""The ledger's identifier columns: ids, keys, codes and dimension values (COLLATE "C" on
PostgreSQL since schema 2)."""
_counter = itertools.count()
# Property tests make a store per example and dispose them only at the end of the test, so
# PostgreSQL stores rotate through a few schemas per process: taking a slot disposes the engine
# that used it last (closing its connections) and empties its tables, which is much faster than
# creating the schema again.
_POSTGRES_SLOTS = 6
_slot_counter = itertools.count()
_slot_engines: dict[int, sa.Engine] = {}


def make_sql_engine(
    kind: str, tmp_path: Path, postgres_url: str | None, *, recycle: bool = False
) -> sa.Engine:
    """An empty database of ``kind`` ("sqlite" or "postgres").

    PostgreSQL: a new schema, or with ``recycle`` one of a few per-process schemas emptied for
    reuse (tables loancore knows are truncated, others dropped; a store older than the last
    ``_POSTGRES_SLOTS`` must no longer be used).
    """
    if kind == "sqlite":
        return create_engine(tmp_path / f"ledger-{next(_counter)}.sqlite")
    if kind != "postgres":
        raise ValueError(f"kind: expected one of {SQL_KINDS}, got {kind!r}")
    if not postgres_url:
        raise ValueError("kind 'postgres' needs postgres_url (the postgres_url fixture)")
    if not recycle:
        schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        _admin(postgres_url, f'CREATE SCHEMA "{schema}"')
        return _schema_engine(postgres_url, schema)
    slot = next(_slot_counter) % _POSTGRES_SLOTS
    previous = _slot_engines.pop(slot, None)
    if previous is not None:
        previous.dispose()
    schema = f"slot_{os.getpid()}_{slot}"
    _empty_schema(postgres_url, schema)
    _slot_engines[slot] = engine = _schema_engine(postgres_url, schema)
    return engine


def _schema_engine(postgres_url: str, schema: str) -> sa.Engine:
    return create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})


def _admin(postgres_url: str, *statements: str) -> None:
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        admin.dispose()


def _empty_schema(postgres_url: str, schema: str) -> None:
    from loancore.adapters.sql import METADATA

    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            names = (
                connection.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
                )
                .scalars()
                .all()
            )
            known = [f'"{schema}"."{n}"' for n in names if n in METADATA.tables]
            foreign = [f'"{schema}"."{n}"' for n in names if n not in METADATA.tables]
            if known:
                connection.exec_driver_sql(f"TRUNCATE {', '.join(known)} RESTART IDENTITY CASCADE")
            if foreign:
                connection.exec_driver_sql(f"DROP TABLE {', '.join(foreign)} CASCADE")
    finally:
        admin.dispose()


def make_sql_ledger_store(kind: str, tmp_path: Path, postgres_url: str | None):
    """A :class:`SqlLedgerStore` on an empty database of ``kind``, schema created."""
    from loancore.adapters.sql.ledger import SqlLedgerStore

    return SqlLedgerStore(make_sql_engine(kind, tmp_path, postgres_url, recycle=True))


def small_chart():
    """A few subjects of the default chart, enough for the SQL tests (independent of it)."""
    from loancore.ledger import Chart, Subject

    return Chart(
        [
            Subject("1002", "银行存款", "Deposits with banks", "asset"),
            Subject("1303", "贷款", "Loans", "asset"),
            Subject("1303.01", "本金", "Principal", "asset", parent_code="1303"),
            Subject("2202", "应付账款", "Merchant settlement payable", "liability"),
            Subject("6011", "利息收入", "Interest income", "income"),
        ]
    )


def loan_entry(
    n: int, *, minor: int = 10_000, currency: str = "CNY", day=None, key: str | None = None
):
    """Entry ``n``: Dr 1303.01 [loan Ln, customer C1, product P(n % 2)] / Cr 2202 [merchant
    M(n % 7)] for ``minor`` units."""
    from datetime import date

    from loancore.ledger import JournalEntry, Leg
    from loancore.money import Money

    amount = Money.from_minor(minor, currency)
    return JournalEntry(
        entry_id=f"e{n}",
        idempotency_key=key or f"k{n}",
        accounting_date=day or date(2026, 3, 1),
        legs=(
            Leg.debit(
                "1303.01", amount, {"loan": f"L{n}", "customer": "C1", "product": f"P{n % 2}"}
            ),
            Leg.credit("2202", amount, {"merchant": f"M{n % 7}"}),
        ),
    )


SEGMENTS_VS_LEGS = (
    "SELECT COUNT(*) FROM (SELECT subject_code, currency, product, partner, accounting_date AS day,"
    " SUM(CASE side WHEN 'debit' THEN amount_minor ELSE 0 END) AS d,"
    " SUM(CASE side WHEN 'credit' THEN amount_minor ELSE 0 END) AS c"
    " FROM ledger_legs WHERE product != '' OR partner != '' GROUP BY 1, 2, 3, 4, 5) l"
    " FULL OUTER JOIN ledger_daily_segment_balances b USING (subject_code, currency, product, partner, day)"
    " WHERE l.d IS NOT b.debit_minor OR l.c IS NOT b.credit_minor"
)
"""SQL counting the segment totals that differ from the legs' sums (0 when they agree)."""
