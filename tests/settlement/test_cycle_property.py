"""Many days of runs and channel answers: nothing owed to a merchant is lost or paid twice."""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st
from settlement_support import t1

from loancore.calendar import BusinessCalendar
from loancore.settlement import (
    CarryForward,
    PayoutStatus,
    ResultRow,
    Retry,
    reconcile,
    run_settlement,
)
from loancore.testing.settlement import captures, deductions

MERCHANTS = ["M1", "M2"]
TERMS = {m: t1(m) for m in MERCHANTS}
# Business days on China's calendar, each T+1 of the one before (9 Oct follows 30 Sep).
DAYS = [datetime.date(2025, 9, 29), datetime.date(2025, 9, 30), datetime.date(2025, 10, 9),
        datetime.date(2025, 10, 10), datetime.date(2025, 10, 11), datetime.date(2025, 10, 13)]  # fmt: skip


@settings(max_examples=40)
@given(data=st.data())
def test_owed_equals_paid_plus_retries_plus_carry_over_many_days(
    cn: BusinessCalendar, data: st.DataObject
) -> None:
    owed: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    carry: tuple[CarryForward, ...] = ()
    retries: tuple[Retry, ...] = ()
    for n, (day, pay_day) in enumerate(itertools.pairwise(DAYS)):
        caps = data.draw(captures(MERCHANTS, day, size_max=6, id_prefix=f"{n}-"))
        deds = data.draw(deductions(MERCHANTS, day, size_max=3, id_prefix=f"{n}-"))
        run = run_settlement(
            pay_day, channel="c", calendar=cn, terms=TERMS, captures=caps, deductions=deds,
            carry_forward=carry, retries=retries,
        )  # fmt: skip
        for line in run.batch.lines:
            assert not line.payment.is_negative()
            owed[line.merchant_id] += (
                line.captured - line.fees - line.refunded - line.charged_back
            ).minor_units
        rows = [
            ResultRow(line_number=i + 2, batch_id=run.batch.batch_id, line_id=ins.line_id,
                      amount=ins.amount, status=data.draw(st.sampled_from(list(PayoutStatus))))
            for i, ins in enumerate(run.instructions)
        ]  # fmt: skip
        outcome = reconcile(run.batch, rows, booked_on=pay_day)
        for ins in outcome.confirmed:
            paid[ins.merchant_id] += ins.amount.minor_units
        carry, retries = run.carry_forward, outcome.retries
    pending = {r.merchant_id: r.amount.minor_units for r in retries}
    carried = {c.merchant_id: c.balance.minor_units for c in carry}
    for m in MERCHANTS:
        assert owed[m] == paid[m] + pending.get(m, 0) + carried.get(m, 0)
