"""Concurrent ledger writers on PostgreSQL: 4 writers against 1, and what the machine allows.

Each writer posts repayments on loans of its own, ``ENTRIES_PER_POST`` entries a post (one
transaction, durable commit: `make bench` starts the server with LOANCORE_PG_DURABLE=1). Every
repayment debits the bank subject 1002 on the same day: the hot account schema 4 queued on. Each
side runs one writer alone, then ``WRITERS`` writers together (threads released by a barrier,
each on its own pooled connection), alternately, ``ROUNDS`` rounds; a figure is the median of the
rounds.

The ceiling is bare psycopg doing the same writes the same way (no loancore, no SQLAlchemy, rows
built before the clock): COPY of the entries and legs, the daily and currency totals upserted
into the writer's own slot, commit. On this 2-core machine shared with other jobs, client and
server processes compete for the same two cores, so neither side can scale by 4: what 4 bare
writers reach over 1 is what concurrency can buy here at all.

Controls and an alternative, measured in the same rounds:

- loancore's post inside a transaction that first takes schema 4's writer lock (``SELECT ...
  FROM ledger_state FOR UPDATE``): the same code, serialized as it used to be;
- bare writers all adding to slot 0 of the totals (one row per subject and day, schema 4's
  layout): the hot row alone, without any lock of loancore's;
- loancore's post inside a transaction that first takes ``FOR SHARE`` on the state row: the
  row-lock way writers could exclude a close, instead of the shared advisory lock.

    ledger_postgres_one_writer_entries_per_s           loancore, one writer
    ledger_postgres_concurrent_entries_per_s           loancore, 4 writers together
    ledger_postgres_concurrent_vs_one_ratio            that / one writer (same rounds)
    ledger_postgres_bare_one_writer_entries_per_s      bare psycopg, one writer
    ledger_postgres_bare_concurrent_entries_per_s      bare psycopg, 4 writers, own slots
    ledger_postgres_bare_concurrent_vs_one_ratio       the ceiling on this machine
    ledger_postgres_concurrent_vs_bare_ratio           bare 4-writer rate / loancore's
    ledger_postgres_concurrent_share_of_ceiling_ratio  loancore's 4-vs-1 over bare's, per round:
                                                       1.0 = scales as far as the machine lets
    ledger_postgres_schema4_lock_concurrent_vs_one_ratio   control: the old writer lock
    ledger_postgres_bare_hot_row_concurrent_vs_one_ratio   control: one total row, bare
    ledger_postgres_for_share_concurrent_vs_one_ratio  alternative: FOR SHARE on the state row
    ledger_postgres_wal_bytes_per_entry                WAL written per entry, one writer
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.ledger import Chart, JournalEntry, Leg, Subject
from loancore.money import Money

WRITERS = 4
ENTRIES_PER_POST = 10
POSTS = 40  # per writer and run
ROUNDS = 5
DAY = date(2026, 3, 2)


def chart() -> Chart:
    return Chart(
        [
            Subject("1002", "银行存款", "Deposits with banks", "asset"),
            Subject("1303", "贷款", "Loans", "asset"),
            Subject("1303.01", "本金", "Principal", "asset", parent_code="1303"),
        ]
    )


def posts(tag: str, writer: int) -> list[list[JournalEntry]]:
    """Writer ``writer``'s posts: repayments of its own loans, Dr 1002 / Cr 1303.01 [loan]."""
    out = []
    for p in range(POSTS):
        batch = []
        for e in range(ENTRIES_PER_POST):
            n = (p * ENTRIES_PER_POST) + e
            amount = Money.from_minor(100 + n, "CNY")
            loan = f"L{writer}-{n}"
            batch.append(
                JournalEntry(
                    entry_id=f"{tag}-{writer}-{n}",
                    idempotency_key=f"{tag}-{writer}-{n}",
                    accounting_date=DAY,
                    legs=(Leg.debit("1002", amount), Leg.credit("1303.01", amount, {"loan": loan})),
                )
            )
        out.append(batch)
    return out


def together(clients: list[Callable[[], object]]) -> float:
    """Seconds for ``clients`` run on threads released together."""
    barrier = threading.Barrier(len(clients) + 1)
    errors: list[BaseException] = []

    def run(client: Callable[[], object]) -> None:
        barrier.wait()
        try:
            client()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


# -- loancore -----------------------------------------------------------------------------------


def store_client(store: SqlLedgerStore, work: list[list[JournalEntry]]) -> Callable[[], None]:
    def client() -> None:
        for batch in work:
            store.post(batch)

    return client


def locking_client(
    store: SqlLedgerStore, work: list[list[JournalEntry]], mode: str
) -> Callable[[], None]:
    """Posts inside a transaction that first locks the ``ledger_state`` row in ``mode``: ``FOR
    UPDATE`` is how schema 4 serialized writers; ``FOR SHARE`` is the row-lock alternative to
    the shared advisory lock (each sharer marks the row: a MultiXact when several hold it)."""
    engine = store.bind
    assert isinstance(engine, sa.Engine)

    def client() -> None:
        for batch in work:
            with engine.connect() as connection:
                connection.exec_driver_sql(f"SELECT 1 FROM ledger_state WHERE id = 1 {mode}")
                store.using(connection).post(batch)
                connection.commit()

    return client


# -- bare psycopg -------------------------------------------------------------------------------


class BareWriter:
    """One psycopg connection writing prepared rows: COPY entries and legs, upsert the daily and
    currency totals into ``slot``, commit."""

    def __init__(self, dsn: str, schema: str, slot: int) -> None:
        import psycopg

        self.connection = psycopg.connect(dsn, options=f"-csearch_path={schema}")
        self.slot = slot

    def prepare(self, batch: list[JournalEntry], first_seq: int) -> dict[str, Any]:
        entries, legs = [], []
        daily: dict[tuple[str, str], list[int]] = {}
        for seq, entry in enumerate(batch, start=first_seq):
            entries.append(f"{seq}\t{entry.entry_id}\t{entry.idempotency_key}\t{DAY}\t{DAY}\t\n")
            for leg_no, leg in enumerate(entry.legs):
                minor = abs(leg.signed_minor)
                loan = dict(leg.dimensions).get("loan", "")
                side = leg.side.value
                legs.append(
                    f"{seq}\t{leg_no}\t{leg.subject_code}\t{side}\t{minor}\tCNY\t{DAY}"
                    f"\t\t{loan}\t\t\t\n"
                )
                daily.setdefault((leg.subject_code, side), [0, 0])[side == "credit"] += minor
        codes = sorted({code for code, _ in daily})
        debits = [sum(daily.get((c, "debit"), [0, 0])) for c in codes]
        credits = [sum(daily.get((c, "credit"), [0, 0])) for c in codes]
        return {
            "entries": "".join(entries),
            "legs": "".join(legs),
            "daily": (codes, debits, credits),
            "total": sum(debits),
        }

    def write(self, prepared: dict[str, Any]) -> None:
        codes, debits, credits = prepared["daily"]
        with self.connection.transaction(), self.connection.cursor() as cursor:
            with cursor.copy(
                "COPY ledger_entries (seq, entry_id, idempotency_key, accounting_date,"
                " value_date, memo) FROM STDIN"
            ) as copy:
                copy.write(prepared["entries"])
            with cursor.copy("COPY ledger_legs FROM STDIN") as copy:
                copy.write(prepared["legs"])
            cursor.execute(
                "INSERT INTO ledger_daily_balances (subject_code, currency, day, slot,"
                " debit_minor, credit_minor) SELECT c, 'CNY', %s, %s, d, k"
                " FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS t(c, d, k)"
                " ON CONFLICT (subject_code, currency, day, slot) DO UPDATE SET"
                " debit_minor = ledger_daily_balances.debit_minor + excluded.debit_minor,"
                " credit_minor = ledger_daily_balances.credit_minor + excluded.credit_minor",
                (DAY, self.slot, codes, debits, credits),
            )
            cursor.execute(
                "INSERT INTO ledger_currency_totals (book, currency, slot, total_minor)"
                " VALUES ('journal', 'CNY', %s, %s) ON CONFLICT (book, currency, slot) DO UPDATE"
                " SET total_minor = ledger_currency_totals.total_minor + excluded.total_minor",
                (self.slot, prepared["total"]),
            )

    def close(self) -> None:
        self.connection.close()


def bare_client(writer: BareWriter, prepared: list[dict[str, Any]]) -> Callable[[], None]:
    def client() -> None:
        for rows in prepared:
            writer.write(rows)

    return client


# -- the run ------------------------------------------------------------------------------------


@contextmanager
def schema(url: str) -> Iterator[tuple[SqlLedgerStore, str]]:
    name = f"bench_conc_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={name}"}, pool_size=WRITERS + 2
    )
    try:
        store = SqlLedgerStore(engine)
        store.save_chart(chart())
        yield store, name
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def one_round(store: SqlLedgerStore, bares: list[BareWriter], round_no: int) -> dict[str, float]:
    """Entries per second of each variant in one round (fresh keys and sequence ranges)."""
    tag = f"r{round_no}-{uuid.uuid4().hex[:6]}"
    entries_one, entries_many = POSTS * ENTRIES_PER_POST, WRITERS * POSTS * ENTRIES_PER_POST
    rates: dict[str, float] = {}
    work = [posts(f"{tag}-one", 0)]
    rates["one"] = entries_one / together([store_client(store, work[0])])
    work = [posts(f"{tag}-many", w) for w in range(WRITERS)]
    rates["many"] = entries_many / together([store_client(store, w) for w in work])
    for label, mode in (("old", "FOR UPDATE"), ("share", "FOR SHARE")):
        work = [posts(f"{tag}-{label}1", 0)]
        rates[f"{label}_one"] = entries_one / together([locking_client(store, work[0], mode)])
        work = [posts(f"{tag}-{label}", w) for w in range(WRITERS)]
        clients = [locking_client(store, w, mode) for w in work]
        rates[f"{label}_many"] = entries_many / together(clients)

    def bare_rates(label: str, slots: list[int]) -> float:
        # Sequence numbers far above loancore's own: each writer its own range.
        base = ((round_no + 2) * 10 + len(label)) * 10**8
        prepared = []
        for w, writer in enumerate(bares[: len(slots)]):
            writer.slot = slots[w]
            first = base + w * 10**6
            batches = posts(f"{tag}-{label}", w)
            prepared.append(
                [writer.prepare(b, first + i * ENTRIES_PER_POST) for i, b in enumerate(batches)]
            )
        clients = [bare_client(bares[w], prepared[w]) for w in range(len(slots))]
        return len(slots) * POSTS * ENTRIES_PER_POST / together(clients)

    rates["bare_one"] = bare_rates("b1", [0])
    rates["bare_many"] = bare_rates("bmany", list(range(WRITERS)))
    rates["bare_hot"] = bare_rates("bhotrow", [0] * WRITERS)
    return rates


def run() -> dict[str, float]:
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    if not url:
        return {}
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with schema(url) as (store, name):
        bares = [BareWriter(dsn, name, w) for w in range(WRITERS)]
        try:
            one_round(store, bares, -1)  # warm-up
            rounds = [one_round(store, bares, r) for r in range(ROUNDS)]
            wal = wal_bytes_per_entry(store)
        finally:
            for bare in bares:
                bare.close()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(top: str, bottom: str) -> float:
        return statistics.median(r[top] / r[bottom] for r in rounds)

    return {
        "ledger_postgres_one_writer_entries_per_s": median("one"),
        "ledger_postgres_concurrent_entries_per_s": median("many"),
        "ledger_postgres_concurrent_vs_one_ratio": ratio("many", "one"),
        "ledger_postgres_bare_one_writer_entries_per_s": median("bare_one"),
        "ledger_postgres_bare_concurrent_entries_per_s": median("bare_many"),
        "ledger_postgres_bare_concurrent_vs_one_ratio": ratio("bare_many", "bare_one"),
        "ledger_postgres_concurrent_vs_bare_ratio": ratio("bare_many", "many"),
        "ledger_postgres_concurrent_share_of_ceiling_ratio": statistics.median(
            (r["many"] / r["one"]) / (r["bare_many"] / r["bare_one"]) for r in rounds
        ),
        "ledger_postgres_schema4_lock_concurrent_vs_one_ratio": ratio("old_many", "old_one"),
        "ledger_postgres_bare_hot_row_concurrent_vs_one_ratio": ratio("bare_hot", "bare_one"),
        "ledger_postgres_for_share_concurrent_vs_one_ratio": ratio("share_many", "share_one"),
        "ledger_postgres_wal_bytes_per_entry": wal,
    }


def wal_bytes_per_entry(store: SqlLedgerStore) -> float:
    """WAL the server writes per entry for one writer's posts (the WAL's write rate is a limit of
    a single PostgreSQL primary; docs/scaling.md)."""
    engine = store.bind
    assert isinstance(engine, sa.Engine)
    lsn = "SELECT pg_current_wal_lsn()::text"
    with engine.connect() as connection:
        before = connection.exec_driver_sql(lsn).scalar_one()
    store_client(store, posts(f"wal-{uuid.uuid4().hex[:6]}", 0))()
    with engine.connect() as connection:
        after = connection.exec_driver_sql(lsn).scalar_one()
        sql = "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)"
        written = connection.exec_driver_sql(sql, (after, before)).scalar_one()
    return float(written) / (POSTS * ENTRIES_PER_POST)


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:56s} {value:>14,.3f}")
