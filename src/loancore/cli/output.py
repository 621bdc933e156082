"""How the command line writes: one-line errors on stderr."""

from __future__ import annotations

import typer

__all__ = ["PROG_NAME", "error_line"]

PROG_NAME = "loancore"


def error_line(message: str) -> None:
    """Write ``loancore: error: <message>`` as one line on stderr."""
    text = " ".join(str(message).split())  # a message never spans lines
    typer.echo(f"{PROG_NAME}: error: {text}", err=True)
