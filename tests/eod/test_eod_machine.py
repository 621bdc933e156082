"""The end-of-day state machine of ``loancore.testing`` (``end_of_day_machine``) on our own
products: servicing events, end-of-day runs (some days skipped, each day closed twice),
write-offs, recoveries and sales on a small book, checking after every step that the books
reconcile, that the off-balance and written-off registers and the allowance agree with each
loan's standing, and that no loan is closed beyond the last day run.

The memory book runs many examples; the SQLite book runs a few to prove the batch's stored path
keeps the same invariants (its own stories and the SIGKILL test cover the rest).
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from eod_kit import STORY_PRODUCT_TOML, cny
from hypothesis import settings

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvalidInput, InvariantViolation
from loancore.ledger import JournalEntry
from loancore.ledger.entries import Leg
from loancore.ledger.subjects import Side
from loancore.testing.machines import EndOfDayMachine, end_of_day_machine
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

TestEndOfDayMachine = end_of_day_machine((STORY_PRODUCT_TOML, CLINIC_PRODUCT_TOML)).TestCase
TestEndOfDayMachine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)


def test_the_machine_runs_on_a_sqlite_book(tmp_path: Path) -> None:
    files = itertools.count()
    machine = end_of_day_machine(
        (STORY_PRODUCT_TOML,),
        make_uow=lambda: SqlUnitOfWork(create_engine(tmp_path / f"book-{next(files)}.sqlite")),
        principals=(cny("2400.00"),),
        installments=6,
    )
    case = machine.TestCase
    case.settings = settings(max_examples=3, stateful_step_count=8, deadline=None)
    case("runTest").runTest()
    assert next(files) >= 3  # every example ran on its own database


def test_a_book_that_does_not_reconcile_is_caught() -> None:
    """The invariants can fail: a ledger entry outside the services breaks reconciliation."""
    machine = end_of_day_machine((STORY_PRODUCT_TOML,))()
    machine.book(0)
    stray = JournalEntry(
        entry_id="stray",
        idempotency_key="stray",
        accounting_date=date(2026, 1, 15),
        value_date=date(2026, 1, 15),
        legs=(
            Leg("1303.01", Side.DEBIT, cny("1.00"), {"loan": "L1"}),
            Leg("1002", Side.CREDIT, cny("1.00")),
        ),
        memo="posted around the services",
    )
    with machine.uow:
        machine.uow.ledger.post([stray])
        machine.uow.commit()
    with pytest.raises(InvariantViolation, match="reconciliation"):
        machine.books_reconcile()


def test_products_in_two_currencies_are_refused() -> None:
    usd = CLINIC_PRODUCT_TOML.replace('currency = "CNY"', 'currency = "USD"').replace(
        'product_id = "clinic-12"', 'product_id = "clinic-usd"'
    )
    with pytest.raises(InvalidInput, match="product_tomls"):
        end_of_day_machine((CLINIC_PRODUCT_TOML, usd))
    with pytest.raises(InvalidInput, match="principals"):
        end_of_day_machine((CLINIC_PRODUCT_TOML,), principals=(cny("-1.00"),))
    assert issubclass(end_of_day_machine(), EndOfDayMachine)


def test_a_book_refused_on_a_quota_line_a_sale_closed_is_not_a_loan() -> None:
    """Found by the machine: selling a loan closes the customer's quota line, so the next order
    is refused (QUOTA_LINE_CLOSED) and books nothing; the machine must not count it as a loan."""
    machine = end_of_day_machine((STORY_PRODUCT_TOML, CLINIC_PRODUCT_TOML))()
    machine.book(0)
    for skipped in (0, 60, 60):
        machine.close_day(skipped)
    machine.sell(0, 0)
    machine.book(0)
    assert machine.loans == ["L1"]
    machine.books_reconcile()
    machine.registers_and_allowances_agree_with_the_standings()
