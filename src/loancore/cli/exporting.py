"""The beancount export of a book, checked by beancount's own loader: ``loancore export
beancount`` runs it in the command's process, ``loancore demo`` in a second process while the
first prints the portfolio report (the two read the same committed SQLite file; the demo's wall
time loses the export's ~10 s on a machine with a second core).

:func:`export_checked` opens its own engine, so it can run in a fresh (``spawn``) process: it
takes and returns plain values only.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import attrs

__all__ = ["ExportCheck", "export_checked", "export_checked_aside"]

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


def export_checked_aside(db: str, target: Path) -> tuple[ProcessPoolExecutor, Future[ExportCheck]]:
    """:func:`export_checked` started in a second (spawned) process; the caller takes the
    result and shuts the executor down (``with executor:``). A failure there is raised again by
    ``future.result()``, as if it had run here."""
    executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    return executor, executor.submit(export_checked, db, target)
