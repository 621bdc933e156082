"""THE end of day on Dask distributed over a book on PostgreSQL: one worker, then two.

    eod_postgres_loans_per_s        LOANS active 12-installment loans, each closed through the
                                    day before, closed for one ordinary day (accrual,
                                    classification, provision: two entries a loan, as in
                                    bench_eod.py) by ``end_of_day_on_dask``: ``close_range`` on
                                    each range (chunks of CHUNK loans), then the quota batch on
                                    the driver; a LocalCluster of ONE worker process (one
                                    thread), the book on PostgreSQL
                                    (LOANCORE_TEST_POSTGRES_URL), best of ROUNDS
    eod_postgres_2_workers_ratio    the one-worker time / the two-worker time, the same day on
                                    a copy of the same book (goal >= 1.6 on 2 cores), best of
                                    ROUNDS each, the runs alternating
    eod_postgres_worker_cpu_share   during the two-worker run: the workers' CPU seconds / (2 x
                                    the wall time): 1.0 would mean both workers never waited
    eod_postgres_cores_busy_1_worker  CPU seconds of the worker(s) and of every PostgreSQL process
    eod_postgres_cores_busy_2_workers over the wall time (/proc): how many of the machine's cores
                                    the run kept busy (2.0: the machine is full)
    eod_postgres_machine_busy_cores_1_worker   the whole machine's busy cores during the
    eod_postgres_machine_busy_cores_2_workers  run (/proc/stat), this run's and everyone else's
    eod_postgres_lock_wait_share    during the two-worker run: the share of samples of the
                                    workers' PostgreSQL sessions waiting on a lock
                                    (pg_stat_activity, wait_event_type 'Lock')

The book is booked and its previous night closed (``close_business_day`` through START) once into
a template database; every run gets its own copy (``CREATE DATABASE ... TEMPLATE``), so both runs
start from the same book. The cluster start is not timed; the
partitioning (reading the ids) is. The driver process, the workers and PostgreSQL share the
machine's cores. Prints where the two-worker run's sessions waited. Run alone with
``python bench/bench_eod_dask.py`` under scripts/with-postgres; no test asserts these figures.
"""

from __future__ import annotations

import collections
import datetime
import functools
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import attrs
import sqlalchemy as sa
from book_kit import book_chunk, open_book
from distributed import Client, LocalCluster

from loancore.adapters.dask_batch import end_of_day_on_dask
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.services.end_of_day import close_business_day
from loancore.services.partition import close_range
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

LOANS = 20_000
CHUNK = 1_000
LINES = 400  # 50 loans of 3,000.00 on a 200,000.00 line
START = datetime.date(2026, 1, 15)
BUSINESS_DATE = START + datetime.timedelta(days=1)  # an ordinary day: every loan one day behind
ROUNDS = 2
RANGE = functools.partial(close_range, chunk_size=CHUNK)
SAMPLE_S = 0.02


def _set_up(uow: Any) -> None:
    open_book(uow, CLINIC_PRODUCT_TOML, LINES, START)


def _book_chunk(uow: Any, loan_ids: Sequence[str], first: int) -> None:
    """Set-up only: loans booked and disbursed in one unit of work (book_order's steps)."""
    book_chunk(uow, loan_ids, first=first, lines=LINES, start=START)


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")


def _create(url: str, template: str | None = None) -> str:
    name = f"bench_eod_{uuid.uuid4().hex[:12]}"
    admin = _admin(url)
    with admin.connect() as connection:
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return name


def _drop(url: str, name: str) -> None:
    admin = _admin(url)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _url(url: str, name: str) -> str:
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _book(url: str) -> str:
    name = _create(url)
    engine = create_engine(_url(url, name))
    uow = SqlUnitOfWork(engine)
    _set_up(uow)
    loan_ids = [f"L{n:06d}" for n in range(LOANS)]
    for first in range(0, LOANS, CHUNK):
        _book_chunk(uow, loan_ids[first : first + CHUNK], first)
    closed = close_business_day(uow, START, chunk_size=CHUNK)  # the night before
    assert closed.loans_closed == LOANS and not closed.failed, closed.failed[:3]
    engine.dispose()
    return name


class _Sampler:
    """pg_stat_activity of one database, sampled every SAMPLE_S seconds in a thread: how often
    the active sessions were running or waiting, and on what."""

    def __init__(self, url: str, database: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.database = database
        self.waits: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = sa.text(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'running') FROM pg_stat_activity"
            " WHERE datname = :db AND state = 'active' AND pid <> pg_backend_pid()"
        )
        with self.engine.connect() as connection:
            while not self.stop.is_set():
                rows = connection.execute(query, {"db": self.database}).scalars().all()
                connection.commit()
                self.samples += 1
                self.waits.update(rows)
                time.sleep(SAMPLE_S)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()


def _postgres_cpu_seconds() -> float:
    """CPU seconds (user + system) of every ``postgres`` process on this machine (/proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if name == "postgres":
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy_ticks() -> int:
    """Clock ticks every CPU of the machine spent busy (/proc/stat: all but idle and iowait);
    other sessions' processes on the same machine count too."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


@attrs.frozen
class _Day:
    seconds: float
    worker_cpu_s: float
    postgres_cpu_s: float
    machine_busy_s: float
    sampler: _Sampler


def _run_day(client: Client, url: str, template: str) -> _Day:
    """The day on a fresh copy of the book: wall seconds, the CPU seconds of the workers and of
    PostgreSQL, the wait sampler."""
    name = _create(url, template)
    try:
        cpu_before = sum(client.run(time.process_time).values())
        pg_before = _postgres_cpu_seconds()
        busy_before = _machine_busy_ticks()
        with _Sampler(url, name) as sampler:
            started = time.perf_counter()
            report = end_of_day_on_dask(client, _url(url, name), BUSINESS_DATE, function=RANGE)
            elapsed = time.perf_counter() - started
        pg = _postgres_cpu_seconds() - pg_before
        busy = (_machine_busy_ticks() - busy_before) / os.sysconf("SC_CLK_TCK")
        cpu = sum(client.run(time.process_time).values()) - cpu_before
        assert report.complete and report.quota is not None, report.failed
        assert report.loans_closed == LOANS and not report.refused, report.refused[:3]
        return _Day(elapsed, cpu, pg, busy, sampler)
    finally:
        _drop(url, name)


def _cluster(workers: int) -> tuple[LocalCluster, Client]:
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return cluster, Client(cluster)


def _best_of_rounds(url: str, template: str) -> tuple[_Day, _Day]:
    """The best of ROUNDS days on one worker and on two, the runs alternating (1, 2, 1, 2) so
    that other load on the machine falls on both alike."""
    clusters = {workers: _cluster(workers) for workers in (1, 2)}
    runs: dict[int, list[_Day]] = {1: [], 2: []}
    try:
        for _ in range(ROUNDS):
            for workers, (_cluster_, client) in clusters.items():
                runs[workers].append(_run_day(client, url, template))
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
    one, two = (min(runs[w], key=lambda day: day.seconds) for w in (1, 2))
    return one, two


def _print_day(label: str, day: _Day) -> None:
    waits = day.sampler.waits
    total = sum(waits.values()) or 1
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in waits.most_common(6))
    cores = (day.worker_cpu_s + day.postgres_cpu_s) / day.seconds
    print(
        f"   {label}: {day.seconds:.2f} s; CPU: workers {day.worker_cpu_s:.1f} s, PostgreSQL"
        f" {day.postgres_cpu_s:.1f} s = {cores:.2f} of {os.cpu_count()} cores busy with this run;"
        f" the machine: {day.machine_busy_s / day.seconds:.2f} cores busy (other sessions too)",
        flush=True,
    )
    print(f"   {label}: {day.sampler.samples} samples of the active sessions: {shares}", flush=True)


def run() -> dict[str, float]:
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    if not url:
        return {}
    template = _book(url)
    try:
        one, two = _best_of_rounds(url, template)
    finally:
        _drop(url, template)
    _print_day("1 worker", one)
    _print_day("2 workers", two)
    waits = two.sampler.waits
    lock = sum(v for k, v in waits.items() if k.startswith("Lock:"))
    return {
        "eod_postgres_loans_per_s": LOANS / one.seconds,
        "eod_postgres_2_workers_ratio": one.seconds / two.seconds,
        "eod_postgres_worker_cpu_share": two.worker_cpu_s / (2 * two.seconds),
        "eod_postgres_cores_busy_1_worker": (one.worker_cpu_s + one.postgres_cpu_s) / one.seconds,
        "eod_postgres_cores_busy_2_workers": (two.worker_cpu_s + two.postgres_cpu_s) / two.seconds,
        "eod_postgres_machine_busy_cores_1_worker": one.machine_busy_s / one.seconds,
        "eod_postgres_machine_busy_cores_2_workers": two.machine_busy_s / two.seconds,
        "eod_postgres_lock_wait_share": lock / (sum(waits.values()) or 1),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:48s} {value:>16,.3f}")
