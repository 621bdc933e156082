"""A small book of loans for the distributed end-of-day tests, and PostgreSQL databases to hold it.

The book: ``LOANS`` clinic loans (penalty, compound interest, late fee) on ``LINES`` borrowers'
lines, in six kinds by ``n % 6`` (so each borrower's loans are all of one kind: 30 is a
multiple of 6), chosen so that the business date has every kind of end-of-day work:

- 0 current: started in March, nothing due yet (accrual only);
- 1 on time: started in November, every installment repaid on its due date (on-time
  repayments, which the limit policy rewards);
- 2 M1: started late January, unpaid: 5-35 days past due (penalty, late fee, 关注, stage 2);
- 3 M2-M3: started late November, unpaid: 55-95 days past due, some crossing 90 on the
  business date's nights (non-accrual: interest reversed into the off-balance register, 次级);
- 4 deeply late: started in September, unpaid: past 90 days (memo postings every night);
- 5 paid off (every other one, five days after its start) or repaid 100.00 ten days after it.

Revolving credit-line accounts (``LINE_ACCOUNTS``, :func:`line_account_id`) sit between the
loans' ids and before and after all of them, so every range closes some: by ``n % 4`` current,
about 60 days past due, crossing 90 days past due on the tested nights, and long past 90; those
with ``n % 3 == 2`` are opened after the previous nights' close (several months behind), the
others closed through ``CLOSED_THROUGH`` with the loans.

Loan ``ANCIENT`` was booked in 2016: more days behind than one close may take, so every run
refuses it and its borrower is left out of the limit review. The book's previous nights are
closed: every loan but those with ``n % 8 == 7`` is closed through ``CLOSED_THROUGH`` (loans only,
as :func:`~loancore.services.end_of_day.close_loans` does); those are booked afterwards and caught
up from their booking by the tested day, so every range has loans several days behind and loans
a few months behind. It is booked once into a template database; every test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), so every run starts from the same state.
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
from loancore.quota import DefaultLimitPolicy, Grant
from loancore.services import apply_event, apply_line_event, book_order, open_credit_line
from loancore.services.credit_line import close_lines_day
from loancore.services.end_of_day import close_loans
from loancore.servicing import Draw, PayOff, Repay, payoff_amount
from loancore.testing.servicing import CASH_LINE_PRODUCT_TOML, CLINIC_PRODUCT_TOML
from loancore.waterfall import Component

PRINCIPAL, INTEREST, FEE = Component.PRINCIPAL, Component.INTEREST, Component.FEE

LOANS = 240
LINES = 30
LINE_ACCOUNTS = 12
CLOSED_THROUGH = date(2026, 3, 27)
BUSINESS_DATE = date(2026, 3, 31)
ANCIENT = "L0010"
POLICY = DefaultLimitPolicy()
"""The limit policy of the tested day: freeze at 1 day past due, raise after 6 on-time
repayments."""

_STARTS = {
    0: date(2026, 3, 1),
    1: date(2025, 11, 3),
    2: date(2026, 1, 26),
    3: date(2025, 11, 25),
    4: date(2025, 9, 1),
    5: date(2026, 1, 5),
}


def cny(amount: str | Decimal) -> Money:
    return Money(Decimal(amount), "CNY")


def set_up(uow: UnitOfWork) -> None:
    with uow:  # loans, then quota, then the ledger: the lock order
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        uow.loans.save_line_product(CASH_LINE_PRODUCT_TOML)
        for n in range(LINES):
            grant = Grant(
                key=f"grant-{n}",
                line_id=f"LINE-{n}",
                borrower_id=f"B{n}",
                limit=cny("40000.00"),
                starts_on=date(2015, 1, 1),
                expires_on=date(2030, 1, 1),
            )
            uow.quota.apply(grant, as_of=date(2015, 1, 1))
        uow.ledger.save_chart(default_chart())
        uow.commit()


def start_of(n: int) -> date:
    if f"L{n:04d}" == ANCIENT:
        return date(2016, 1, 4)
    return _STARTS[n % 6] + timedelta(days=n % 20 if n % 6 in (0, 1) else n % 40)


def _repay_on_time(uow: UnitOfWork, loan_id: str) -> None:
    """Every installment due by ``CLOSED_THROUGH`` repaid on its due date, in full."""
    with uow:
        installments = uow.loans.load(loan_id).installments
    for installment in installments:  # bounded by the term
        if installment.due_date > CLOSED_THROUGH:
            break
        with uow:
            loan = uow.loans.load(loan_id)
        (current,) = [i for i in loan.installments if i.number == installment.number]
        owed = sum(current.part(c).outstanding for c in (PRINCIPAL, INTEREST, FEE))
        amount = cny(Decimal(owed) / 100)
        event_id = f"r{installment.number}-{loan_id}"
        event = Repay(event_id=event_id, as_of=installment.due_date, amount=amount)
        apply_event(uow, loan_id, event)


def _book_one(uow: UnitOfWork, n: int) -> None:
    loan_id, start = f"L{n:04d}", start_of(n)
    book_order(
        uow,
        order_id=f"o-{loan_id}",
        loan_id=loan_id,
        customer_id=f"B{n % LINES}",
        line_id=f"LINE-{n % LINES}",
        product_id="clinic-12",
        product_version=1,
        principal=cny(Decimal(1000) + Decimal(n * 731) / 100),
        installments=(3, 6, 12)[n % 4 % 3],
        start_date=start,
        merchant_id="M1",
    )
    if n % 6 == 1:
        _repay_on_time(uow, loan_id)
    elif n % 12 == 5:
        day = start + timedelta(days=5)
        with uow:
            loan = uow.loans.load(loan_id)
            quote = payoff_amount(loan, uow.loans.product("clinic-12", 1), day)
        apply_event(uow, loan_id, PayOff(event_id=f"off-{loan_id}", as_of=day, amount=quote))
    elif n % 6 == 5:
        day = start + timedelta(days=10)
        apply_event(uow, loan_id, Repay(event_id=f"r-{loan_id}", as_of=day, amount=cny("100")))


_LINE_OPENINGS = {
    0: (date(2026, 3, 2), 20),  # current: first statement after the tested day
    1: (date(2026, 1, 5), 10),  # due 2026-01-30, about 60 days past due
    2: (date(2025, 12, 5), 9),  # due 2025-12-29: past 90 days on the tested nights
    3: (date(2025, 10, 1), 5),  # due 2025-10-25: long past 90 days
}


def line_account_id(n: int) -> str:
    """Credit-line account ``n``: ``A-CL`` before every loan id, ``Z-CL`` after, the others just
    after loan ``L<20n+3>``."""
    if n == 0:
        return "A-CL"
    if n == LINE_ACCOUNTS - 1:
        return "Z-CL"
    return f"L{n * 20 + 3:04d}-CL"


def _open_line_account(uow: UnitOfWork, n: int) -> None:
    account_id, (opened, statement_day) = line_account_id(n), _LINE_OPENINGS[n % 4]
    borrower = n * 7 % LINES
    open_credit_line(
        uow,
        account_id=account_id,
        customer_id=f"B{borrower}",
        line_id=f"LINE-{borrower}",
        product_id="cash-line",
        product_version=1,
        opened_on=opened,
        statement_day=statement_day,
    )
    amount = cny(Decimal(1500 + 100 * n))
    draw = Draw(event_id=f"d-{account_id}", as_of=opened + timedelta(days=1), amount=amount)
    apply_line_event(uow, account_id, draw)
    if n % 4 == 1:  # part of the first minimum paid
        repay = Repay(event_id=f"r-{account_id}", as_of=date(2026, 1, 20), amount=cny("60.00"))
        apply_line_event(uow, account_id, repay)


def book(uow: UnitOfWork, loans: int = LOANS) -> None:
    """Loans ``L0000``... and the credit-line accounts (module docstring): loans with ``n % 8 !=
    7`` and accounts with ``n % 3 != 2`` booked and closed through ``CLOSED_THROUGH``, then the
    others booked."""
    for n in range(loans):  # bounded by ``loans``
        if n % 8 != 7:
            _book_one(uow, n)
    for n in range(LINE_ACCOUNTS):  # bounded
        if n % 3 != 2:
            _open_line_account(uow, n)
    close_loans(uow, CLOSED_THROUGH)
    close_lines_day(uow, CLOSED_THROUGH)
    for n in range(loans):  # bounded by ``loans``
        if n % 8 == 7:
            _book_one(uow, n)
    for n in range(LINE_ACCOUNTS):  # bounded
        if n % 3 == 2:
            _open_line_account(uow, n)


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


def uow_state(uow: UnitOfWork) -> dict[str, object]:
    """What an end of day leaves, part by part: every entry (id, key, dates, legs, memo) and
    memo posting, sorted by id; the trial balance; every loan and every standing (watermark,
    DPD, classification history, allowance); every credit-line account (stored with its version)
    and its statements; the quota's lines, balances, holds and journal."""
    with uow:
        ids = uow.loans.loan_ids(limit=10_000)
        loans = uow.loans.load_many(ids)
        line_ids = uow.loans.line_ids(limit=10_000)
        quota = uow.quota.snapshot()
        return {
            "entries": tuple(sorted(uow.ledger.entries(), key=lambda e: e.entry_id)),
            "memo_postings": tuple(sorted(uow.ledger.memo_postings(), key=lambda m: m.posting_id)),
            "trial_balance": uow.ledger.trial_balance(as_of=DATE_MAX),
            "loans": tuple(loans[i] for i in ids),
            "standings": uow.loans.standings(limit=10_000),
            "lines": tuple(uow.loans.load_line(i) for i in line_ids),
            "line_statements": tuple(uow.loans.line_statements(i) for i in line_ids),
            "quota": (dict(quota.lines), dict(quota.balances), dict(quota.holds)),
            "quota_journal": tuple(
                sorted(uow.quota.journal(), key=lambda event: (event.key, event.seq))
            ),
        }


def book_state(url: str) -> dict[str, object]:
    """:func:`uow_state` of the database at ``url``."""
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return uow_state(SqlUnitOfWork(engine))
    finally:
        engine.dispose()
