"""Unit of work costs: building one, and how long the ledger's writer lock is held inside one.

The use case measured is a draw: ``with uow:`` hold 1.00 CNY of quota on a sub-line, post the
loan's journal entry (two legs), commit. The ledger's writer lock is taken by the post (SQLite:
the database's write lock is already held since ``BEGIN IMMEDIATE``; PostgreSQL: the ledger's
advisory lock in shared mode, ledger schema 5) and released by the commit, so "ledger lock to commit" is timed
from just before ``uow.ledger.post`` to the return of ``uow.commit()``: the post's own work plus
the commit (on SQLite and a durable PostgreSQL, the commit's fsync).

    uow_build_cached_us                  SqlUnitOfWork(engine) after the first on that Engine
    uow_build_schema_checked_us          what checking the schemas per unit of work would cost
                                         (SqlLedgerStore(engine) + SqlQuotaStore(engine))
    uow_<db>_enter_exit_us               ``with uow: pass`` (median)
    uow_<db>_draw_us                     the whole draw, median
    uow_<db>_ledger_lock_to_commit_us    median; ``..._p99_us`` the 99th percentile
    uow_<db>_ledger_post_us              the post alone (lock, checks, booking), median: the rest
                                         of the ledger lock's time is the commit

``<db>`` is memory, sqlite (a file, synchronous=FULL) and postgres (when
LOANCORE_TEST_POSTGRES_URL is set; ``make bench`` starts a durable server). Run it alone with
``python bench/bench_uow.py``; no test asserts these figures.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.quota import SqlQuotaStore
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.money import Money
from loancore.quota import Grant, Hold

DAY = datetime.date(2026, 3, 2)
LATER = datetime.date(2027, 3, 1)
ONE = Money(Decimal("1.00"), "CNY")
LIMIT = Money(Decimal("1000000.00"), "CNY")
DRAWS = {"memory": 2_000, "sqlite": 300, "postgres": 300}
BUILDS = 300


def _set_up(uow: Any) -> None:
    with uow:
        uow.quota.apply(
            Grant(
                key="g-M",
                line_id="M",
                borrower_id="b1",
                limit=LIMIT,
                starts_on=DAY,
                expires_on=LATER,
            ),
            as_of=DAY,
        )
        uow.quota.apply(
            Grant(
                key="g-S",
                line_id="S",
                borrower_id="b1",
                limit=LIMIT,
                starts_on=DAY,
                expires_on=LATER,
                master_id="M",
            ),
            as_of=DAY,
        )
        uow.ledger.save_chart(default_chart())
        uow.commit()


def _entry(n: int) -> JournalEntry:
    dims = {"loan": f"L-{n}"}
    return JournalEntry(
        entry_id=f"E-{n}",
        idempotency_key=f"draw:{n}",
        accounting_date=DAY,
        legs=(Leg.debit("1303.01", ONE, dims), Leg.credit("2202", ONE, dims)),
    )


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def _p99_us(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1e6


def _draws(uow: Any, count: int) -> tuple[list[float], list[float], list[float]]:
    """(whole draw, ledger lock to commit, the post alone) in seconds, one per draw."""
    whole: list[float] = []
    locked: list[float] = []
    posting: list[float] = []
    clock = time.perf_counter
    for n in range(count):
        hold = Hold(key=f"h-{n}", line_id="S", amount=ONE, expires_on=DAY)
        entry = _entry(n)
        started = clock()
        with uow:
            uow.quota.apply(hold, as_of=DAY)
            ledger_started = clock()
            uow.ledger.post([entry])
            posted = clock()
            uow.commit()
            committed = clock()
        whole.append(clock() - started)
        locked.append(committed - ledger_started)
        posting.append(posted - ledger_started)
    return whole, locked, posting


def _enter_exit(uow: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        with uow:
            pass
        samples.append(time.perf_counter() - started)
    return samples


def _figures(name: str, uow: Any) -> dict[str, float]:
    _set_up(uow)
    whole, locked, posting = _draws(uow, DRAWS[name])
    return {
        f"uow_{name}_enter_exit_us": _median_us(_enter_exit(uow, BUILDS)),
        f"uow_{name}_draw_us": _median_us(whole),
        f"uow_{name}_ledger_lock_to_commit_us": _median_us(locked),
        f"uow_{name}_ledger_lock_to_commit_p99_us": _p99_us(locked),
        f"uow_{name}_ledger_post_us": _median_us(posting),
    }


def _timed(make: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        make()
        samples.append(time.perf_counter() - started)
    return samples


def _postgres_engine(url: str) -> sa.Engine:
    schema = f"bench_uow_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def run() -> dict[str, float]:
    figures = _figures("memory", MemoryUnitOfWork())
    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(Path(directory) / "uow.sqlite")
        figures.update(_figures("sqlite", SqlUnitOfWork(engine)))
        cached = _timed(lambda: SqlUnitOfWork(engine), BUILDS)
        checked = _timed(lambda: (SqlLedgerStore(engine), SqlQuotaStore(engine)), BUILDS)
        figures["uow_build_cached_us"] = _median_us(cached)
        figures["uow_build_schema_checked_us"] = _median_us(checked)
        engine.dispose()
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    if url:
        engine = _postgres_engine(url)
        figures.update(_figures("postgres", SqlUnitOfWork(engine)))
        engine.dispose()
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:48s} {value:>14,.1f}")
    sys.exit(0)
