"""One ``quota_store`` fixture for every store: memory, SQLite (a file), PostgreSQL (a schema).

Every behavioural test in this directory that takes ``quota_store`` runs against all three.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from quota_stores import make_quota_engine

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.quota import QuotaConfig

STORE_KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
if importlib.util.find_spec("loancore.adapters.sql.quota") is None:  # the SQL store is optional
    STORE_KINDS = STORE_KINDS[:1]


@pytest.fixture
def make_quota_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """A factory ``make(kind, config=None)`` of fresh stores; engines are disposed at teardown."""
    engines: list[Any] = []

    def make(kind: str, config: QuotaConfig | None = None) -> Any:
        if kind == "memory":
            return MemoryQuotaStore(config)
        from loancore.adapters.sql.quota import SqlQuotaStore

        url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
        engine = make_quota_engine(kind, tmp_path, url)
        engines.append(engine)
        return SqlQuotaStore(engine, config)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def quota_store(store_kind: str, make_quota_store: Callable[..., Any]) -> Any:
    return make_quota_store(store_kind)
