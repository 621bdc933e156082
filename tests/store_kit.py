"""What the stored-book suites share: the three kinds of store, an empty database of each SQL
kind, and the pytest fixtures that hand a test set-up units of work and dispose of them.

A suite's kit says how its book is set up (``make_uow(kind, tmp_path, postgres_url, **kwargs)``,
usually :func:`fresh_uow` and its own set-up); its conftest takes the fixtures with one line::

    make, kind, uow = uow_fixtures(make_uow)
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.ports import UnitOfWork

KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_KINDS = KINDS[1:]

_counter = itertools.count()


def empty_engine(
    kind: str, tmp_path: Path, postgres_url: str | None, *, prefix: str = "t", **kwargs: Any
) -> sa.Engine:
    """An empty database: a new SQLite file in ``tmp_path``, or a new schema on ``postgres_url``
    (the engine's search_path); ``kwargs`` go to :func:`loancore.adapters.sql.create_engine`."""
    if kind == "sqlite":
        return create_engine(tmp_path / f"{prefix}-{next(_counter)}.sqlite", **kwargs)
    assert kind == "postgres", kind
    assert postgres_url, "postgres needs the postgres_url fixture"
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    options = {"options": f"-csearch_path={schema}"}
    return create_engine(postgres_url, connect_args=options, **kwargs)


def fresh_uow(
    kind: str, tmp_path: Path, postgres_url: str | None, *, prefix: str = "t", **kwargs: Any
) -> UnitOfWork:
    """A unit of work over empty stores of ``kind`` (memory, or an :func:`empty_engine`)."""
    if kind == "memory":
        return MemoryUnitOfWork()
    return SqlUnitOfWork(empty_engine(kind, tmp_path, postgres_url, prefix=prefix, **kwargs))


def dispose(uow: UnitOfWork) -> None:
    """Close a SQL unit of work's connections (nothing to do in memory)."""
    bind = getattr(uow, "bind", None)
    if isinstance(bind, sa.Engine):
        bind.dispose()


def uow_fixtures(make_uow: Callable[..., UnitOfWork]) -> tuple[Any, Any, Any]:
    """The fixtures ``make`` (a factory ``make(kind, **kwargs)`` of set-up units of work, each
    disposed at teardown), ``kind`` (each of :data:`KINDS`) and ``uow`` (``make(kind)``)."""

    @pytest.fixture
    def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., UnitOfWork]]:
        made: list[UnitOfWork] = []

        def build(kind: str, **kwargs: Any) -> UnitOfWork:
            url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
            made.append(make_uow(kind, tmp_path, url, **kwargs))
            return made[-1]

        yield build
        for uow in made:
            dispose(uow)

    @pytest.fixture(params=KINDS)
    def kind(request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def uow(kind: str, make: Callable[..., UnitOfWork]) -> UnitOfWork:
        return make(kind)

    return make, kind, uow
