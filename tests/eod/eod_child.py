"""Run by test_eod_restart.py in a subprocess: ``eod_child.py DB setup|close``.

``setup`` books the loans into the SQLite file ``DB``; ``close`` closes the business day in
chunks of 4 loans, printing a line after every chunk (the parent SIGKILLs it on one of them).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1]))  # tests/: store_kit, which eod_kit uses

from eod_kit import book, set_up

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.services import ChunkProgress, close_business_day

LOANS = 40
BUSINESS_DATE = date(2026, 2, 25)


def main(path: str, step: str) -> None:
    uow = SqlUnitOfWork(create_engine(path))
    if step == "setup":
        set_up(uow)
        for n in range(LOANS):
            product = "story" if n % 2 else "clinic-12"
            book(uow, f"L{n:03d}", principal=f"{1000 + 10 * n}.00", product=product)
        return

    def progress(done: ChunkProgress) -> None:
        print(f"chunk {done.chunk} {done.loans_closed}", flush=True)

    report = close_business_day(uow, BUSINESS_DATE, chunk_size=4, progress=progress)
    print(f"done {report.loans_closed} {len(report.failed)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
