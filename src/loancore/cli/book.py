"""Opening a book (a loancore database) for a command, and the portfolio report it prints.

A database that cannot be used is one error line (``--db``: no such file, not a loancore
database, not a database at all), never a traceback: SQLAlchemy's errors are turned into
:class:`~loancore.errors.InvalidInput` naming ``db``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from loancore.adapters.process_batch import WORKERS_MAX, ProcessBatch
from loancore.adapters.sql import create_engine, schema_version
from loancore.app import Lender
from loancore.cli import tables
from loancore.cli.options import parse_int
from loancore.errors import InvalidInput
from loancore.reports import (
    aging,
    balance_sheet,
    classification,
    income_statement,
    month_ends,
    roll_rates,
    settlement_summary,
    vintage,
    written_off_register,
)

__all__ = ["CURRENCY", "database_errors", "last_day", "open_book", "print_portfolio"]

CURRENCY = "CNY"


@contextlib.contextmanager
def database_errors(db: str | Path) -> Iterator[None]:
    """Turn a database failure inside the block into InvalidInput naming ``db``."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())[:200]
        raise InvalidInput("db", str(db), f"cannot be used: {reason}") from None


def open_book(db: str, *, must_exist: bool = True) -> Lender:
    """The lender on ``db`` (a SQLite path or a database URL). ``must_exist``: a SQLite file
    must be there already and hold loancore's tables (a report never creates a database)."""
    url = "://" in db
    if not url and Path(db).is_dir():
        raise InvalidInput("db", db, "is a directory, expected a SQLite file")
    if must_exist and not url and not Path(db).is_file():
        raise InvalidInput("db", db, "no such file (run `loancore demo` to make one)")
    with database_errors(db):
        engine = create_engine(db)
        if must_exist and schema_version(engine, "ledger") is None:
            engine.dispose()
            raise InvalidInput("db", db, "not a loancore database (no ledger tables)")
        return Lender.open(engine)


def last_day(lender: Lender) -> date:
    """The latest date the book reached (the last event of any loan)."""
    loans = lender.loans()
    if not loans:
        raise InvalidInput("as_of", None, "the book has no loans; give --as-of")
    return max(loan.last_date for loan in loans)


def print_portfolio(console: Console, lender: Lender, as_of: date) -> None:
    """Every report of the book on ``as_of``: trial balance, balance sheet, income statement,
    aging, classification, loans written off and sold, vintage, roll rates, merchant
    settlement."""
    chart = lender.chart()
    trial = lender.trial_balance(as_of)
    console.print(tables.trial_balance_table(trial, chart, CURRENCY))
    console.print(tables.balance_sheet_table(balance_sheet(trial, chart, CURRENCY)))
    statement = income_statement(trial, chart, CURRENCY)
    console.print(tables.income_statement_table(statement, f"to {as_of}"))
    loans = [loan for loan in lender.loans() if loan.last_date <= as_of]
    console.print(tables.aging_table(aging(loans, as_of), CURRENCY, f"Portfolio aging on {as_of}"))
    title = f"Five-level classification (五级分类) on {as_of}"
    console.print(tables.classification_table(classification(loans, as_of), CURRENCY, title))
    register = written_off_register(loans, lender.written_off_memos())
    console.print(tables.written_off_table(register, CURRENCY))
    console.print(tables.vintage_table(vintage(loans, as_of), CURRENCY))
    if loans:
        first = min(loan.terms.start_date for loan in loans)
        console.print(tables.roll_rate_table(roll_rates(loans, month_ends(first, as_of))))
        batches = lender.settlement_batches(first, as_of)
        console.print(tables.settlement_table(settlement_summary(batches), CURRENCY))


def parse_workers(workers: str, db: str) -> int:
    """``--workers``: an int from 0 to WORKERS_MAX (0: none); more than 0 on a SQLite file only.
    Checked before the book is opened."""
    count = parse_int("workers", workers)
    if not 0 <= count <= WORKERS_MAX:
        raise InvalidInput("workers", workers, f"expected 0 to {WORKERS_MAX}")
    if count and "://" in db:
        raise InvalidInput("workers", workers, "worker processes run on SQLite files only")
    return count


def use_workers(stack: contextlib.ExitStack, lender: Lender, db: str, count: int) -> None:
    """``count`` worker processes (0: none) on the SQLite file ``db`` for the lender's batches
    (:class:`~loancore.adapters.process_batch.ProcessBatch`), closed with ``stack``."""
    if count:
        opener = functools.partial(create_engine, db)
        lender.processes = stack.enter_context(ProcessBatch(opener, workers=count))
