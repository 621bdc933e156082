"""SQL ledger store: posting rate on SQLite and PostgreSQL, as-of balance over 1,000,000 entries.

Keys:

- ``ledger_sqlite_entries_per_s``: two-leg entries per second posted through
  ``SqlLedgerStore.post`` to a SQLite file (WAL, synchronous=FULL) in atomic batches of 1,000,
  every posting rule checked, entries built before the clock starts. The median of
  ``RUNS`` runs, each on a fresh file (20 batches after a warm-up batch); ``..._min_per_s`` and
  ``..._max_per_s`` are the slowest and fastest run, because the development machine is shared
  and single runs vary by a third.
- ``ledger_postgres_entries_per_s`` (and its min and max): the same on PostgreSQL over loopback,
  each run in a fresh schema, when ``LOANCORE_TEST_POSTGRES_URL`` is set (``make bench`` starts a
  server with PostgreSQL's durable defaults: fsync, synchronous_commit, full_page_writes);
  otherwise the keys are left out. pgledger publishes about 10,600 transfers per second.
- ``ledger_sqlite_vs_bare_ratio``: loancore's SQLite posting time over the time bare ``sqlite3``
  takes to write the same rows, measured in the same runs (batch by batch, alternating): the same
  tables and indexes (loancore creates both files), the same pragmas (WAL, ``synchronous=FULL``),
  the same ``BEGIN IMMEDIATE`` .. ``COMMIT`` per 1,000-entry batch and the same statement shapes
  (multi-row INSERTs of 200 rows, the daily totals upserted); the bare side only runs the
  INSERTs and the COMMIT, its rows and parameters built before the clock starts, no rule checked.
  The median of the runs' ratios, with ``..._min_ratio`` and ``..._max_ratio``;
  ``ledger_sqlite_bare_entries_per_s`` is the bare side's median rate. After each run both files
  must hold the same entries, legs and totals, or the bench stops.
- ``ledger_postgres_vs_bare_ratio`` (and its min, max, ``ledger_postgres_bare_entries_per_s``): the
  same against bare psycopg on the same server: COPY for entries and legs (the COPY text built
  before the clock), the daily totals upserted from arrays in one statement each, one
  transaction per batch, PostgreSQL's default synchronous commit.
- ``ledger_balance_asof_1m_ms``: median time of ``balance(subject, as_of=...)`` (a parent subject,
  rolled up over its sub-accounts) on a SQLite file holding 1,000,000 entries.
- ``ledger_balance_asof_1m_loan_ms``: the same filtered by one loan dimension (reads the legs'
  dimension index instead of the daily totals).
- ``ledger_balance_asof_1m_product_ms``: the same filtered by the product every debit leg carries
  (reads the daily segment totals; before schema 3 it read half the legs through an index,
  ~1,400 ms).

The 1,000,000-entry file is filled by SQL inside SQLite (a recursive CTE) rather than by posting,
so the bench stays short; it has the same tables and indexes the store creates.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.ledger_schema import (
    _SEGMENTS_FROM_LEGS,
    DAILY,
    ENTRIES,
    LEGS,
    SEGMENTS,
)
from loancore.ledger import Chart, JournalEntry, Leg, Subject
from loancore.money import Money

BATCH = 1_000
START = date(2025, 1, 1)
DAYS = 730
BIG_ENTRIES = 1_000_000
RUNS = 5


def chart() -> Chart:
    return Chart(
        [
            Subject("1002", "银行存款", "Deposits with banks", "asset"),
            Subject("1303", "贷款", "Loans", "asset"),
            Subject("1303.01", "本金", "Principal", "asset", parent_code="1303"),
            Subject("1303.02", "应计利息", "Accrued interest", "asset", parent_code="1303"),
            Subject("2202", "应付账款", "Merchant settlement payable", "liability"),
            Subject("6011", "利息收入", "Interest income", "income"),
        ]
    )


def batches(count: int, tag: str) -> list[list[JournalEntry]]:
    """``count`` batches of two-leg loan disbursements: Dr 1303.01 [loan, customer, product],
    Cr 2202 [merchant]; amounts vary, each batch is one business day (as a day's postings are)."""
    out = []
    n = 0
    for day_no in range(count):
        batch = []
        for _ in range(BATCH):
            n += 1
            amount = Money.from_minor(10_000 + n % 900_000, "CNY")
            batch.append(
                JournalEntry(
                    entry_id=f"{tag}-e{n}",
                    idempotency_key=f"{tag}-k{n}",
                    accounting_date=START + timedelta(days=day_no % DAYS),
                    legs=(
                        Leg.debit(
                            "1303.01",
                            amount,
                            {"loan": f"L{n}", "customer": f"C{n % 50_000}", "product": "medaes"},
                        ),
                        Leg.credit("2202", amount, {"merchant": f"M{n % 500}"}),
                    ),
                )
            )
        out.append(batch)
    return out


def posting_rate(store: SqlLedgerStore, count: int) -> float:
    """Entries per second over ``count`` batches (after one warm-up batch)."""
    work = batches(count + 1, uuid.uuid4().hex[:8])
    store.post(work[0])
    started = time.perf_counter()
    for batch in work[1:]:
        store.post(batch)
    return count * BATCH / (time.perf_counter() - started)


# -- the same rows through the bare driver ---------------------------------------------------------

ABSENT = ""  # a dimension a leg does not carry (the store's NO_DIMENSION)
ENTRY_COLUMNS = [c.name for c in ENTRIES.columns if c.name != "reverses"]  # no reversals here
LEG_COLUMNS = [c.name for c in LEGS.columns]
SEGMENT_KEYS = ("product", "partner")


def bare_rows(batch: list[JournalEntry], first_seq: int, day: object) -> dict[str, list[tuple]]:
    """The rows loancore writes for ``batch`` (entries numbered from ``first_seq``), built the
    plain way, by column name; ``day`` turns a date into the driver's value. Not timed."""
    entries, legs = [], []
    daily: dict[tuple, list[int]] = {}
    segments: dict[tuple, list[int]] = {}
    for seq, entry in enumerate(batch, start=first_seq):
        values = {
            "seq": seq,
            "entry_id": entry.entry_id,
            "idempotency_key": entry.idempotency_key,
            "accounting_date": day(entry.accounting_date),
            "value_date": day(entry.value_date),
            "memo": entry.memo,
        }
        entries.append(tuple(values[name] for name in ENTRY_COLUMNS))
        for leg_no, leg in enumerate(entry.legs):
            amount = abs(leg.signed_minor)
            dimensions = dict(leg.dimensions)
            leg_values = {
                "entry_seq": seq,
                "leg_no": leg_no,
                "subject_code": leg.subject_code,
                "side": leg.side.value,
                "amount_minor": amount,
                "currency": leg.amount.currency,
                "accounting_date": day(entry.accounting_date),
            }
            legs.append(tuple(leg_values.get(c, dimensions.get(c, ABSENT)) for c in LEG_COLUMNS))
            credit = int(leg.signed_minor < 0)
            key = (leg.subject_code, leg.amount.currency, day(entry.accounting_date))
            daily.setdefault(key, [0, 0])[credit] += amount
            product, partner = (dimensions.get(k, ABSENT) for k in SEGMENT_KEYS)
            if product or partner:
                segment = (leg.subject_code, leg.amount.currency, product, partner, key[2])
                segments.setdefault(segment, [0, 0])[credit] += amount
    return {
        "entries": entries,
        "legs": legs,
        # Slot 0 of each total (schema 5): a single writer's, as the store's first writer takes.
        "daily": [(*k, 0, *t) for k, t in sorted(daily.items())],
        "segments": [(*k, 0, *t) for k, t in sorted(segments.items())],
    }


def upsert_sql(table: sa.Table, values: str) -> str:
    keys = ", ".join(c.name for c in table.primary_key.columns)
    names = ", ".join(c.name for c in table.columns)
    return (
        f"INSERT INTO {table.name} ({names}) {values} ON CONFLICT ({keys}) DO UPDATE SET"
        f" debit_minor = {table.name}.debit_minor + excluded.debit_minor,"
        f" credit_minor = {table.name}.credit_minor + excluded.credit_minor"
    )


ROWS_PER_INSERT = 200  # the store's multi-row VALUES size on SQLite


class BareSqlite:
    """Writes prepared rows to a SQLite file with ``sqlite3`` alone, as the store's engine is set
    up: WAL, ``synchronous=FULL``, foreign keys on, ``BEGIN IMMEDIATE`` .. ``COMMIT`` a batch."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "busy_timeout = 30000",
            "journal_mode = WAL",
            "synchronous = FULL",
            "foreign_keys = ON",
        ):
            self.connection.execute(f"PRAGMA {pragma}")
        self.inserts = {}
        for name, table, columns in (
            ("entries", ENTRIES, ENTRY_COLUMNS),
            ("legs", LEGS, LEG_COLUMNS),
        ):
            row = f"({', '.join('?' * len(columns))})"
            head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
            self.inserts[name] = (head, row, len(columns))
        self.daily = upsert_sql(DAILY, f"VALUES ({', '.join('?' * len(DAILY.columns))})")
        self.segments = upsert_sql(SEGMENTS, f"VALUES ({', '.join('?' * len(SEGMENTS.columns))})")

    def prepare(self, rows: dict[str, list[tuple]]) -> list[tuple[str, list[tuple]]]:
        """(SQL, parameter tuples) to execute for one batch: multi-row INSERTs of
        ``ROWS_PER_INSERT`` rows (the remainder in one more), then the two upserts."""
        work = []
        for name in ("entries", "legs"):
            head, row, width = self.inserts[name]
            flat = [value for values in rows[name] for value in values]
            step = ROWS_PER_INSERT * width
            full = len(rows[name]) - len(rows[name]) % ROWS_PER_INSERT
            if full:
                groups = [tuple(flat[i : i + step]) for i in range(0, full * width, step)]
                work.append((head + ", ".join([row] * ROWS_PER_INSERT), groups))
            if full < len(rows[name]):
                rest = len(rows[name]) - full
                work.append((head + ", ".join([row] * rest), [tuple(flat[full * width :])]))
        work.append((self.daily, rows["daily"]))
        if rows["segments"]:
            work.append((self.segments, rows["segments"]))
        return work

    def write(self, work: list[tuple[str, list[tuple]]]) -> None:
        execute = self.connection.execute
        execute("BEGIN IMMEDIATE")
        for sql, parameters in work:
            self.connection.executemany(sql, parameters)
        execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


def table_contents(query: sa.Connection | sqlite3.Connection, table: sa.Table) -> list[tuple]:
    order = ", ".join(c.name for c in table.primary_key.columns)
    sql = f"SELECT * FROM {table.name} ORDER BY {order}"
    if isinstance(query, sa.Connection):
        return [tuple(row) for row in query.exec_driver_sql(sql)]
    return [tuple(row) for row in query.execute(sql)]


COMPARED = (ENTRIES, LEGS, DAILY, SEGMENTS)


def require_same_rows(engine: sa.Engine, fetch_bare) -> None:
    """Both sides hold the same entries, legs and totals, else the ratio compares different work."""
    with engine.connect() as connection:
        for table in COMPARED:
            ours, bare = table_contents(connection, table), fetch_bare(table)
            if ours != bare:
                raise RuntimeError(
                    f"{table.name}: the bare rows differ from loancore's ({len(bare)} vs "
                    f"{len(ours)} rows; first store row {ours[:1]}, first bare row {bare[:1]})"
                )


def paired_seconds(post, bare_write, work: list[list[JournalEntry]], bare_work: list) -> tuple:
    """Seconds loancore and the bare driver take over the batches after the first (a warm-up),
    alternating batch by batch so that both see the same machine."""
    post(work[0])
    bare_write(bare_work[0])
    ours = bare = 0.0
    for batch, prepared in zip(work[1:], bare_work[1:], strict=True):
        started = time.perf_counter()
        post(batch)
        middle = time.perf_counter()
        bare_write(prepared)
        bare += time.perf_counter() - middle
        ours += middle - started
    return ours, bare


def postgres_store(url: str) -> tuple[SqlLedgerStore, sa.Engine, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    return SqlLedgerStore(engine), engine, schema


def drop_schema(url: str, schema: str) -> None:
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
INSERT INTO {table}
"""


def fill_million(engine: sa.Engine, count: int) -> None:
    """Fill a fresh ledger with ``count`` two-leg entries (and their daily totals) inside SQLite."""
    day = f"date('{START.isoformat()}', '+' || (i % {DAYS}) || ' days')"
    amount = "(10000 + i % 900000)"
    statements = [
        _FILL.format(count=count, table="ledger_entries")
        + f"SELECT i, 'e' || i, 'k' || i, {day}, {day}, '', NULL FROM n",
        _FILL.format(count=count, table="ledger_legs")
        + f"SELECT i, 0, CASE i % 2 WHEN 0 THEN '1303.01' ELSE '1303.02' END, 'debit', {amount}, 'CNY', {day},"
        " 'C' || (i % 50000), 'L' || i, '', '', 'medaes' FROM n",
        _FILL.format(count=count, table="ledger_legs")
        + f"SELECT i, 1, '2202', 'credit', {amount}, 'CNY', {day}, '', '', 'M' || (i % 500), '', '' FROM n",
        (
            "INSERT INTO ledger_daily_balances"
            " (subject_code, currency, day, debit_minor, credit_minor)"
            " SELECT subject_code, currency, accounting_date,"
            " SUM(CASE side WHEN 'debit' THEN amount_minor ELSE 0 END),"
            " SUM(CASE side WHEN 'credit' THEN amount_minor ELSE 0 END)"
            " FROM ledger_legs GROUP BY subject_code, currency, accounting_date"
        ),
        _SEGMENTS_FROM_LEGS,
    ]
    # Build-time only (the figures are measured afterwards with the store's own settings): a big
    # page cache, one transaction, and the legs' indexes built once at the end, not row by row.
    indexes = [index for index in LEGS.indexes]
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA cache_size = -400000")
        for index in indexes:
            index.drop(connection)
        for statement in statements:
            connection.exec_driver_sql(statement)
        for index in indexes:
            index.create(connection)
        connection.exec_driver_sql("PRAGMA cache_size = -2000")


def median_ms(action, repeats: int = 30) -> float:
    action()  # warm the page cache and the chart cache
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def balance_figures(directory: Path) -> dict[str, float]:
    engine = create_engine(directory / "million.sqlite")
    store = SqlLedgerStore(engine)
    store.save_chart(chart())
    fill_million(engine, BIG_ENTRIES)
    as_of = START + timedelta(days=400)
    total = store.balance("1303", "CNY", as_of=START + timedelta(days=DAYS))
    if total.is_zero():
        raise RuntimeError("the million-entry ledger is empty")
    figures = {
        "ledger_balance_asof_1m_ms": median_ms(lambda: store.balance("1303", "CNY", as_of=as_of)),
        "ledger_balance_asof_1m_loan_ms": median_ms(
            lambda: store.balance("1303", "CNY", as_of=as_of, dimensions={"loan": "L777777"})
        ),
        "ledger_balance_asof_1m_product_ms": median_ms(
            lambda: store.balance("1303", "CNY", as_of=as_of, dimensions={"product": "medaes"})
        ),
    }
    engine.dispose()
    return figures


def spread(key: str, rates: list[float]) -> dict[str, float]:
    """``key`` (the median of ``rates``) and its ``_min_`` and ``_max_`` companions."""
    stem = key.removesuffix("_per_s")
    return {
        key: statistics.median(rates),
        f"{stem}_min_per_s": min(rates),
        f"{stem}_max_per_s": max(rates),
    }


POSTED_BATCHES = 20  # timed batches a run, after a warm-up batch


def sqlite_run(directory: Path, run_no: int) -> tuple[float, float]:
    """(loancore's entries/s, bare sqlite3's entries/s) over the same batches, alternating."""
    engine = create_engine(directory / f"post-{run_no}.sqlite")
    store = SqlLedgerStore(engine)
    store.save_chart(chart())
    bare_path = directory / f"bare-{run_no}.sqlite"
    bare_engine = create_engine(bare_path)  # the same schema, created by the store
    SqlLedgerStore(bare_engine).save_chart(chart())
    bare_engine.dispose()
    work = batches(POSTED_BATCHES + 1, uuid.uuid4().hex[:8])
    bare = BareSqlite(bare_path)
    prepared = [
        bare.prepare(bare_rows(batch, 1 + n * BATCH, date.isoformat))
        for n, batch in enumerate(work)
    ]
    ours, theirs = paired_seconds(store.post, bare.write, work, prepared)
    require_same_rows(engine, lambda table: table_contents(bare.connection, table))
    bare.close()
    engine.dispose()
    count = POSTED_BATCHES * BATCH
    return count / ours, count / theirs


_PG_ARRAY_TYPES = {
    "subject_code": "text", "currency": "char(3)", "product": "text", "partner": "text",
    "day": "date", "debit_minor": "bigint", "credit_minor": "bigint", "slot": "smallint",
}  # fmt: skip


def copy_text(rows: list[tuple]) -> str:
    """COPY text of plain rows (the bench's values never need escaping)."""
    return "".join("\t".join(map(str, row)) + "\n" for row in rows)


class BarePostgres:
    """Writes prepared rows with psycopg alone: COPY for entries and legs, one upsert from arrays
    for each totals table, one transaction a batch."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg  # the bench's PostgreSQL driver, as the store's

        plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
        self.connection = psycopg.connect(plain, options=f"-csearch_path={schema}")
        self.copies = {
            "entries": f"COPY {ENTRIES.name} ({', '.join(ENTRY_COLUMNS)}) FROM STDIN",
            "legs": f"COPY {LEGS.name} ({', '.join(LEG_COLUMNS)}) FROM STDIN",
        }

        def from_arrays(table: sa.Table) -> str:
            arrays = ", ".join(f"%s::{_PG_ARRAY_TYPES[c.name]}[]" for c in table.columns)
            return upsert_sql(table, f"SELECT * FROM unnest({arrays})")

        self.daily, self.segments = from_arrays(DAILY), from_arrays(SEGMENTS)

    @staticmethod
    def prepare(rows: dict[str, list[tuple]]) -> dict[str, object]:
        return {
            "entries": copy_text(rows["entries"]),
            "legs": copy_text(rows["legs"]),
            "daily": tuple(list(column) for column in zip(*rows["daily"])),
            "segments": tuple(list(column) for column in zip(*rows["segments"])),
        }

    def write(self, prepared: dict[str, object]) -> None:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            for name, sql in self.copies.items():
                with cursor.copy(sql) as copy:
                    copy.write(prepared[name])
            cursor.execute(self.daily, prepared["daily"])
            if prepared["segments"]:
                cursor.execute(self.segments, prepared["segments"])

    def rows(self, table: sa.Table) -> list[tuple]:
        order = ", ".join(c.name for c in table.primary_key.columns)
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table.name} ORDER BY {order}")
            return [tuple(row) for row in cursor.fetchall()]

    def close(self) -> None:
        self.connection.close()


def postgres_run(url: str) -> tuple[float, float]:
    """(loancore's entries/s, bare psycopg's entries/s) over the same batches, alternating; each
    side in a fresh schema made by the store."""
    store, engine, schema = postgres_store(url)
    store.save_chart(chart())
    bare_store, bare_engine, bare_schema = postgres_store(url)
    bare_store.save_chart(chart())
    bare_engine.dispose()
    work = batches(POSTED_BATCHES + 1, uuid.uuid4().hex[:8])
    prepared = [
        BarePostgres.prepare(bare_rows(batch, 1 + n * BATCH, lambda d: d))
        for n, batch in enumerate(work)
    ]
    bare = BarePostgres(url, bare_schema)
    try:
        ours, theirs = paired_seconds(store.post, bare.write, work, prepared)
        require_same_rows(engine, bare.rows)
    finally:
        bare.close()
        engine.dispose()
        drop_schema(url, schema)
        drop_schema(url, bare_schema)
    count = POSTED_BATCHES * BATCH
    return count / ours, count / theirs


def ratios(key: str, ours: list[float], bare: list[float]) -> dict[str, float]:
    """``key``: the median over runs of loancore's time over the bare driver's (rates inverted),
    with its ``_min_`` and ``_max_`` companions."""
    stem = key.removesuffix("_ratio")
    values = [b / o for o, b in zip(ours, bare, strict=True)]
    return {
        key: statistics.median(values),
        f"{stem}_min_ratio": min(values),
        f"{stem}_max_ratio": max(values),
    }


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="loancore-bench-") as directory:
        sqlite_pairs, postgres_pairs = [], []
        for run_no in range(RUNS):  # alternating, so both see the same machine
            sqlite_pairs.append(sqlite_run(Path(directory), run_no))
            if url:
                postgres_pairs.append(postgres_run(url))
        for name, pairs in (("sqlite", sqlite_pairs), ("postgres", postgres_pairs)):
            if not pairs:
                continue
            ours, bare = [p[0] for p in pairs], [p[1] for p in pairs]
            figures.update(spread(f"ledger_{name}_entries_per_s", ours))
            figures[f"ledger_{name}_bare_entries_per_s"] = statistics.median(bare)
            figures.update(ratios(f"ledger_{name}_vs_bare_ratio", ours, bare))
        figures.update(balance_figures(Path(directory)))
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value:>14,.3f}")
