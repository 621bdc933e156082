"""Fresh credit-line set-ups for the lines tests: memory, SQLite (a file), PostgreSQL (a schema).

Every unit of work starts with the default chart, the cash-line product (TOML below, with
penalty interest) and the borrower ``C1``'s quota line ``Q1`` of 50,000.00 CNY.
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
from loancore.services import LineReconciliation, open_credit_line, reconcile_line
from loancore.servicing import CreditLineAccount
from loancore.testing.servicing import CASH_LINE_PRODUCT_TOML

OPENED = date(2026, 3, 1)
LATER = date(2031, 1, 1)
_counter = itertools.count()

LINE_PRODUCT_TOML = CASH_LINE_PRODUCT_TOML


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> sa.Engine:
    """An empty database: a SQLite file, or a new schema on ``postgres_url`` (search_path)."""
    if kind == "sqlite":
        return create_engine(tmp_path / f"lines-{next(_counter)}.sqlite")
    assert postgres_url, "postgres needs the postgres_url fixture"
    schema = f"cl_{os.getpid()}_{uuid.uuid4().hex[:12]}"
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


def set_up(uow: UnitOfWork, lines: tuple[str, ...] = ("Q1",)) -> None:
    with uow:  # loans, quota, ledger: the lock order
        uow.loans.save_line_product(LINE_PRODUCT_TOML)
        for line_id in lines:
            grant = Grant(
                key=f"grant-{line_id}",
                line_id=line_id,
                borrower_id="C1",
                limit=cny("50000.00"),
                starts_on=date(2025, 1, 1),
                expires_on=LATER,
            )
            uow.quota.apply(grant, as_of=OPENED)
        uow.ledger.save_chart(default_chart())
        uow.commit()


def open_a1(uow: UnitOfWork, account_id: str = "A1", line_id: str = "Q1") -> CreditLineAccount:
    return open_credit_line(
        uow,
        account_id=account_id,
        customer_id="C1",
        line_id=line_id,
        product_id="cash-line",
        product_version=1,
        opened_on=OPENED,
        statement_day=10,
    )


def assert_clean(uow: UnitOfWork, account_id: str | None = None) -> LineReconciliation:
    result = reconcile_line(uow, account_id)
    assert result.clean, result.problems()
    return result


def state(uow: UnitOfWork) -> tuple[object, ...]:
    """Everything the stores hold for lines (read in a unit of work that is then left)."""
    with uow:
        ids = uow.loans.line_ids(limit=100_000)
        return (
            tuple(uow.loans.load_line(i) for i in ids),
            tuple(uow.loans.line_statements(i) for i in ids),
            uow.quota.snapshot(),
            tuple(uow.quota.journal()),
            tuple(uow.ledger.entries()),
        )


def dispose(uow: UnitOfWork) -> None:
    bind = getattr(uow, "bind", None)
    if isinstance(bind, sa.Engine):
        bind.dispose()
