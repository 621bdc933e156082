"""``python -m loancore``: the same command line as the ``loancore`` console script."""

from __future__ import annotations

import sys

from loancore.cli import main

if __name__ == "__main__":
    sys.exit(main())
