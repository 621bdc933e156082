"""Fresh units of work for the stored-settlement tests: memory, SQLite (a file), PostgreSQL (a
new schema), each with the default chart saved; and the entries servicing books beside a
capture or a refund (Dr loan / Cr merchant payable, and back)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import MerchantDisbursement, merchant_disbursement
from loancore.quota import Grant
from loancore.settlement import Capture, Deduction
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
