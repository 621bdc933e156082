"""``uow``: a set-up unit of work of every kind (memory, SQLite, PostgreSQL); see uow_kit.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from uow_kit import dispose, make_uow

from loancore.ports import UnitOfWork

KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_KINDS = KINDS[1:]


@pytest.fixture
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], UnitOfWork]]:
    made: list[UnitOfWork] = []

    def build(kind: str) -> UnitOfWork:
        url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
        made.append(make_uow(kind, tmp_path, url))
        return made[-1]

    yield build
    for uow in made:
        dispose(uow)


@pytest.fixture(params=KINDS)
def uow(request: pytest.FixtureRequest, make: Callable[[str], UnitOfWork]) -> UnitOfWork:
    return make(request.param)


@pytest.fixture(params=SQL_KINDS)
def sql_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
