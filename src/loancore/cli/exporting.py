"""The beancount export of a book, checked by beancount's own loader: what ``loancore export
beancount`` and ``loancore demo`` both run. :func:`export_checked` opens its own engine on the
book and returns plain values."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

__all__ = ["ExportCheck", "export_checked"]

MESSAGES_KEPT = 5
"""The loader's first messages an :class:`ExportCheck` keeps (the count covers them all)."""


@attrs.frozen
class ExportCheck:
    """The file written, how many errors beancount's loader found in it, and the first
    :data:`MESSAGES_KEPT` of their messages."""

    written: Path
    errors: int
    messages: tuple[str, ...]


def export_checked(db: str, target: Path) -> ExportCheck:
    """The ledger of the book at ``db`` (a SQLite path or database URL) written to ``target``
    as beancount and loaded back by beancount's loader, without its pickle cache: the file is
    new, so a cache beside it is always stale, and reading and writing one costs seconds."""
    from beancount import loader  # the export's peer: beancount re-checks what was written

    from loancore.adapters.beancount_export import write_beancount
    from loancore.adapters.sql import create_engine
    from loancore.adapters.sql.ledger import SqlLedgerStore

    engine = create_engine(db)
    try:
        written = write_beancount(SqlLedgerStore(engine), target)
    finally:
        engine.dispose()
    loader.initialize(use_cache=False)
    try:
        _entries, errors, _options = loader.load_file(str(written))
    finally:  # beancount's own default again (its module sets it so on import)
        loader.initialize(os.getenv("BEANCOUNT_DISABLE_LOAD_CACHE") is None)
    messages = tuple(str(getattr(e, "message", e)) for e in errors[:MESSAGES_KEPT])
    return ExportCheck(written, len(errors), messages)
