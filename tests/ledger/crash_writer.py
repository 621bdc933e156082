"""Child process for test_sqlite_crash.py: post one big batch, and stop where told so it can be killed.

    python crash_writer.py DB_PATH TAG BATCH_SIZE MODE

MODE is where the process announces itself on stdout and then waits to be SIGKILLed:

- ``after-insert:TABLE``: after the batch's INSERT into TABLE (``ledger_entries``,
  ``ledger_legs``, ``ledger_daily_balances``) ran inside the open transaction;
- ``before-commit``: after every insert, just before COMMIT is sent to SQLite;
- ``timer``: prints ``START`` right before posting and never waits (the parent kills it at a
  moment of its choosing, possibly during the commit itself); prints ``DONE`` when the post
  returned.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import attrs
from sql_stores import loan_entry
from sqlalchemy import event

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore

WAIT_S = 120  # the parent kills us long before this


def announce_and_wait(marker: str) -> None:
    print(marker, flush=True)
    time.sleep(WAIT_S)


def main(db_path: str, tag: str, batch_size: int, mode: str) -> None:
    engine = create_engine(Path(db_path))
    store = SqlLedgerStore(engine)
    batch = [loan_entry(n, minor=1 + n, key=f"{tag}-k{n}") for n in range(batch_size)]
    batch = [attrs.evolve(e, entry_id=f"{tag}-e{n}") for n, e in enumerate(batch)]
    if mode.startswith("after-insert:"):
        prefix = f"INSERT INTO {mode.split(':', 1)[1]} "

        @event.listens_for(engine, "after_cursor_execute")
        def after(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            if statement.startswith(prefix):
                announce_and_wait(f"AFTER {prefix.strip()}")

    elif mode == "before-commit":

        @event.listens_for(engine, "commit")
        def before_commit(_connection) -> None:  # type: ignore[no-untyped-def]
            announce_and_wait("COMMITTING")

    print("START", flush=True)
    store.post(batch)
    print("DONE", flush=True)
    time.sleep(WAIT_S)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
