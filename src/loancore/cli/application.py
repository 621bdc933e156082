"""The typer application: global options, the command registry, and one-line errors.

A command is a plain function in its own module, registered below with ``app.command``; it takes
its values as text (see :mod:`loancore.cli.options`) and raises loancore's typed errors. The
group class turns every failure into a single ``loancore: error: ...`` line on stderr and an exit
status, for the console script and for typer's ``CliRunner`` alike (both enter through the
group's ``main``):

- 2: a usage error (unknown or missing option) or bad input (:class:`~loancore.errors.InvalidInput`,
  which names the field and the value);
- 1: any other loancore error (no solution, a refusal) or an operating-system error (a folder that
  cannot be written);
- 130: interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from loancore import __version__
from loancore.cli import book_commands, demo, fava, schedule
from loancore.cli.output import PROG_NAME, error_line
from loancore.errors import InvalidInput, LoancoreError

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "app", "run"]

EXIT_ERROR = 1
EXIT_USAGE = 2


def _click_exception() -> type[Exception]:
    """Click's ``ClickException`` (typer vendors click in recent releases, re-exports it in older
    ones): found from ``typer.BadParameter``, which typer exports in both."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException":
            return cls
    raise ImportError("typer.BadParameter does not derive from a ClickException")


_CLICK_EXCEPTION = _click_exception()


def _status(exception: BaseException) -> int:
    """Report ``exception`` as one line and return the exit status (see the module docstring)."""
    if isinstance(exception, _CLICK_EXCEPTION):
        error_line(exception.format_message())  # type: ignore[attr-defined]
        code: int = exception.exit_code  # type: ignore[attr-defined]
        return code
    if isinstance(exception, InvalidInput):
        error_line(str(exception))
        return EXIT_USAGE
    if isinstance(exception, LoancoreError):
        error_line(str(exception))
        return EXIT_ERROR
    if isinstance(exception, OSError):
        name = exception.filename if exception.filename is not None else ""
        error_line(f"{exception.strerror or exception}{': ' if name else ''}{name}")
        return EXIT_ERROR
    if isinstance(exception, typer.Abort):
        error_line("aborted")
        return EXIT_ERROR
    raise exception


class LoancoreGroup(TyperGroup):
    """typer's group, with every error reported as one line (never a traceback or a box)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = 0
        except typer.Exit as stop:  # --version, --help, or a command's chosen status
            code = stop.exit_code
        except KeyboardInterrupt:
            code = 130
        except (_CLICK_EXCEPTION, LoancoreError, OSError, typer.Abort) as exception:
            code = _status(exception)
        if standalone_mode:
            sys.exit(code)
        return code


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG_NAME} {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    cls=LoancoreGroup,
    name=PROG_NAME,
    help="loancore: a lending core: calculators, a double-entry ledger, quota, servicing, settlement.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    context: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """loancore: exact loan calculators, a double-entry ledger and revolving quota."""
    if context.invoked_subcommand is None:  # bare `loancore`: the help, not an error
        typer.echo(context.get_help())


# The commands, one module each; a new command is a module and one line here.
app.command("schedule")(schedule.schedule)
app.command("demo")(demo.demo)
app.command("story")(demo.story)
app.command("report")(book_commands.report)
app.command("eod")(book_commands.eod)
app.command("repay")(book_commands.repay)
app.command("settle")(book_commands.settle)
app.command("export")(book_commands.export)
app.command("fava")(fava.fava)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the application on ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    status: int = command.main(args=args, prog_name=PROG_NAME, standalone_mode=False)
    return status
