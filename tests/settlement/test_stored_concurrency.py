"""Two runs of the same channel and date racing on PostgreSQL (READ COMMITTED): one stores the
batch and posts its entries; the other stores nothing and raises IdempotencyConflict (or, when
it computed the same batch, finds it stored and replays its entries); running the date again
afterwards is a replay. The orders are settled once and each entry booked once."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
import stored_kit
from settlement_support import at, t1

from loancore.calendar import BusinessCalendar
from loancore.errors import IdempotencyConflict
from loancore.money import Money
from loancore.services import settlement as svc
from loancore.settlement import Capture
from store_kit import dispose

pytestmark = pytest.mark.postgres


def test_two_runs_of_one_date_settle_the_orders_once(
    postgres_url: str, tmp_path: Path, cn: BusinessCalendar
) -> None:
    uow = stored_kit.make_uow("postgres", tmp_path, postgres_url)
    try:
        for merchant_id in ("M1", "M2"):
            svc.save_merchant_terms(uow, "up", t1(merchant_id))
        orders = [
            Capture(order_id=f"O{i}", merchant_id=f"M{1 + i % 2}",
                    amount=Money.from_minor(10_000 + i, "CNY"), captured_at=at(2025, 9, 30, 15))
            for i in range(200)
        ]  # fmt: skip
        svc.record_capture(
            uow, orders, entries=[e for o in orders for e in stored_kit.disbursed(o)]
        )
        start = threading.Barrier(2, timeout=60)
        outcomes: list[object] = []

        def run() -> None:
            start.wait()
            try:
                outcomes.append(svc.run_settlement(uow, "up", datetime.date(2025, 10, 9), cn))
            except IdempotencyConflict as refused:
                outcomes.append(refused)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == 2
        runs = [o for o in outcomes if isinstance(o, svc.SettlementResult)]
        # The second either conflicts, or (it read before the first committed and computed the
        # same batch) finds the equal batch stored and its entries replayed: booked once either way.
        assert runs and all(r.batch == runs[0].batch for r in runs)
        again = svc.run_settlement(uow, "up", datetime.date(2025, 10, 9), cn)
        assert again.replayed and sum(len(line.order_ids) for line in again.batch.lines) == 200
        with uow:
            assert uow.settlement.pending("up").captures == ()
            entries = [e for e in uow.ledger.entries() if e.entry_id.startswith("payout.")]
        assert len(entries) == 2
        end = datetime.date(2025, 12, 31)
        assert svc.payable_matches_ledger(uow, ("M1", "M2"), as_of=end) == ()
    finally:
        dispose(uow)
