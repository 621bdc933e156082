"""Random event sequences through the services on SQLite, with reconciliation (trial balance,
loan against ledger, quota used against principal outstanding) as the invariant after every step."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from loans_kit import DAY, assert_clean, dispose, make_uow
from test_story import book

from loancore.errors import QuotaRejected
from loancore.money import Money
from loancore.services import apply_event
from loancore.servicing import (
    Accrue,
    ChargeFee,
    MerchantRefund,
    Prepay,
    Repay,
    ReversePayment,
    ServicingEvent,
    ServicingRejected,
)

AMOUNTS = st.integers(1, 200_000).map(lambda minor: Money.from_minor(minor, "CNY"))
DAYS = st.integers(0, 45)


class SqliteServicingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._directory = tempfile.TemporaryDirectory()
        self.uow = make_uow("sqlite", Path(self._directory.name), None)
        book(self.uow)
        self.day = DAY
        self.count = 0
        self.payments: list[str] = []

    def teardown(self) -> None:
        dispose(self.uow)
        self._directory.cleanup()

    def _apply(self, event: ServicingEvent) -> bool:
        try:
            apply_event(self.uow, "L1", event)
        except (ServicingRejected, QuotaRejected):
            return False
        return True

    def _next(self, days: int) -> tuple[str, object]:
        self.count += 1
        self.day += timedelta(days=days)
        return f"e{self.count}", self.day

    @rule(amount=AMOUNTS, days=DAYS)
    def repay(self, amount: Money, days: int) -> None:
        event_id, day = self._next(days)
        if self._apply(Repay(event_id=event_id, as_of=day, amount=amount)):  # type: ignore[arg-type]
            self.payments.append(event_id)

    @rule(amount=AMOUNTS, days=DAYS)
    def prepay(self, amount: Money, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(Prepay(event_id=event_id, as_of=day, amount=amount))  # type: ignore[arg-type]

    @rule(amount=AMOUNTS, days=DAYS)
    def refund(self, amount: Money, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(MerchantRefund(event_id=event_id, as_of=day, amount=amount))  # type: ignore[arg-type]

    @rule(amount=AMOUNTS, days=DAYS)
    def fee(self, amount: Money, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(ChargeFee(event_id=event_id, as_of=day, amount=amount))  # type: ignore[arg-type]

    @rule(days=DAYS)
    def accrue(self, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(Accrue(event_id=event_id, as_of=day))  # type: ignore[arg-type]

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.payments:
            return
        payment = data.draw(st.sampled_from(self.payments))
        event_id, day = self._next(0)
        self._apply(ReversePayment(event_id=event_id, as_of=day, payment_id=payment))  # type: ignore[arg-type]

    @rule(days=DAYS)
    def replay_last(self, days: int) -> None:
        if self.payments:  # a replayed event id changes nothing
            self._apply(
                Repay(event_id=self.payments[-1], as_of=self.day, amount=Money.from_minor(1, "CNY"))
            )

    @invariant()
    def reconciles(self) -> None:
        assert_clean(self.uow)


TestSqliteServicing = SqliteServicingMachine.TestCase
TestSqliteServicing.settings = settings(
    max_examples=8,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
