"""The ledger store fixtures: one conformance suite, every store.

``ledger_store`` is parametrized over "memory", "sqlite" and "postgres" (the last one needs the
``postgres_url`` fixture and carries ``pytest.mark.postgres``). SQL stores come from
``sql_stores.make_sql_ledger_store(kind, tmp_path, postgres_url)``. Every store starts with the
default chart saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sql_stores import make_sql_ledger_store  # tests/ledger/sql_stores.py

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.ledger import default_chart
from loancore.ports import LedgerStore

STORE_KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _dispose(store: object) -> None:
    bind = getattr(store, "bind", None)
    dispose = getattr(bind, "dispose", None)
    if callable(dispose):
        dispose()


@pytest.fixture(params=STORE_KINDS)
def ledger_store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], LedgerStore]]:
    """A callable that makes a fresh store of one kind with the default chart (for property tests,
    which need a fresh store per example)."""
    kind = request.param
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    made: list[object] = []

    def make() -> LedgerStore:
        if kind == "memory":
            store: LedgerStore = MemoryLedgerStore()
        else:
            store = make_sql_ledger_store(kind, tmp_path, url)
            made.append(store)
        store.save_chart(default_chart())
        return store

    yield make
    for store in made:
        _dispose(store)


@pytest.fixture
def ledger_store(ledger_store_factory: Callable[[], LedgerStore]) -> LedgerStore:
    """A fresh store (memory, SQLite or PostgreSQL) holding the default chart."""
    return ledger_store_factory()
