"""A small book of loans for the distributed end-of-day tests, and PostgreSQL databases to hold it.

The book: ``LOANS`` clinic loans of varied principal, term and start date, so that on the business
date some are mid-period (interest accrues), some past due dates (due moves, penalties, late fees)
and some paid off (skipped: not active). It is booked once into a template database; every test
gets its own copy (``CREATE DATABASE ... TEMPLATE``), so every run starts from the same state.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.checks import DATE_MAX
from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import apply_event, book_order
from loancore.servicing import PayOff, Repay, payoff_amount
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

LOANS = 300
LINES = 30
START = date(2026, 1, 5)
BUSINESS_DATE = date(2026, 3, 31)


def cny(amount: str | Decimal) -> Money:
    return Money(Decimal(amount), "CNY")


def set_up(uow: UnitOfWork) -> None:
    with uow:  # loans, then quota, then the ledger: the lock order
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        for n in range(LINES):
            grant = Grant(
                key=f"grant-{n}",
                line_id=f"LINE-{n}",
                borrower_id=f"B{n}",
                limit=cny("200000.00"),
                starts_on=date(2025, 1, 1),
                expires_on=date(2030, 1, 1),
            )
            uow.quota.apply(grant, as_of=START)
        uow.ledger.save_chart(default_chart())
        uow.commit()


def book(uow: UnitOfWork, loans: int = LOANS) -> None:
    """Loans ``L0000``...: every 10th paid off 5 days after its start, every 7th repaid 100.00
    ten days after it; the rest untouched since booking."""
    for n in range(loans):  # bounded by ``loans``
        loan_id = f"L{n:04d}"
        start = START + timedelta(days=n % 40)
        book_order(
            uow,
            order_id=f"o-{loan_id}",
            loan_id=loan_id,
            customer_id=f"B{n % LINES}",
            line_id=f"LINE-{n % LINES}",
            product_id="clinic-12",
            product_version=1,
            principal=cny(Decimal(1000) + Decimal(n * 731) / 100),
            installments=(3, 6, 12)[n % 3],
            start_date=start,
            merchant_id="M1",
        )
        if n % 10 == 9:
            day = start + timedelta(days=5)
            with uow:
                loan = uow.loans.load(loan_id)
                quote = payoff_amount(loan, uow.loans.product("clinic-12", 1), day)
            apply_event(uow, loan_id, PayOff(event_id=f"off-{loan_id}", as_of=day, amount=quote))
        elif n % 7 == 3:
            day = start + timedelta(days=10)
            apply_event(uow, loan_id, Repay(event_id=f"r-{loan_id}", as_of=day, amount=cny("100")))


def database_url(url: str, name: str) -> str:
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")


def create_database(url: str, *, template: str | None = None) -> str:
    """A new database on the server of ``url`` (a copy of ``template`` if named); its URL."""
    name = f"eod_{uuid.uuid4().hex[:12]}"
    admin = admin_engine(url)
    with admin.connect() as connection:
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return database_url(url, name)


def drop_database(url: str, database_url_: str) -> None:
    name = sa.make_url(database_url_).database
    admin = admin_engine(url)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def booked_template(url: str) -> str:
    """A database holding the set-up and the booked book, with no connection left open (so it
    can serve as a template); its URL."""
    template = create_database(url)
    engine = create_engine(template)  # pooled while booking; disposed: no connection left
    uow = SqlUnitOfWork(engine)
    set_up(uow)
    book(uow)
    engine.dispose()
    return template


def ledger_state(url: str) -> tuple[object, ...]:
    """Every entry (id, key, dates, legs, memo), sorted by id, the trial balance and every loan."""
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    uow = SqlUnitOfWork(engine)
    try:
        with uow:
            entries = sorted(uow.ledger.entries(), key=lambda entry: entry.entry_id)
            trial = uow.ledger.trial_balance(as_of=DATE_MAX)
            ids = uow.loans.loan_ids(limit=10_000)
            loans = uow.loans.load_many(ids)
            return (tuple(entries), trial, tuple(loans[i] for i in ids))
    finally:
        engine.dispose()
