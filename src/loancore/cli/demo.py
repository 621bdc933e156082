"""``loancore demo``: one installment loan through every part of loancore (``loancore.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loancore.cli.output import error_line

__all__ = ["demo"]

EXIT_MISSING_EXTRA = 1

# What the demo imports beyond the cli extra, and the extra that brings each.
_EXTRA_OF_MODULE = {
    "sqlalchemy": "sqlite",
    "holidays": "calendars",
    "beancount": "beancount",
}


def demo(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for books.sqlite and books.beancount (created; earlier books replaced).",
            file_okay=False,
            dir_okay=True,
        ),
    ] = Path("demo-output"),
) -> None:
    """Run the demo: quota, schedule and APR, ledger postings, trial balance, beancount export."""
    try:
        from loancore.demo import run
    except ModuleNotFoundError as error:
        root = (error.name or "").split(".")[0]
        if root not in _EXTRA_OF_MODULE:
            raise
        error_line(
            f"the demo needs the {_EXTRA_OF_MODULE[root]} extra ({root} is missing):"
            " pip install 'loancore[cli,sqlite,calendars,beancount]'"
        )
        raise typer.Exit(EXIT_MISSING_EXTRA) from None
    status = run(out)
    if status:
        raise typer.Exit(status)
