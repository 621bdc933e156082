"""The quota state machine (loancore.testing.quota) against every store.

Memory gets the full run; the SQL stores fewer, shorter lifecycles (each step reads the database
and rebuilds the journal), enough to drive every operation through the same rows the memory run
checks.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from quota_stores import make_quota_engine

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.money import Money
from loancore.quota import QuotaConfig
from loancore.testing.quota import QuotaStateMachine


class MemoryQuotaMachine(QuotaStateMachine):
    pass


TestMemoryQuotaLifecycles = pytest.mark.slow(MemoryQuotaMachine.TestCase)
TestMemoryQuotaLifecycles.settings = settings(stateful_step_count=40)


class CappedQuotaMachine(QuotaStateMachine):
    """A borrower cap inside the range of grants and increases, so they run into it (code 309)."""

    def make_store(self) -> MemoryQuotaStore:
        return MemoryQuotaStore(QuotaConfig(borrower_cap=Money(Decimal("25000.00"), "CNY")))


TestCappedQuotaLifecycles = CappedQuotaMachine.TestCase
TestCappedQuotaLifecycles.settings = settings(max_examples=40, stateful_step_count=30)

SQL_SETTINGS = settings(
    max_examples=6, stateful_step_count=20, suppress_health_check=[HealthCheck.too_slow]
)


def _run_sql_machine(kind: str, postgres_url: str | None) -> None:
    from loancore.adapters.sql.quota import SqlQuotaStore

    engines = []
    directory = Path(tempfile.mkdtemp(prefix="quota-machine-"))

    class SqlQuotaMachine(QuotaStateMachine):
        def make_store(self) -> SqlQuotaStore:
            engine = make_quota_engine(kind, directory, postgres_url)
            engines.append(engine)
            return SqlQuotaStore(engine)

    try:
        run_state_machine_as_test(SqlQuotaMachine, settings=SQL_SETTINGS)
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.slow
def test_sqlite_store_follows_the_model() -> None:
    pytest.importorskip("sqlalchemy")
    _run_sql_machine("sqlite", None)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_store_follows_the_model(postgres_url: str) -> None:
    _run_sql_machine("postgres", postgres_url)
