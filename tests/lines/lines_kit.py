"""Fresh credit-line set-ups for the lines tests: memory, SQLite (a file), PostgreSQL (a schema).

Every unit of work starts with the default chart, the cash-line product (TOML below, with
penalty interest) and the borrower ``C1``'s quota line ``Q1`` of 50,000.00 CNY.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import LineReconciliation, open_credit_line, reconcile_line
from loancore.servicing import CreditLineAccount
from loancore.testing.servicing import CASH_LINE_PRODUCT_TOML
from store_kit import empty_engine, fresh_uow

OPENED = date(2026, 3, 1)
LATER = date(2031, 1, 1)

LINE_PRODUCT_TOML = CASH_LINE_PRODUCT_TOML


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> sa.Engine:
    """An empty database: a SQLite file, or a new schema on ``postgres_url`` (search_path)."""
    return empty_engine(kind, tmp_path, postgres_url, prefix="cl", **kwargs)


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> UnitOfWork:
    uow = fresh_uow(kind, tmp_path, postgres_url, prefix="cl", **kwargs)
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
