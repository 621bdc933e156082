"""``loancore fava``: the book opened in Fava, beancount's web interface.

The book's ledger is exported to a beancount file beside the database (or ``--out``) and Fava is
started on it in read-only mode through :func:`loancore.adapters.fava.serve_fava`; the command
prints the balance sheet's address, opens it in the default browser unless ``--no-browser``,
and keeps Fava running until Ctrl-C. Fava missing from this Python environment, a port taken or
a bad database: one error line and a non-zero exit.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from loancore.checks import require_text
from loancore.cli.book import database_errors, open_book
from loancore.cli.book_commands import DEFAULT_DB, Db
from loancore.cli.options import parse_int
from loancore.errors import InvalidInput

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "fava"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "5000"
PORT_MAX = 65535


def _port(text: str) -> int:
    port = parse_int("port", text)
    if not 1 <= port <= PORT_MAX:
        raise InvalidInput("port", text, f"expected a port from 1 to {PORT_MAX}")
    return port


def _host(text: str) -> str:
    host = require_text("host", text, length_max=255).strip()
    if not host or any(c.isspace() for c in host):
        raise InvalidInput("host", text, "expected a host name or an IP address")
    return host


def fava(
    db: Db = DEFAULT_DB,
    port: Annotated[str, typer.Option(help="The TCP port Fava listens on.")] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option(help="The address Fava listens on (loopback by default).")
    ] = DEFAULT_HOST,
    out: Annotated[
        Path | None, typer.Option(help="The beancount file written (default: beside the db).")
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address only; open no browser.")
    ] = False,
) -> None:
    """Open the book in Fava (read-only): export it to beancount, serve it until Ctrl-C."""
    from loancore.adapters.fava import serve_fava
    from loancore.adapters.sql.ledger import SqlLedgerStore

    chosen_port, chosen_host = _port(port), _host(host)
    lender = open_book(db)
    target = out if out is not None else Path(db).with_suffix(".beancount")

    def ready(url: str) -> None:
        typer.echo(f"Fava serves {target} at {url} (Ctrl-C stops it)")
        if not no_browser:
            webbrowser.open(url)

    try:
        with database_errors(db):
            status = serve_fava(
                SqlLedgerStore(lender.engine),
                target,
                host=chosen_host,
                port=chosen_port,
                on_ready=ready,
                title=f"loancore {Path(db).stem}",
            )
    finally:
        lender.close()
    if status:
        raise typer.Exit(status)
