"""Property: whatever the captures, refunds, chargebacks, runs and channel results, the store's
view of each merchant's payable equals the ledger's (legs with its ``merchant`` dimension) and
the trial balance balances, after every step (memory unit of work: the same services and the
same core as SQL; the SQL stores are checked against it by the story tests)."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from settlement_support import t1
from stored_kit import disbursed, refunded

from loancore.adapters.calendars import china_calendar
from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.ledger import default_chart
from loancore.money import Money
from loancore.services import settlement as svc
from loancore.settlement import Capture, Deduction, DeductionKind

CN = china_calendar(2024, 2026)
MERCHANTS = ("M1", "M2", "M3")
START = datetime.date(2025, 9, 26)

day_plans = st.lists(
    st.fixed_dictionaries(
        {
            "captures": st.lists(
                st.tuples(st.sampled_from(MERCHANTS), st.integers(1, 500_000)), max_size=4
            ),
            "refunds": st.lists(
                st.tuples(st.integers(0, 50), st.sampled_from(DeductionKind), st.integers(1, 100)),
                max_size=2,
            ),
            "results": st.lists(st.booleans(), max_size=3),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(day_plans)
def test_store_payable_equals_ledger_payable_after_every_step(plans: list[dict]) -> None:  # type: ignore[type-arg]
    uow = MemoryUnitOfWork()
    with uow:
        uow.ledger.save_chart(default_chart())
        uow.commit()
    for merchant_id in MERCHANTS:
        svc.save_merchant_terms(uow, "up", t1(merchant_id))
    orders: list[Capture] = []
    last_batch = None
    for n, plan in enumerate(plans):
        day = START + datetime.timedelta(days=n)
        when = datetime.datetime.combine(day, datetime.time(10, 0))
        for k, (merchant_id, minor) in enumerate(plan["captures"]):
            order = Capture(
                order_id=f"O{n}-{k}", merchant_id=merchant_id,
                amount=Money.from_minor(minor, "CNY"), captured_at=when,
            )  # fmt: skip
            svc.record_capture(uow, order, entries=disbursed(order))
            orders.append(order)
        for k, (pick, kind, percent) in enumerate(plan["refunds"]):
            if not orders:
                break
            order = orders[pick % len(orders)]
            minor = max(1, order.amount.minor_units * percent // 100)
            item = Deduction(
                deduction_id=f"D{n}-{k}", kind=kind, merchant_id=order.merchant_id,
                order_id=order.order_id, amount=Money.from_minor(minor, "CNY"),
                occurred_at=when + datetime.timedelta(hours=1),
            )  # fmt: skip
            svc.record_deduction(uow, item, entries=refunded(item))
        if last_batch is not None and last_batch.instructions:
            rows = [
                f"{i.batch_id},{i.line_id},{i.amount.amount},{'SUCCESS' if ok else 'FAILED'}"
                for i, ok in zip(last_batch.instructions, plan["results"], strict=False)
            ]
            text = "batch_id,line_id,amount,status\n" + "".join(f"{r}\n" for r in rows)
            svc.import_channel_file(uow, text, booked_on=day)
        if CN.is_business_day(day):
            last_batch = svc.run_settlement(uow, "up", day, CN).batch
        assert svc.payable_matches_ledger(uow, MERCHANTS, as_of=datetime.date(2026, 12, 31)) == ()
