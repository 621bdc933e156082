"""Fresh servicing set-ups for the loans tests: memory, SQLite (a file), PostgreSQL (a schema).

Every unit of work starts with the default chart, the clinic product (TOML below) and one
borrower's quota line ``LINE`` of 50,000.00 CNY.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import Reconciliation, reconcile
from loancore.testing.servicing import CLINIC_PRODUCT_TOML
from store_kit import fresh_uow

DAY = date(2026, 1, 15)
LATER = date(2031, 1, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> UnitOfWork:
    uow = fresh_uow(kind, tmp_path, postgres_url, prefix="l", **kwargs)
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
