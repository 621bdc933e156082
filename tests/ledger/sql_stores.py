"""Fresh SQL databases and SQL ledger stores for tests (SQLite file or PostgreSQL schema).

``make_sql_ledger_store(kind, tmp_path, postgres_url)`` is what tests/ledger/conftest.py uses to run
the ledger conformance suite against :class:`~loancore.adapters.sql.ledger.SqlLedgerStore`:

- ``"sqlite"``: a new database file under ``tmp_path``;
- ``"postgres"``: a new, empty PostgreSQL schema on ``postgres_url`` (the ``postgres_url``
  fixture), selected through the connection's ``search_path``, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from loancore.adapters.sql import create_engine

__all__ = ["SQL_KINDS", "make_sql_engine", "make_sql_ledger_store"]

SQL_KINDS = ("sqlite", "postgres")
_counter = itertools.count()


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
    return create_engine(
        postgres_url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=12
    )


def make_sql_ledger_store(kind: str, tmp_path: Path, postgres_url: str | None):
    """A :class:`SqlLedgerStore` on a fresh database of ``kind``, schema created."""
    from loancore.adapters.sql.ledger import SqlLedgerStore

    return SqlLedgerStore(make_sql_engine(kind, tmp_path, postgres_url))
