"""Fresh servicing set-ups for the loans tests: memory, SQLite (a file), PostgreSQL (a schema).

Every unit of work starts with the default chart, the clinic product (TOML below) and one
borrower's quota line ``LINE`` of 50,000.00 CNY.
"""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import Reconciliation, reconcile
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

DAY = date(2026, 1, 15)
LATER = date(2031, 1, 1)
_counter = itertools.count()


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> sa.Engine:
    """An empty database: a SQLite file, or a new schema on ``postgres_url`` (search_path)."""
    if kind == "sqlite":
        return create_engine(tmp_path / f"loans-{next(_counter)}.sqlite")
    assert postgres_url, "postgres needs the postgres_url fixture"
    schema = f"l_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    options = {"options": f"-csearch_path={schema}"}
    return create_engine(postgres_url, connect_args=options, **kwargs)


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> UnitOfWork:
    uow: UnitOfWork
    if kind == "memory":
        uow = MemoryUnitOfWork()
    else:
        uow = SqlUnitOfWork(make_engine(kind, tmp_path, postgres_url, **kwargs))
    set_up(uow)
    return uow


def set_up(uow: UnitOfWork, lines: tuple[str, ...] = ("LINE",)) -> None:
    with uow:  # loans, quota, ledger: the lock order
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        for line_id in lines:
            uow.quota.apply(
                Grant(
                    key=f"grant-{line_id}",
                    line_id=line_id,
                    borrower_id="C1",
                    limit=cny("50000.00"),
                    starts_on=date(2025, 1, 1),
                    expires_on=LATER,
                ),
                as_of=DAY,
            )
        uow.ledger.save_chart(default_chart())
        uow.commit()


def assert_clean(uow: UnitOfWork, loan_id: str | None = None) -> Reconciliation:
    result = reconcile(uow, loan_id)
    assert result.clean, result.problems()
    return result


def state(uow: UnitOfWork) -> tuple[object, ...]:
    """Everything the three stores hold (read in a unit of work that is then left)."""
    with uow:
        loans = tuple(uow.loans.load(i) for i in uow.loans.loan_ids(limit=100_000))
        return (
            loans,
            uow.quota.snapshot(),
            tuple(uow.quota.journal()),
            tuple(uow.ledger.entries()),
            tuple(uow.ledger.memo_postings()),
        )


def dispose(uow: UnitOfWork) -> None:
    bind = getattr(uow, "bind", None)
    if isinstance(bind, sa.Engine):
        bind.dispose()
