"""Random draws, repayments, refunds, waivers, payment reversals, replays and day closes through the credit-line services
on memory and SQLite, with the reconciliation (trial balance; the ledger filtered by the account
equals its own balances; quota used equals principal) and a simple model after every step."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from lines_kit import OPENED, assert_clean, make_uow, open_a1

from loancore.checks import DATE_MAX
from loancore.delinquency import line_interest
from loancore.errors import DelinquencyRejected, QuotaRejected, RejectionCode, ServicingRejected
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import LineApplied, apply_line_event, close_lines_day
from loancore.servicing import (
    Draw,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingEvent,
    Waive,
)
from store_kit import dispose

AMOUNTS = st.integers(1, 2_000_000).map(lambda minor: Money.from_minor(minor, "CNY"))
DAYS = st.integers(0, 40)


class LineMachine(RuleBasedStateMachine):
    """One account ``A1`` on quota line ``Q1`` (50,000.00) on the store ``kind``; the model
    counts the principal drawn and the cash received and refunded."""

    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._directory = tempfile.TemporaryDirectory()
        self.uow: UnitOfWork = make_uow(self.kind, Path(self._directory.name), None)
        open_a1(self.uow)
        self.day = OPENED
        self.count = 0
        self.drawn = 0
        self.received = 0
        self.refunded = 0
        self.non_accrual_refusals = 0
        self.applied: dict[str, tuple[ServicingEvent, LineApplied]] = {}

    def teardown(self) -> None:
        dispose(self.uow)
        self._directory.cleanup()

    def _next(self, days: int) -> str:
        self.count += 1
        self.day += timedelta(days=days)
        return f"e{self.count}"

    def _apply(self, event: ServicingEvent) -> bool:
        try:
            applied = apply_line_event(self.uow, "A1", event)
        except (ServicingRejected, QuotaRejected):
            return False
        except DelinquencyRejected as refused:  # a waiver or reversal while non-accrual
            assert refused.code is RejectionCode.NON_ACCRUAL_EVENT_REFUSED
            self.non_accrual_refusals += 1
            return False
        assert not applied.replayed
        self.applied[event.event_id] = (event, applied)
        return True

    @rule(amount=AMOUNTS, days=DAYS)
    def draw(self, amount: Money, days: int) -> None:
        event_id = self._next(days)
        if self._apply(Draw(event_id=event_id, as_of=self.day, amount=amount)):
            self.drawn += amount.minor_units

    @rule(amount=AMOUNTS, days=DAYS)
    def repay(self, amount: Money, days: int) -> None:
        event_id = self._next(days)
        if self._apply(Repay(event_id=event_id, as_of=self.day, amount=amount)):
            self.received += amount.minor_units

    @rule(days=DAYS)
    def refund_credit(self, days: int) -> None:
        event_id = self._next(days)
        with self.uow:
            credit = self.uow.loans.load_line("A1").account.credit
        if credit:
            amount = Money.from_minor(credit, "CNY")
            assert self._apply(RefundCredit(event_id=event_id, as_of=self.day, amount=amount))
            self.refunded += credit

    @rule(days=DAYS, component=st.sampled_from(["fee", "penalty", "interest"]), data=st.data())
    def waive(self, days: int, component: str, data: st.DataObject) -> None:
        event_id = self._next(days)
        with self.uow:
            account = self.uow.loans.load_line("A1").account
        owed = {
            "fee": account.fees,
            "penalty": account.penalty,
            "interest": account.interest_billed + account.interest_accrued,
        }[component]
        if owed:  # accrued to the waiver's date first, so at least this much is owed then
            amount = Money.from_minor(data.draw(st.integers(1, owed)), "CNY")
            event = Waive(event_id=event_id, as_of=self.day, component=component, amount=amount)
            refusals = self.non_accrual_refusals  # non-accrual by the event's date: refused
            assert self._apply(event) or self.non_accrual_refusals == refusals + 1

    @rule(days=DAYS, data=st.data())
    def reverse(self, days: int, data: st.DataObject) -> None:
        with self.uow:
            history = self.uow.loans.load_line("A1").account.history
        payments = [t for t in history if t.kind.value == "repay" and t.reversed_by is None]
        if not payments:
            return
        target = data.draw(st.sampled_from(payments))
        event_id = self._next(days)
        event = ReversePayment(event_id=event_id, as_of=self.day, payment_id=target.event_id)
        if self._apply(event):  # refused: its credit was refunded, or the quota cannot take it
            self.received -= target.amount

    @rule(days=st.integers(1, 40))
    def close_day(self, days: int) -> None:
        self.day += timedelta(days=days)
        closed = close_lines_day(self.uow, self.day)
        assert closed.failed == ()
        assert close_lines_day(self.uow, self.day).lines_closed == 0  # idempotent

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.applied:
            return
        event_id = data.draw(st.sampled_from(sorted(self.applied)))
        event, first = self.applied[event_id]
        again = apply_line_event(self.uow, "A1", event)
        assert again.replayed and again.record == first.record

    def _suspended(self) -> bool:
        with self.uow:
            standing = self.uow.loans.load_standings(["A1"]).get("A1")
        return standing is not None and standing.interest_suspended

    @invariant()
    def reconciles(self) -> None:
        assert_clean(self.uow)
        with self.uow:
            account = self.uow.loans.load_line("A1").account
            assert self.uow.quota.balance("Q1").used_minor == account.principal
        assert account.principal_drawn == self.drawn
        with self.uow:  # the allowance booked per stage is the standing's (day closes only)
            standing = self.uow.loans.load_standings(["A1"]).get("A1")
            booked = tuple(  # on the allowance's normal (credit) side
                self.uow.ledger.balance(
                    code, "CNY", as_of=DATE_MAX, dimensions={"loan": "A1"}
                ).minor_units
                for code in ("1304.01", "1304.02", "1304.03")
            )
        assert booked == ((0, 0, 0) if standing is None else standing.allowance)
        # cash: what is owed less the credit = drawn + income - received + refunded
        with self.uow:
            income = sum(
                -leg.signed_minor
                for entry in self.uow.ledger.entries()
                for leg in entry.legs
                if leg.subject_code in ("6011", "6021.03")
            )
        off = line_interest(account).total if self._suspended() else 0  # 表外: no income
        assert (
            account.owed() - off - account.credit
            == self.drawn + income - self.received + self.refunded
        )


@pytest.mark.parametrize(("kind", "examples"), [("memory", 30), ("sqlite", 8)])
def test_random_line_lifecycles_reconcile_after_every_step(kind: str, examples: int) -> None:
    machine = type(f"LineMachine_{kind}", (LineMachine,), {"kind": kind})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
