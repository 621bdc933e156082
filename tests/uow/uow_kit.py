"""Fresh units of work for the tests: memory, SQLite (a file), PostgreSQL (a new schema).

Every unit of work starts with the default chart saved and one borrower's quota lines granted:
master ``M`` and sub-line ``S``, 10,000.00 CNY each.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from store_kit import empty_engine, fresh_uow

DAY = date(2026, 3, 2)
LATER = date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def make_engine(kind: str, tmp_path: Path, postgres_url: str | None, **kwargs: Any) -> sa.Engine:
    """An empty database: a SQLite file, or a new schema on ``postgres_url`` (search_path)."""
    return empty_engine(kind, tmp_path, postgres_url, prefix="u", **kwargs)


def make_uow(kind: str, tmp_path: Path, postgres_url: str | None) -> UnitOfWork:
    """A unit of work of ``kind`` over fresh stores, set up (chart, lines M and S)."""
    uow = fresh_uow(kind, tmp_path, postgres_url, prefix="u")
    set_up(uow)
    return uow


def set_up(uow: UnitOfWork) -> None:
    with uow:  # quota first, then the ledger: the lock order
        uow.quota.apply(
            Grant(
                key="g-M",
                line_id="M",
                borrower_id="b1",
                limit=cny("10000.00"),
                starts_on=DAY,
                expires_on=LATER,
            ),
            as_of=DAY,
        )
        uow.quota.apply(
            Grant(
                key="g-S",
                line_id="S",
                borrower_id="b1",
                limit=cny("10000.00"),
                starts_on=DAY,
                expires_on=LATER,
                master_id="M",
            ),
            as_of=DAY,
        )
        uow.ledger.save_chart(default_chart())
        uow.commit()


def draw_entry(n: int | str, amount: str = "100.00", *, day: date = DAY) -> JournalEntry:
    """Entry ``n``: a loan of ``amount`` disbursed to the merchant (Dr 1303.01 / Cr 2202)."""
    return JournalEntry(
        entry_id=f"E-{n}",
        idempotency_key=f"draw:{n}",
        accounting_date=day,
        legs=(
            Leg.debit("1303.01", cny(amount), {"loan": f"L-{n}"}),
            Leg.credit("2202", cny(amount), {"loan": f"L-{n}"}),
        ),
    )


def unbalanced_entry(n: int | str) -> JournalEntry:
    """An entry every store refuses (PostingRejected, ENTRY_UNBALANCED)."""
    return JournalEntry(
        entry_id=f"X-{n}",
        idempotency_key=f"bad:{n}",
        accounting_date=DAY,
        legs=(Leg.debit("1303.01", cny("1.00")), Leg.credit("2202", cny("2.00"))),
    )


def state(uow: UnitOfWork) -> tuple[object, ...]:
    """Everything the stores hold, read through a unit of work that is then left (rolled back)."""
    with uow:
        quota, ledger, loans = uow.quota, uow.ledger, uow.loans
        return (
            tuple(loans.load(loan_id) for loan_id in loans.loan_ids(limit=100_000)),
            dict(uow.settlement.channel_terms("up")),
            uow.settlement.pending("up"),
            quota.snapshot(),
            tuple(quota.journal()),
            tuple(ledger.entries()),
            ledger.trial_balance(as_of=LATER),
            tuple(ledger.memo_postings()),
            ledger.closed_through(),
            ledger.period_closes(),
            ledger.load_chart(),
        )
