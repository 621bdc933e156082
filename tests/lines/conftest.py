"""``uow``: a set-up credit-line unit of work of every kind (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lines_kit import dispose, make_uow

from loancore.ports import UnitOfWork

KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


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
def uow(request: pytest.FixtureRequest, make: Callable[..., UnitOfWork]) -> UnitOfWork:
    return make(request.param)
