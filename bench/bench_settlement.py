"""Settlement run throughput: captured orders across merchants settled in memory, in one run.

The orders (``Capture`` values, validated when built) are built before the clock starts: they
are what a store hands the run. The timed part is ``run_settlement``: settlement date per
capture (cut-off, T+1 on China's calendar), the service fee per order (rounded once, clamped),
netting per merchant, lines, instructions, journal entries and the carry-forward.

    settlement_orders_per_s            orders settled per second of wall clock, one run
    settlement_run_1m_orders_s         the same run's seconds, scaled to 1,000,000 orders when
                                       fewer were measured (the run is linear in the orders)
    settlement_capture_build_per_s     Capture values built per second (the caller's cost)

    python bench/bench_settlement.py            # 1,000,000 orders over 10,000 merchants
    python bench/bench_settlement.py 100000     # fewer orders (same 10,000 merchants)
"""

from __future__ import annotations

import datetime
import sys
import time

from loancore.adapters.calendars import china_calendar
from loancore.money import Money, Rounding
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


def run(orders: int = ORDERS) -> dict[str, float]:
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
    return {
        "settlement_orders_per_s": orders / elapsed,
        "settlement_run_1m_orders_s": elapsed * 1_000_000 / orders,
        "settlement_capture_build_per_s": orders / build_s,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else ORDERS
    for name, value in run(count).items():
        print(f"{name:48s} {value:>16,.2f}")
