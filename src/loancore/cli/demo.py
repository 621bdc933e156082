"""``loancore demo`` (a living portfolio, :mod:`loancore.demo`) and ``loancore story`` (one loan
through every part of loancore, :mod:`loancore.app.story`)."""

from __future__ import annotations

import contextlib
import functools
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from loancore.adapters.process_batch import WORKERS_MAX, ProcessBatch
from loancore.app.gc_policy import batch_gc
from loancore.cli.book import CURRENCY, database_errors, parse_workers, print_portfolio
from loancore.cli.exporting import ExportCheck, export_checked
from loancore.cli.options import parse_int
from loancore.cli.output import error_line
from loancore.errors import InvalidInput

__all__ = ["demo", "story"]

EXIT_MISSING_EXTRA = 1

# What the demo imports beyond the cli extra, and the extra that brings each.
_EXTRA_OF_MODULE = {
    "sqlalchemy": "sqlite",
    "holidays": "calendars",
    "beancount": "beancount",
}


def _missing_extra(error: ModuleNotFoundError) -> None:
    root = (error.name or "").split(".")[0]
    if root not in _EXTRA_OF_MODULE:
        raise error
    error_line(
        f"the demo needs the {_EXTRA_OF_MODULE[root]} extra ({root} is missing):"
        " pip install 'loancore[cli,sqlite,calendars,beancount]'"
    )
    raise typer.Exit(EXIT_MISSING_EXTRA) from None


def _workers(text: str) -> int:
    """``--workers`` (:func:`~loancore.cli.book.parse_workers`); empty: one a core if there are
    two or more."""
    if not text:
        cores = os.cpu_count() or 1
        return min(cores, WORKERS_MAX) if cores > 1 else 0
    return parse_workers(text, "")


def _database_path(db: Path) -> Path:
    if db.is_dir():
        raise InvalidInput("db", str(db), "is a directory, expected a SQLite file path")
    if db.parent.exists() and not db.parent.is_dir():
        raise InvalidInput("db", str(db), f"{db.parent} is a file, not a folder")
    db.parent.mkdir(parents=True, exist_ok=True)
    return db


def _print_export(console: Console, check: ExportCheck) -> None:
    console.print(
        f"beancount export {check.written}: {check.errors} error(s) when beancount's loader "
        "re-checks it"
    )
    for message in check.messages:
        console.print(f"  {message}")


def demo(
    customers: Annotated[str, typer.Option(help="How many customers apply for credit.")] = "2000",
    merchants: Annotated[str, typer.Option(help="How many clinics sell on installments.")] = "50",
    months: Annotated[str, typer.Option(help="Months simulated from 2025-01-01 (2 to 20).")] = "18",
    seed: Annotated[
        str, typer.Option(help="The random seed: the same seed, the same book.")
    ] = "2025",
    close_every: Annotated[
        str,
        typer.Option(
            help="How often the end-of-day batch runs: day, week (Sundays) or month (ends)."
        ),
    ] = "week",
    db: Annotated[
        Path,
        typer.Option(help="The SQLite file to write (replaced); the beancount file beside it."),
    ] = Path("demo-output/demo.sqlite"),
    workers: Annotated[
        str,
        typer.Option(
            help="Worker processes that close the days side by side (0: this process; "
            "default: one a core when there are two or more)."
        ),
    ] = "",
) -> None:
    """Simulate a portfolio (applications, orders, repayments, refunds, defaults, settlement) on
    a SQLite file, then print its books and portfolio reports and export it to beancount."""
    try:
        from loancore.demo import DemoConfig, open_demo_engine, reopen_demo_engine, simulate
    except ModuleNotFoundError as error:
        _missing_extra(error)
    config = DemoConfig(
        customers=parse_int("customers", customers),
        merchants=parse_int("merchants", merchants),
        months=parse_int("months", months),
        seed=parse_int("seed", seed),
        close_every=close_every,
    )
    count = _workers(workers)
    path = _database_path(db)
    console = Console()
    started = time.perf_counter()
    with database_errors(path), batch_gc():  # a batch: loancore.app.gc_policy
        days = (config.end - config.start).days + 1
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} days"),
            TimeElapsedColumn(),
        )
        with contextlib.ExitStack() as stack:
            engine = open_demo_engine(path)
            processes = None
            if count:
                opener = functools.partial(reopen_demo_engine, path)
                processes = stack.enter_context(ProcessBatch(opener, workers=count))
            progress = stack.enter_context(Progress(*columns, console=console, transient=False))
            task = progress.add_task("simulating", total=days)
            lender, result = simulate(
                engine,
                config,
                progress=lambda day: progress.update(task, advance=1, description=f"{day}"),
                processes=processes,
            )
        simulated = time.perf_counter() - started
        console.print(
            f"{config.customers} customers, {config.merchants} clinics, {config.months} months to "
            f"{result.end}: applications {result.applications}; {result.orders} loans booked "
            f"({result.orders_refused} orders refused by the quota), {result.payments} payments, "
            f"{result.prepaid} paid off early, {result.refunded} refunds, "
            f"{result.written_off} written off ({result.recovered} recovered in part), "
            f"{result.sold} sold, "
            f"{result.settlement_runs} settlement runs; simulated in {simulated:.1f} s"
        )
        print_portfolio(console, lender, result.end)
        lender.close()
        _print_export(console, export_checked(str(path), path.with_suffix(".beancount")))
    console.print(f"database {path}; done in {time.perf_counter() - started:.1f} s ({CURRENCY})")


def story(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for books.sqlite and books.beancount (created; earlier books replaced).",
            file_okay=False,
            dir_okay=True,
        ),
    ] = Path("story-output"),
) -> None:
    """One installment loan through every part of loancore: quota, schedule and APR, ledger
    postings, trial balance, beancount export."""
    try:
        from loancore.app.story import run
    except ModuleNotFoundError as error:
        _missing_extra(error)
    status = run(out)
    if status:
        raise typer.Exit(status)
