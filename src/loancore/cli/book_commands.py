"""Commands over an existing book: ``report``, ``eod``, ``repay``, ``settle`` and ``export``.

Each opens the database given by ``--db`` (a SQLite file, which must exist, or a database
URL), runs one facade call or reads, and prints; a bad name, date or database is one error line.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from loancore.app import Lender
from loancore.app.gc_policy import batch_gc
from loancore.app.repayment_file import CHUNK_SIZE, parse_repayment_file, refused_csv
from loancore.cli import tables
from loancore.cli.book import (
    CURRENCY,
    database_errors,
    last_day,
    open_book,
    parse_workers,
    print_portfolio,
    use_workers,
)
from loancore.cli.exporting import export_checked
from loancore.cli.options import choices, parse_date, parse_int
from loancore.errors import InvalidInput
from loancore.reports import (
    aging,
    balance_sheet,
    classification,
    customer_bill,
    income_statement,
    month_ends,
    roll_rates,
    settlement_summary,
    vintage,
    written_off_register,
)

__all__ = ["ExportFormat", "ReportName", "eod", "export", "repay", "report", "settle"]

DEFAULT_DB = "demo-output/demo.sqlite"

Db = Annotated[str, typer.Option(help="The book: a SQLite file or a database URL.")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="The day (YYYY-MM-DD); default: the book's last day.")
]


class ReportName(str, enum.Enum):
    PORTFOLIO = "portfolio"
    BILL = "bill"
    TRIAL_BALANCE = "trial-balance"
    BALANCE_SHEET = "balance-sheet"
    INCOME = "income"
    AGING = "aging"
    CLASSIFICATION = "classification"
    VINTAGE = "vintage"
    ROLL_RATES = "roll-rates"
    SETTLEMENT = "settlement"
    WRITTEN_OFF = "written-off"


class ExportFormat(str, enum.Enum):
    BEANCOUNT = "beancount"


def _name(enum_type: type[enum.Enum], field: str, text: str) -> enum.Enum:
    try:
        return enum_type(text.strip().lower())
    except ValueError:
        raise InvalidInput(field, text, f"expected one of {choices(enum_type)}") from None


def _print_one(console: Console, name: ReportName, lender: Lender, as_of: datetime.date) -> None:
    chart = lender.chart()
    trial = lender.trial_balance(as_of)
    if name is ReportName.TRIAL_BALANCE:
        console.print(tables.trial_balance_table(trial, chart, CURRENCY))
        return
    if name is ReportName.BALANCE_SHEET:
        console.print(tables.balance_sheet_table(balance_sheet(trial, chart, CURRENCY)))
        return
    if name is ReportName.INCOME:
        statement = income_statement(trial, chart, CURRENCY)
        console.print(tables.income_statement_table(statement, f"to {as_of}"))
        return
    loans = [loan for loan in lender.loans() if loan.last_date <= as_of]
    first = min((loan.terms.start_date for loan in loans), default=as_of)
    if name is ReportName.AGING:
        console.print(tables.aging_table(aging(loans, as_of), CURRENCY, f"Aging on {as_of}"))
    elif name is ReportName.CLASSIFICATION:
        rows = classification(loans, as_of)
        console.print(tables.classification_table(rows, CURRENCY, f"Classification on {as_of}"))
    elif name is ReportName.VINTAGE:
        console.print(tables.vintage_table(vintage(loans, as_of), CURRENCY))
    elif name is ReportName.ROLL_RATES:
        console.print(tables.roll_rate_table(roll_rates(loans, month_ends(first, as_of))))
    elif name is ReportName.WRITTEN_OFF:
        register = written_off_register(loans, lender.written_off_memos())
        console.print(tables.written_off_table(register, CURRENCY))
    else:
        summary = settlement_summary(lender.settlement_batches(first, as_of))
        console.print(tables.settlement_table(summary, CURRENCY))


def _write_html(console: Console, lender: Lender, as_of: datetime.date, path: Path) -> None:
    try:
        from loancore.app.html_report import write_portfolio_html
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "matplotlib":
            raise
        raise InvalidInput(
            "html", str(path), "needs the reports extra: pip install 'loancore[reports]'"
        ) from None
    written = write_portfolio_html(lender, as_of, path)
    console.print(f"HTML report written to {written}")


def report(
    name: Annotated[str, typer.Argument(help=f"One of: {choices(ReportName)}.")],
    db: Db = DEFAULT_DB,
    as_of: AsOf = None,
    customer: Annotated[str | None, typer.Option(help="The customer of a bill.")] = None,
    html: Annotated[
        Path | None, typer.Option(help="portfolio: also write a one-page HTML report here.")
    ] = None,
) -> None:
    """Print a report of the book: portfolio (all of them), bill --customer ID, trial-balance,
    balance-sheet, income, aging, classification, vintage, roll-rates, settlement."""
    chosen = _name(ReportName, "name", name)
    assert isinstance(chosen, ReportName)
    if chosen is ReportName.BILL and not customer:
        raise InvalidInput("customer", customer, "a bill needs --customer ID")
    if html is not None and chosen is not ReportName.PORTFOLIO:
        raise InvalidInput("html", str(html), "only the portfolio report is written as HTML")
    day = None if as_of is None else parse_date("as_of", as_of)
    console = Console()
    lender = open_book(db)
    try:
        with database_errors(db):
            when = last_day(lender) if day is None else day
            if chosen is ReportName.PORTFOLIO:
                print_portfolio(console, lender, when)
                if html is not None:
                    _write_html(console, lender, when, html)
            elif chosen is ReportName.BILL:
                assert customer is not None
                bill = customer_bill(customer, lender.customer_loans(customer), when)
                for table in tables.bill_tables(bill):
                    console.print(table)
            else:
                _print_one(console, chosen, lender, when)
    finally:
        lender.close()


def eod(
    db: Db = DEFAULT_DB,
    date: Annotated[str, typer.Option(help="The day to close.")] = "",
    workers: Annotated[
        str,
        typer.Option(
            help="Worker processes that close the loans of a SQLite book side by side "
            "(0: this process)."
        ),
    ] = "0",
) -> None:
    """Close a day with the end-of-day batch: accrual, days past due, penalty, classification,
    provisions and the quota end of day (safe to run again)."""
    day = parse_date("date", date)
    count = parse_workers(workers, db)
    lender = open_book(db)
    try:
        with contextlib.ExitStack() as stack:
            use_workers(stack, lender, db, count)
            with database_errors(db), batch_gc():  # a batch: loancore.app.gc_policy
                closed = lender.close_day(day)
    finally:
        lender.close()
    buckets = ", ".join(f"{k} {v}" for k, v in sorted(closed.buckets.items()))
    typer.echo(
        f"closed {closed.as_of}: {closed.accrued} loans brought to the day "
        f"({closed.days_closed} loan-days), failed {dict(closed.skipped)}, "
        f"{closed.quota_changes} quota changes; buckets: {buckets or 'none'}"
    )


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a spreadsheet's byte-order mark dropped); OSError as it comes."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("file", str(path), f"not UTF-8 text ({error.reason})") from None


def repay(
    file: Annotated[Path, typer.Argument(help="The auto-debit result file (CSV).")],
    db: Db = DEFAULT_DB,
    chunk_size: Annotated[str, typer.Option("--chunk-size", help="Payments a unit of work.")] = str(
        CHUNK_SIZE
    ),
    refused: Annotated[
        Path | None, typer.Option(help="Write the refused payments here (CSV, code and detail).")
    ] = None,
    workers: Annotated[
        str,
        typer.Option(
            help="Worker processes that apply the payments of a SQLite book side by side, one "
            "stream of loans each (0: this process)."
        ),
    ] = "0",
) -> None:
    """Import a bank's auto-debit result file (代扣结果文件): the whole file checked first (a bad
    row applies nothing), then applied in chunks; a payment id booked before is replayed."""
    size = parse_int("chunk_size", chunk_size)
    count = parse_workers(workers, db)
    checked = parse_repayment_file(_read_text(file), currency=CURRENCY)
    lender = open_book(db)
    try:
        with contextlib.ExitStack() as stack:
            use_workers(stack, lender, db, count)
            with database_errors(db), batch_gc():  # a batch: loancore.app.gc_policy
                result = lender.import_repayments(checked, chunk_size=size)
    finally:
        lender.close()
    if refused is not None:
        refused.write_text(refused_csv(result), encoding="utf-8")
    typer.echo(f"repayment file {file}: {result.summary()}")


def settle(
    db: Db = DEFAULT_DB, date: Annotated[str, typer.Option(help="The run date.")] = ""
) -> None:
    """Run the merchants' settlement for a date (running it again returns the stored batch)."""
    day = parse_date("date", date)
    lender = open_book(db)
    try:
        with database_errors(db):
            result = lender.settle(day)
    finally:
        lender.close()
    paid = sum(i.amount.minor_units for i in result.batch.instructions)
    typer.echo(
        f"settlement {result.batch.batch_id}: {len(result.batch.lines)} merchant line(s), "
        f"{len(result.batch.instructions)} payout(s) of {tables.money_text(paid, CURRENCY)} "
        f"{CURRENCY}{' (replayed: already run)' if result.replayed else ''}"
    )


def export(
    format: Annotated[str, typer.Argument(help=f"One of: {choices(ExportFormat)}.")],
    db: Db = DEFAULT_DB,
    out: Annotated[
        Path | None, typer.Option(help="The file written (default: beside the db).")
    ] = None,
) -> None:
    """Export the book's ledger (beancount), and check it with beancount's own loader."""
    _name(ExportFormat, "format", format)
    open_book(db).close()  # a database loancore made, or one error line
    target = out if out is not None else Path(db).with_suffix(".beancount")
    with database_errors(db):
        check = export_checked(db, target)
    typer.echo(
        f"beancount export {check.written}: {check.errors} error(s) when beancount re-checks it"
    )
    for message in check.messages:
        typer.echo(f"  {message}")
    if check.errors:
        raise typer.Exit(1)
