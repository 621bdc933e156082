"""Books for the end-of-day tests: memory, SQLite (a file), PostgreSQL (a schema), each with the
default chart, two products and quota lines, and helpers to book loans and read the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import Applied, book_order, reconcile
from loancore.testing.servicing import CLINIC_PRODUCT_TOML
from store_kit import empty_engine, fresh_uow

START = date(2026, 1, 15)
LATER = date(2031, 1, 1)

STORY_PRODUCT_TOML = """
product_id = "story"
version = 1
currency = "CNY"

[terms]
method = "equal_installment"
annual_rate = "0.18"
rounding = "HALF_UP"
day_count = "ACT/360"

[interest]
recognition = "daily"
grace_days = 3

[interest.penalty]
multiple = "1.5"
"""
"""A plain product for stories with hand-checkable figures: 18% equal installments, daily
accrual, grace 3 days, penalty 1.5 x 18% = 27% a year ACT/360 on unpaid principal; no compound
interest, no fees, no merchant discount."""


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None) -> sa.Engine:
    return empty_engine(kind, tmp_path, postgres_url, prefix="e")


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None, lines: int = 1) -> UnitOfWork:
    uow = fresh_uow(kind, tmp_path, postgres_url, prefix="e")
    set_up(uow, lines)
    return uow


def set_up(uow: UnitOfWork, lines: int = 1) -> None:
    with uow:
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        uow.loans.save_product(STORY_PRODUCT_TOML)
        for n in range(1, lines + 1):
            uow.quota.apply(
                Grant(
                    key=f"grant-LINE{n}",
                    line_id=f"LINE{n}",
                    borrower_id=f"C{n}",
                    limit=cny("50000.00"),
                    starts_on=date(2025, 1, 1),
                    expires_on=LATER,
                ),
                as_of=START,
            )
        uow.ledger.save_chart(default_chart())
        uow.commit()


def book(
    uow: UnitOfWork,
    loan_id: str,
    *,
    principal: str = "12000.00",
    product: str = "story",
    line: int = 1,
    start: date = START,
) -> Applied:
    return book_order(
        uow,
        order_id=f"order-{loan_id}",
        loan_id=loan_id,
        customer_id=f"C{line}",
        line_id=f"LINE{line}",
        product_id=product,
        product_version=1,
        principal=cny(principal),
        installments=12,
        start_date=start,
        merchant_id="M1",
    )


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def entries_of(uow: UnitOfWork) -> dict[str, tuple[Any, ...]]:
    """Every entry by id: its date and legs (subject, side, amount, dimensions)."""
    with uow:
        return {
            e.entry_id: (
                e.accounting_date,
                tuple(
                    (leg.subject_code, leg.side.value, leg.amount.minor_units, leg.dimensions)
                    for leg in e.legs
                ),
            )
            for e in uow.ledger.entries()
        }


def memos_of(uow: UnitOfWork) -> dict[str, tuple[Any, ...]]:
    with uow:
        return {
            m.posting_id: (m.register.value, m.direction.value, m.amount.minor_units)
            for m in uow.ledger.memo_postings()
        }


def legs(uow: UnitOfWork, entry_id: str) -> list[tuple[str, str, str]]:
    with uow:
        entry = uow.ledger.get_entry(entry_id)
    return sorted((leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in entry.legs)


def balance(uow: UnitOfWork, code: str, loan_id: str, on: date = LATER) -> Money:
    with uow:
        return uow.ledger.balance(code, "CNY", as_of=on, dimensions={"loan": loan_id})


def assert_clean(uow: UnitOfWork) -> None:
    result = reconcile(uow)
    assert result.clean, result.problems()
