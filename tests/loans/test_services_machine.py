"""Random event sequences through the services on every store (memory, SQLite, PostgreSQL), with
reconciliation (trial balance, loan against ledger, quota used against principal outstanding) as
the invariant after every step, and a replayed event returning its first record."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from loans_kit import DAY, assert_clean, make_uow
from test_story import book

from loancore.errors import QuotaRejected
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import apply_batch, apply_event
from loancore.services.servicing import EventRecord
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
from store_kit import dispose

AMOUNTS = st.integers(1, 200_000).map(lambda minor: Money.from_minor(minor, "CNY"))
DAYS = st.integers(0, 45)


class ServicesMachine(RuleBasedStateMachine):
    """One loan ``L1`` through ``apply_event`` / ``apply_batch`` on the store ``kind``."""

    kind = "memory"
    postgres_url: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._directory = tempfile.TemporaryDirectory()
        self.uow: UnitOfWork = make_uow(self.kind, Path(self._directory.name), self.postgres_url)
        book(self.uow)
        self.day = DAY
        self.count = 0
        self.payments: list[str] = []
        self.records: dict[str, EventRecord] = {}

    def teardown(self) -> None:
        dispose(self.uow)
        self._directory.cleanup()

    def _apply(self, event: ServicingEvent) -> bool:
        try:
            applied = apply_event(self.uow, "L1", event)
        except (ServicingRejected, QuotaRejected):
            return False
        if applied.record is not None:
            self.records[event.event_id] = applied.record
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

    @rule(first=AMOUNTS, second=AMOUNTS, days=DAYS)
    def repay_batch(self, first: Money, second: Money, days: int) -> None:
        one, day = self._next(days)
        two, _ = self._next(0)
        items = [
            ("L1", Repay(event_id=one, as_of=day, amount=first)),  # type: ignore[arg-type]
            ("L1", Repay(event_id=two, as_of=day, amount=second)),  # type: ignore[arg-type]
        ]
        try:
            result = apply_batch(self.uow, items)
        except QuotaRejected:
            return
        for event_id in result.applied:
            self.payments.append(event_id)
            self.records[event_id] = result.record(event_id)

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

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.payments:
            return
        event_id = data.draw(st.sampled_from(self.payments))
        cent = Money.from_minor(1, "CNY")
        again = apply_event(self.uow, "L1", Repay(event_id=event_id, as_of=self.day, amount=cent))
        assert again.replayed and again.record == self.records[event_id]

    @invariant()
    def reconciles(self) -> None:
        assert_clean(self.uow)


SETTINGS = {
    "memory": settings(max_examples=30, stateful_step_count=15),
    "sqlite": settings(max_examples=8, stateful_step_count=10),
    "postgres": settings(max_examples=5, stateful_step_count=10),
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def test_random_service_sequences_reconcile_after_every_step(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    machine = type(f"{kind.title()}ServicesMachine", (ServicesMachine,), {"kind": kind})
    machine.postgres_url = url
    chosen = settings(SETTINGS[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(machine, settings=chosen)
