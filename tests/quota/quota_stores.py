"""Fresh SQL databases for the quota tests: a SQLite file, or a new PostgreSQL schema."""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["make_quota_engine"]

_counter = itertools.count()


def make_quota_engine(
    kind: str, tmp_path: Path, postgres_url: str | None, *, pool_size: int = 5
) -> Any:
    """A fresh, empty SQL database: a SQLite file, or a new PostgreSQL schema on ``postgres_url``
    (selected through the connection's ``search_path``, so tests never see each other's rows)."""
    import sqlalchemy as sa

    from loancore.adapters.sql import create_engine

    if kind == "sqlite":
        return create_engine(tmp_path / f"quota-{next(_counter)}.sqlite")
    assert postgres_url, "postgres needs the postgres_url fixture"
    schema = f"q_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    options = {"options": f"-csearch_path={schema}"}
    return create_engine(postgres_url, connect_args=options, pool_size=pool_size)
