"""Settlement run throughput: captured orders across merchants settled in memory, in one run.

The orders (``Capture`` values, validated when built) are built before the clock starts: they
are what a store hands the run. The timed part is ``run_settlement``: settlement date per
capture (cut-off, T+1 on China's calendar), the service fee per order (rounded once, clamped),
netting per merchant, lines, instructions, journal entries and the carry-forward.

    settlement_orders_per_s            orders settled per second of wall clock, one run
    settlement_run_1m_orders_s         the same run's seconds, scaled to 1,000,000 orders when
                                       fewer were measured (the run is linear in the orders)
    settlement_capture_build_per_s     Capture values built per second (the caller's cost)

The same orders stored in SQLite (a file, WAL, synchronous=FULL) and settled through the service
``loancore.services.settlement.run_settlement``, one unit of work: read the pending orders back
(``Capture`` values rebuilt from rows), run the core, store the batch, mark every order settled,
set the carry-forward, post the 10,000 payout entries to the SQL ledger, commit:

    settlement_1m_orders_sqlite_s      seconds of that service call for 1,000,000 orders (the
                                       key names the count measured: ``..._100k_...`` for 100,000)
    settlement_sqlite_record_orders_per_s   orders stored per second by ``record_capture``
                                       (100,000 per unit of work), before the clock starts

    python bench/bench_settlement.py            # 1,000,000 orders over 10,000 merchants
    python bench/bench_settlement.py 100000     # fewer orders (same 10,000 merchants)
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import time
from pathlib import Path

from loancore.adapters.calendars import china_calendar
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.ledger import default_chart
from loancore.money import Money, Rounding
from loancore.services import settlement as services
from loancore.settlement import (
    Capture,
    MerchantTerms,
    ServiceFee,
    SettlementSchedule,
    run_settlement,
)

MERCHANTS = 10_000
ORDERS = 1_000_000
DAY = datetime.date(2025, 9, 30)
RUN_DATE = datetime.date(2025, 10, 9)  # T+1 from 30 September: National Day


def _terms() -> dict[str, MerchantTerms]:
    fee = ServiceFee(
        rate="0.006",
        rounding=Rounding.HALF_UP,
        fee_min=Money.from_minor(100, "CNY"),
        fee_max=Money.from_minor(50_000, "CNY"),
    )
    schedule = SettlementSchedule.t_plus(1)
    return {
        f"M{m:05d}": MerchantTerms(
            merchant_id=f"M{m:05d}",
            schedule=schedule,
            fee=fee,
            cutoff=datetime.time(22),
            payee_account=f"6222{m:012d}",
        )
        for m in range(MERCHANTS)
    }


def _captures(count: int) -> list[Capture]:
    start = datetime.datetime.combine(DAY, datetime.time())
    return [
        Capture(
            order_id=f"O{i:08d}",
            merchant_id=f"M{i % MERCHANTS:05d}",
            amount=Money.from_minor(1_000 + (i * 7_919) % 5_000_000, "CNY"),
            captured_at=start + datetime.timedelta(seconds=(i * 37) % 86_400),
        )
        for i in range(count)
    ]


def _label(orders: int) -> str:
    if orders % 1_000_000 == 0:
        return f"{orders // 1_000_000}m"
    return f"{orders // 1_000}k" if orders % 1_000 == 0 else str(orders)


def run_sqlite(orders: int = ORDERS, chunk: int = 100_000) -> dict[str, float]:
    """Store ``orders`` captures in a SQLite file and time one settlement run through the service."""
    calendar = china_calendar(2025, 2026)
    terms = _terms()
    captures = _captures(orders)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(Path(folder) / "settlement.sqlite")
        try:
            uow = SqlUnitOfWork(engine)
            with uow:
                for merchant_terms in terms.values():
                    uow.settlement.save_terms("bench", merchant_terms)
                uow.ledger.save_chart(default_chart())
                uow.commit()
            loaded = time.perf_counter()
            for start in range(0, orders, chunk):  # bounded by orders / chunk
                services.record_capture(uow, captures[start : start + chunk])
            load_s = time.perf_counter() - loaded
            del captures
            started = time.perf_counter()
            result = services.run_settlement(uow, "bench", RUN_DATE, calendar)
            elapsed = time.perf_counter() - started
        finally:
            engine.dispose()
    settled = sum(len(line.order_ids) for line in result.batch.lines)
    if settled != orders or len(result.entries) != min(orders, MERCHANTS):
        raise RuntimeError(f"benchmark run settled {settled} of {orders} orders in SQLite")
    return {
        f"settlement_{_label(orders)}_orders_sqlite_s": elapsed,
        "settlement_sqlite_record_orders_per_s": orders / load_s,
    }


def run(orders: int = ORDERS, *, sqlite: bool = True) -> dict[str, float]:
    calendar = china_calendar(2025, 2026)
    terms = _terms()
    built = time.perf_counter()
    captures = _captures(orders)
    build_s = time.perf_counter() - built
    started = time.perf_counter()
    result = run_settlement(
        RUN_DATE, channel="bench", calendar=calendar, terms=terms, captures=captures
    )
    elapsed = time.perf_counter() - started
    # Orders captured at or after 22:00 count for 1 October and also settle on 9 October.
    settled = sum(len(line.order_ids) for line in result.batch.lines)
    if settled != orders or len(result.instructions) != min(orders, MERCHANTS):
        raise RuntimeError(f"benchmark run settled {settled} of {orders} orders")
    figures = {
        "settlement_orders_per_s": orders / elapsed,
        "settlement_run_1m_orders_s": elapsed * 1_000_000 / orders,
        "settlement_capture_build_per_s": orders / build_s,
    }
    del captures, result
    if sqlite:
        figures.update(run_sqlite(orders))
    return figures


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else ORDERS
    for name, value in run(count).items():
        print(f"{name:48s} {value:>16,.2f}")
