"""Quota hold-and-capture throughput on SQLite and PostgreSQL, against the bare driver.

One pair is a Hold on a sub-line (so the master moves too) and its full Capture, each a command
built, checked against the master binding, journalled and applied with its idempotency key, each
its own durable transaction (SQLite: WAL, synchronous=FULL; PostgreSQL: `make bench` starts the
server with LOANCORE_PG_DURABLE=1, fsync and synchronous_commit on). Command construction is
inside the timed loop: that is what a caller pays.

The bare driver (plain ``sqlite3`` / ``psycopg``, no loancore, no SQLAlchemy) does the same reads
and writes per operation in its own transaction: read (on PostgreSQL lock, master first) the line
rows (Capture: the hold row first), look the idempotency key up, insert the operation row,
update both balances, insert or update the hold row, insert the journal row, commit. Both run in
the same process, alternately, best of ``ROUNDS`` (the timeit convention), so the ratio compares
like with like on a shared machine.

    quota_sqlite_hold_capture_pairs_per_s     loancore on a SQLite file, one transaction per op
    quota_sqlite_bare_pairs_per_s             plain sqlite3, the same reads and writes
    quota_sqlite_vs_bare_ratio                loancore time / bare time per pair (goal <= 2.0)
    quota_sqlite_batched_pairs_per_s          1,000 pairs inside one application transaction
                                              (store.using(connection)): no fsync, the code's cost
    quota_sqlite_restores_one_per_s           principal restores (RestoreRepaid) on 400 lines, 1,000
                                              an application transaction, ``apply`` each
    quota_sqlite_restores_many_per_s          the same restores, ``apply_many`` per 1,000
    quota_sqlite_many_vs_one_ratio            apply_many time / apply time (same rounds)
    quota_postgres_hold_capture_pairs_per_s   the same on PostgreSQL (LOANCORE_TEST_POSTGRES_URL)
    quota_postgres_bare_pairs_per_s           plain psycopg, the same reads, locks and writes
    quota_postgres_vs_bare_ratio              loancore time / bare time per pair (goal <= 2.0)
    quota_postgres_one_client_pairs_per_s     one client, in the rounds of the two below
    quota_postgres_concurrent_pairs_per_s     8 client threads, each on its own lines, together
    quota_postgres_concurrent_vs_one_ratio    that / one client on the same engine (goal >= 3)
    quota_postgres_bare_concurrent_pairs_per_s  8 bare psycopg clients the same way
    quota_postgres_concurrent_vs_bare_ratio   loancore time / bare time, 8 clients each
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from loancore.money import Money
from loancore.quota import Capture, Draw, Grant, Hold, RepaymentParts, RestoreRepaid

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
AMOUNT = Money(Decimal("12.34"), "CNY")
RESTORE_EVERY = 1_000
ROUNDS = 9  # alternate rounds of loancore and the bare driver
PAIRS = 60  # per round and side: short, so both sides of a round see the same machine
THREADS = 8

RETIRED = ("quota_hold_capture_pairs_per_s", "quota_hold_capture_cpu_pairs_per_s")
"""Figures this bench no longer writes (the memory store's, whose fast path is gone: speed is
judged on the SQL stores); bench/run.py drops them from results.json."""


def _prepare(store: Any, suffix: str = "") -> None:
    """Master ``M{suffix}`` and its sub-line ``S{suffix}`` of borrower ``b{suffix}``."""
    limit = Money(Decimal("100000.00"), "CNY")
    master = Grant(
        key=f"g-M{suffix}", line_id=f"M{suffix}", borrower_id=f"b{suffix}", limit=limit,
        starts_on=DAY, expires_on=LATER,
    )  # fmt: skip
    store.apply(master, as_of=DAY)
    sub_line = Grant(
        key=f"g-S{suffix}", line_id=f"S{suffix}", borrower_id=f"b{suffix}", limit=limit,
        starts_on=DAY, expires_on=LATER, master_id=f"M{suffix}",
    )  # fmt: skip
    store.apply(sub_line, as_of=DAY)


def _pairs(store: Any, pairs: int, prefix: str, suffix: str = "") -> float:
    """Seconds for ``pairs`` hold-and-capture pairs on ``S{suffix}``; every key starts with
    ``prefix``, so two runs on one store never replay each other's operations. Every
    RESTORE_EVERY pairs a principal repayment restores the quota, as a running book would."""
    restore = RepaymentParts(AMOUNT * RESTORE_EVERY)
    apply, line_id = store.apply, f"S{suffix}"
    started = time.perf_counter()
    for index in range(pairs):
        key = f"{prefix}h{index}"
        apply(Hold(key=key, line_id=line_id, amount=AMOUNT, expires_on=LATER), as_of=DAY)
        apply(Capture(key=f"{prefix}c{index}", hold_id=key), as_of=DAY)
        if index % RESTORE_EVERY == RESTORE_EVERY - 1:
            repaid = RestoreRepaid(key=f"{prefix}r{index}", line_id=line_id, repaid=restore)
            apply(repaid, as_of=DAY)
    elapsed = time.perf_counter() - started
    if store.balance(f"M{suffix}").held_minor != 0:
        raise RuntimeError("benchmark left holds open")
    return elapsed


# -- the bare drivers ------------------------------------------------------------------------------


class _Bare:
    """The reads and writes of one hold and one capture, each its own transaction, on a DB-API
    connection; ``sql`` maps a statement name to its text in the driver's parameter style."""

    def __init__(self, connection: Any, sql: dict[str, str], begin: str | None) -> None:
        self.connection, self.sql, self.begin = connection, sql, begin
        # SQLite keeps dates as ISO text (what SQLAlchemy's SQLite DATE stores); psycopg adapts.
        self.day: Callable[[datetime.date], Any] = (
            datetime.date.isoformat if begin else lambda day: day
        )

    def _lines(self, cursor: Any, line_id: str) -> tuple[Any, Any]:
        cursor.execute(self.sql["master_id"], (line_id,))
        (master_id,) = cursor.fetchone()
        cursor.execute(self.sql["line"], (master_id,))
        master = cursor.fetchone()
        cursor.execute(self.sql["line"], (line_id,))
        return master, cursor.fetchone()

    def _write(self, cursor: Any, key: str, master: Any, line: Any, used: int, held: int) -> None:
        cursor.execute(self.sql["operation"], (key,))
        if cursor.fetchone() is not None:
            raise RuntimeError("bare benchmark replayed a key")
        cursor.execute(self.sql["insert_operation"], (key, "{}", 0))
        cursor.executemany(
            self.sql["balance"],
            [(row[1] + used, row[2] + held, row[3], row[0]) for row in (master, line)],
        )

    def hold(self, key: str, line_id: str, amount: int, expires_on: datetime.date) -> None:
        cursor = self.connection.cursor()
        if self.begin:
            cursor.execute(self.begin)
        master, line = self._lines(cursor, line_id)
        self._write(cursor, key, master, line, 0, amount)
        expires = self.day(expires_on)
        cursor.execute(self.sql["insert_hold"], (key, line_id, "CNY", amount, expires, 1, 0))
        day = self.day(DAY)
        row = (key, 0, 3, day, "b", line_id, master[0], "CNY", amount, 0, key, None, expires, "")
        cursor.execute(self.sql["insert_event"], row)
        self.connection.commit()

    def capture(self, key: str, hold_id: str) -> None:
        cursor = self.connection.cursor()
        if self.begin:
            cursor.execute(self.begin)
        cursor.execute(self.sql["hold"], (hold_id,))
        line_id, amount = cursor.fetchone()
        master, line = self._lines(cursor, line_id)
        self._write(cursor, key, master, line, amount, -amount)
        cursor.execute(self.sql["update_hold"], (2, amount, hold_id))
        day = self.day(DAY)
        row = (key, 0, 4, day, "b", line_id, master[0], "CNY", amount, 0, hold_id, None, None, "")
        cursor.execute(self.sql["insert_event"], row)
        self.connection.commit()


_SQL = {
    "master_id": "SELECT master_id FROM quota_lines WHERE line_id = ?",
    "line": "SELECT line_id, used_minor, held_minor, frozen_minor, limit_permanent_minor, status,"
    " frozen_whole, starts_on, expires_on FROM quota_lines WHERE line_id = ?",
    "operation": "SELECT key, command, code FROM quota_operations WHERE key = ?",
    "insert_operation": "INSERT INTO quota_operations (key, command, code) VALUES (?, ?, ?)",
    "balance": "UPDATE quota_lines SET used_minor = ?, held_minor = ?, frozen_minor = ?"
    " WHERE line_id = ?",
    "insert_hold": "INSERT INTO quota_holds (hold_id, line_id, currency, amount_minor,"
    " expires_on, status, captured_minor) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "hold": "SELECT line_id, amount_minor FROM quota_holds WHERE hold_id = ?",
    "update_hold": "UPDATE quota_holds SET status = ?, captured_minor = ? WHERE hold_id = ?",
    "insert_event": "INSERT INTO quota_events (key, seq, kind, as_of, borrower_id, line_id,"
    " master_id, currency, amount_minor, released_minor, ref_id, starts_on, ends_on, product)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}
_SQL_POSTGRES = {name: text.replace("?", "%s") for name, text in _SQL.items()}
_SQL_POSTGRES["line"] += " FOR UPDATE"
_SQL_POSTGRES["hold"] += " FOR UPDATE"


def _bare_pairs(bare: _Bare, pairs: int, prefix: str, suffix: str = "") -> float:
    started = time.perf_counter()
    for index in range(pairs):
        key = f"{prefix}h{index}"
        bare.hold(key, f"S{suffix}", AMOUNT.minor_units, LATER)
        bare.capture(f"{prefix}c{index}", key)
    return time.perf_counter() - started


@contextmanager
def _bare_sqlite(path: Path) -> Iterator[_Bare]:
    """sqlite3 with loancore's pragmas (WAL, synchronous=FULL, foreign keys) on ``path``."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
        connection.execute(f"PRAGMA {pragma}")
    sql = dict(_SQL)
    try:
        # isolation_level=None: the driver sends no BEGIN of its own; commit() ends ours.
        yield _Bare(_Autocommit(connection), sql, "BEGIN IMMEDIATE")
    finally:
        connection.close()


class _Autocommit:
    """A sqlite3 connection in autocommit mode whose commit() sends COMMIT."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def cursor(self) -> sqlite3.Cursor:
        return self._connection.cursor()

    def commit(self) -> None:
        self._connection.execute("COMMIT")


# -- the runs ------------------------------------------------------------------------------------


def _sqlite(directory: Path, pairs: int) -> dict[str, float]:
    from loancore.adapters.sql import create_engine
    from loancore.adapters.sql.quota import SqlQuotaStore

    ours_path, bare_path = directory / "quota.sqlite", directory / "bare.sqlite"
    engines = [create_engine(ours_path), create_engine(bare_path)]
    try:
        store = SqlQuotaStore(engines[0])
        _prepare(store)
        _prepare(SqlQuotaStore(engines[1]))  # the same schema and lines for the bare driver
        engines[1].dispose()
        with _bare_sqlite(bare_path) as bare:
            ours, theirs, ratio = _alternate(
                lambda r: _pairs(store, pairs, f"r{r}-"),
                lambda r: _bare_pairs(bare, pairs, f"r{r}-"),
            )
    finally:
        for engine in engines:
            engine.dispose()
    return {
        "quota_sqlite_hold_capture_pairs_per_s": pairs / ours,
        "quota_sqlite_bare_pairs_per_s": pairs / theirs,
        "quota_sqlite_vs_bare_ratio": ratio,
    }


def _alternate(
    ours: Callable[[int], float], theirs: Callable[[int], float]
) -> tuple[float, float, float]:
    """ROUNDS short rounds, each timing ``ours`` then ``theirs`` (after one warm-up round): the
    best time of each, and the median of the rounds' ratios ours / theirs. On a shared machine
    the disk's and the cores' speed drift over seconds; the two sides of a round see the same."""
    ours(-1), theirs(-1)
    times = [(ours(round_), theirs(round_)) for round_ in range(ROUNDS)]
    ratio = statistics.median(mine / bare for mine, bare in times)
    return min(t[0] for t in times), min(t[1] for t in times), ratio


def _sql_batched(path: Path, pairs: int) -> float:
    """All pairs inside one application transaction: the store's own cost without fsyncs."""
    from loancore.adapters.sql import create_engine
    from loancore.adapters.sql.quota import SqlQuotaStore

    engine = create_engine(path)
    try:
        store = SqlQuotaStore(engine)
        _prepare(store)
        best = float("inf")
        with engine.connect() as connection:
            mine = store.using(connection)
            _pairs(mine, 100, "warm-")
            for round_ in range(ROUNDS):
                best = min(best, _pairs(mine, pairs, f"r{round_}-"))
            connection.commit()
        return pairs / best
    finally:
        engine.dispose()


RESTORE_LINES = 400
RESTORES = 10_000


def _restores(directory: Path) -> dict[str, float]:
    """Restores as a repayment file sends them (servicing's ``_persist_effects``): ``apply``
    one by one against ``apply_many`` per unit of work, alternating rounds on fresh stores."""
    from loancore.adapters.sql import create_engine
    from loancore.adapters.sql.quota import SqlQuotaStore

    parts = RepaymentParts(Money(Decimal("10.00"), "CNY"))
    commands = [
        RestoreRepaid(key=f"r{n}", line_id=f"M{n % RESTORE_LINES}", repaid=parts)
        for n in range(RESTORES)
    ]

    def timed(round_: int, many: bool) -> float:
        engine = create_engine(directory / f"restores-{round_}-{many}.sqlite")
        try:
            store = SqlQuotaStore(engine)
            with engine.begin() as connection:
                mine = store.using(connection)
                for n in range(RESTORE_LINES):
                    _prepare(mine, str(n))
                    used = Money(Decimal("5000.00"), "CNY")
                    mine.apply(Draw(key=f"d{n}", line_id=f"M{n}", amount=used), as_of=DAY)
            started = time.perf_counter()
            for first in range(0, RESTORES, 1_000):
                with engine.begin() as connection:
                    mine = store.using(connection)
                    chunk = commands[first : first + 1_000]
                    if many:
                        mine.apply_many(chunk, as_of=DAY)
                    else:
                        for command in chunk:
                            mine.apply(command, as_of=DAY)
            return time.perf_counter() - started
        finally:
            engine.dispose()

    one, many, ratio = _alternate(lambda r: timed(r, False), lambda r: timed(r, True))
    return {
        "quota_sqlite_restores_one_per_s": RESTORES / one,
        "quota_sqlite_restores_many_per_s": RESTORES / many,
        "quota_sqlite_many_vs_one_ratio": 1 / ratio,
    }


def _postgres(url: str, pairs: int) -> dict[str, float]:
    import psycopg
    import sqlalchemy as sa

    from loancore.adapters.sql import create_engine
    from loancore.adapters.sql.quota import SqlQuotaStore

    schemas = [f"bench_quota_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engines = [
        create_engine(url, connect_args={"options": f"-csearch_path={s}"}, pool_size=THREADS + 2)
        for s in schemas
    ]
    try:
        store, bare_store = SqlQuotaStore(engines[0]), SqlQuotaStore(engines[1])
        for suffix in ("", *(str(i) for i in range(THREADS))):
            _prepare(store, suffix)
            _prepare(bare_store, suffix)
        engines[1].dispose()
        dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, options=f"-csearch_path={schemas[1]}") as raw:
            bare = _Bare(raw, _SQL_POSTGRES, None)
            ours, theirs, ratio = _alternate(
                lambda r: _pairs(store, pairs, f"r{r}-"),
                lambda r: _bare_pairs(bare, pairs, f"r{r}-"),
            )
        figures = {
            "quota_postgres_hold_capture_pairs_per_s": pairs / ours,
            "quota_postgres_bare_pairs_per_s": pairs / theirs,
            "quota_postgres_vs_bare_ratio": ratio,
        }
        connect = lambda: psycopg.connect(dsn, options=f"-csearch_path={schemas[1]}")
        figures.update(_concurrent(store, connect, pairs))
        return figures
    finally:
        for engine in engines:
            engine.dispose()
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _concurrent(store: Any, connect: Callable[[], Any], pairs: int) -> dict[str, float]:
    """THREADS clients at once, each on its own lines (``M{i}``/``S{i}``) and ``pairs`` pairs,
    against one client alone, and THREADS bare psycopg clients the same way, alternately: the
    best rate of each, and the medians of the rounds' ratios."""
    connections = [connect() for _ in range(THREADS)]
    bares = [_Bare(c, _SQL_POSTGRES, None) for c in connections]
    rounds = []
    try:
        for round_ in range(ROUNDS // 3):
            one = pairs / _pairs(store, pairs, f"one{round_}-", "0")
            ours = _together(
                lambda i, r=round_: _pairs(store, pairs, f"many{r}-{i}-", str(i)), pairs
            )
            theirs = _together(
                lambda i, r=round_: _bare_pairs(bares[i], pairs, f"many{r}-{i}-", str(i)), pairs
            )
            rounds.append((one, ours, theirs))
    finally:
        for connection in connections:
            connection.close()
    return {
        "quota_postgres_one_client_pairs_per_s": max(r[0] for r in rounds),
        "quota_postgres_concurrent_pairs_per_s": max(r[1] for r in rounds),
        "quota_postgres_bare_concurrent_pairs_per_s": max(r[2] for r in rounds),
        "quota_postgres_concurrent_vs_one_ratio": statistics.median(m / o for o, m, _b in rounds),
        "quota_postgres_concurrent_vs_bare_ratio": statistics.median(b / m for _o, m, b in rounds),
    }


def _together(client: Callable[[int], object], pairs: int) -> float:
    """Pairs per second of THREADS threads started together, thread ``i`` running client(i)."""
    barrier = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            client(index)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return THREADS * pairs / elapsed


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        figures.update(_sqlite(Path(directory), PAIRS))
        figures["quota_sqlite_batched_pairs_per_s"] = _sql_batched(
            Path(directory) / "quota-batched.sqlite", 1_000
        )
        figures.update(_restores(Path(directory)))
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    if url:
        figures.update(_postgres(url, PAIRS))
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:48s} {value:>16,.2f}")
