"""Fresh SQL databases and SQL ledger stores for tests (SQLite file or PostgreSQL schema).

``make_sql_ledger_store(kind, tmp_path, postgres_url)`` is what tests/ledger/conftest.py uses to run
the ledger conformance suite against :class:`~loancore.adapters.sql.ledger.SqlLedgerStore`:

- ``"sqlite"``: a new database file under ``tmp_path``;
- ``"postgres"``: a new, empty PostgreSQL schema on ``postgres_url`` (the ``postgres_url``
  fixture), selected through the connection's ``search_path``, so tests never see each other's rows.
"""

from __future__ import annotations

import collections
import itertools
import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from loancore.adapters.sql import create_engine

__all__ = ["SQL_KINDS", "make_sql_engine", "make_sql_ledger_store"]

SQL_KINDS = ("sqlite", "postgres")
_counter = itertools.count()
_POSTGRES_ENGINES_OPEN = 6
_recent_postgres: collections.deque[sa.Engine] = collections.deque()


def make_sql_engine(kind: str, tmp_path: Path, postgres_url: str | None) -> sa.Engine:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        return create_engine(tmp_path / f"ledger-{next(_counter)}.sqlite")
    if kind != "postgres":
        raise ValueError(f"kind: expected one of {SQL_KINDS}, got {kind!r}")
    if not postgres_url:
        raise ValueError("kind 'postgres' needs postgres_url (the postgres_url fixture)")
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    _recent_postgres.append(engine)
    # Property tests make a store per example and dispose them only at the end of the test.
    # Disposing an older engine closes its idle connections (it reconnects if used again), so
    # the server's connection limit is never reached.
    while len(_recent_postgres) > _POSTGRES_ENGINES_OPEN:
        _recent_postgres.popleft().dispose()
    return engine


def make_sql_ledger_store(kind: str, tmp_path: Path, postgres_url: str | None):
    """A :class:`SqlLedgerStore` on a fresh database of ``kind``, schema created."""
    from loancore.adapters.sql.ledger import SqlLedgerStore

    return SqlLedgerStore(make_sql_engine(kind, tmp_path, postgres_url))


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


def loan_entry(n: int, *, minor: int = 10_000, currency: str = "CNY", day=None, key: str | None = None):
    """Entry ``n``: Dr 1303.01 [loan Ln] / Cr 2202 [merchant M(n % 7)] for ``minor`` units."""
    from datetime import date

    from loancore.ledger import JournalEntry, Leg
    from loancore.money import Money

    amount = Money.from_minor(minor, currency)
    return JournalEntry(
        entry_id=f"e{n}",
        idempotency_key=key or f"k{n}",
        accounting_date=day or date(2026, 3, 1),
        legs=(
            Leg.debit("1303.01", amount, {"loan": f"L{n}", "customer": "C1"}),
            Leg.credit("2202", amount, {"merchant": f"M{n % 7}"}),
        ),
    )
