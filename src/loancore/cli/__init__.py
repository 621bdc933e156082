"""The ``loancore`` command line (shell: it may import typer and rich; the core never does).

``main`` is the console script's entry point. It imports the application lazily, so that a
``loancore`` installed without the ``cli`` extra says which extra to install instead of ending
in a ``ModuleNotFoundError`` traceback.

Layout: :mod:`loancore.cli.application` builds the typer application and turns every error into
one line; each command is a function in its own module (:mod:`loancore.cli.schedule`,
:mod:`loancore.cli.demo`), registered there by one line; :mod:`loancore.cli.options` converts
option text into loancore values with loancore's typed errors.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_CLI_MODULES = frozenset({"typer", "rich", "click"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``loancore`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        from loancore.cli.application import run
    except ModuleNotFoundError as error:
        if error.name not in _CLI_MODULES:
            raise
        print(
            f"loancore: error: the command line needs the cli extra ({error.name} is missing):"
            " pip install 'loancore[cli]'",
            file=sys.stderr,
        )
        return 2
    return run(argv)
