"""Fresh units of work for the stored-settlement tests: memory, SQLite (a file), PostgreSQL (a
new schema), each with the default chart saved; and the entries servicing books beside a
capture or a refund (Dr loan / Cr merchant payable, and back)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import MerchantDisbursement, merchant_disbursement
from loancore.quota import Grant
from loancore.services import book_order
from loancore.services.settlement import fund_joint_loan
from loancore.settlement import Capture, Deduction, FundingShare
from loancore.testing.servicing import CLINIC_PRODUCT_TOML
from store_kit import empty_engine, fresh_uow


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None) -> sa.Engine:
    return empty_engine(kind, tmp_path, postgres_url, prefix="s")


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None) -> UnitOfWork:
    uow = fresh_uow(kind, tmp_path, postgres_url, prefix="s")
    with uow:
        uow.ledger.save_chart(default_chart())
        uow.commit()
    return uow


def disbursed(capture: Capture) -> tuple[JournalEntry, ...]:
    """Servicing's entry for the order: Dr 1303.01 the loan, Cr 2202 the merchant's payable."""
    event = MerchantDisbursement(
        event_id=capture.order_id,
        accounting_date=capture.captured_at.date(),
        dimensions={"loan": f"L-{capture.order_id}", "merchant": capture.merchant_id},
        principal=capture.amount,
    )
    return merchant_disbursement(event)


def refunded(deduction: Deduction) -> tuple[JournalEntry, ...]:
    """Servicing's entry for a refund: Dr 2202 the merchant's payable, Cr 1303.01 the loan."""
    dimensions = {"loan": f"L-{deduction.order_id}", "merchant": deduction.merchant_id}
    key = f"refund:{deduction.deduction_id}"
    day: datetime.date = deduction.occurred_at.date()
    entry = JournalEntry(
        entry_id=key,
        idempotency_key=key,
        accounting_date=day,
        legs=(
            Leg.debit("2202", deduction.amount, dimensions),
            Leg.credit("1303.01", deduction.amount, dimensions),
        ),
    )
    return (entry,)


def set_up_servicing(uow: UnitOfWork, limit: str = "100000.00") -> None:
    """The clinic product (loancore.testing.servicing) and borrower C1's quota line ``LINE``, so
    the servicing use cases can book orders in ``uow`` (which has the default chart)."""
    with uow:  # loans, then quota: the lock order
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        uow.quota.apply(
            Grant(
                key="grant-LINE",
                line_id="LINE",
                borrower_id="C1",
                limit=Money(Decimal(limit), "CNY"),
                starts_on=datetime.date(2025, 1, 1),
                expires_on=datetime.date(2031, 1, 1),
            ),
            as_of=datetime.date(2025, 1, 1),
        )
        uow.commit()


FAR = datetime.date(2030, 12, 31)


def balance(uow: UnitOfWork, code: str, **dimensions: str) -> Money:
    """``code``'s CNY balance as of 2030-12-31 on legs carrying ``dimensions``."""
    with uow:
        return uow.ledger.balance(code, "CNY", as_of=FAR, dimensions=dimensions)


def entry_count(uow: UnitOfWork) -> int:
    """How many journal entries the ledger holds."""
    with uow:
        return sum(1 for _entry in uow.ledger.entries())


def book_joint(uow: UnitOfWork, shares: Sequence[FundingShare]) -> None:
    """Loan ``LJ``: 10,000.00 CNY of the clinic product in 12 installments, booked to C1's card
    on 2026-01-15 and funded by ``shares`` the same day."""
    set_up_servicing(uow)
    book_order(
        uow, order_id="order-LJ", loan_id="LJ", customer_id="C1", line_id="LINE",
        product_id="clinic-12", product_version=1, principal=Money(Decimal("10000.00"), "CNY"),
        installments=12, start_date=datetime.date(2026, 1, 15), card="6222-card",
    )  # fmt: skip
    fund_joint_loan(uow, "LJ", shares, on=datetime.date(2026, 1, 15))
