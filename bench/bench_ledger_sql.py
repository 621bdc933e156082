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
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.ledger_schema import _SEGMENTS_FROM_LEGS, LEGS
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
            "INSERT INTO ledger_daily_balances SELECT subject_code, currency, accounting_date,"
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


def sqlite_rate(directory: Path, run_no: int) -> float:
    engine = create_engine(directory / f"post-{run_no}.sqlite")
    store = SqlLedgerStore(engine)
    store.save_chart(chart())
    rate = posting_rate(store, 20)
    engine.dispose()
    return rate


def postgres_rate(url: str) -> float:
    store, engine, schema = postgres_store(url)
    store.save_chart(chart())
    rate = posting_rate(store, 20)
    engine.dispose()
    drop_schema(url, schema)
    return rate


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="loancore-bench-") as directory:
        sqlite_rates, postgres_rates = [], []
        for run_no in range(RUNS):  # alternating, so both see the same machine
            sqlite_rates.append(sqlite_rate(Path(directory), run_no))
            if url:
                postgres_rates.append(postgres_rate(url))
        figures.update(spread("ledger_sqlite_entries_per_s", sqlite_rates))
        if url:
            figures.update(spread("ledger_postgres_entries_per_s", postgres_rates))
        figures.update(balance_figures(Path(directory)))
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value:>14,.3f}")
