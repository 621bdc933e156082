"""The whole flow through the facade, on SQLite and PostgreSQL: apply and decide, grant, order
(hold), confirm (loan, disbursement, capture), day close, repay, refund, settle, reports; the
books balance and reconcile after it, and every replay returns the first result."""

from __future__ import annotations

from datetime import date

import pytest

from loancore.app import DueCollection, Lender, OrderRequest, OrderStatus, Payment
from loancore.credit import CreditApplication, Outcome
from loancore.errors import IdempotencyConflict, InvalidInput, LenderRejected, RejectionCode
from loancore.money import Money
from loancore.services import payable_matches_ledger
from loancore.servicing import LoanStatus

DAY = date(2026, 3, 2)  # a Monday


def cny(text: str) -> Money:
    return Money(text, "CNY")


def application(
    app_id: str, customer: str, score: int, limit: str = "20000.00"
) -> CreditApplication:
    return CreditApplication(
        application_id=app_id, customer_id=customer, requested_limit=cny(limit), score=score,
        applied_on=DAY,
    )  # fmt: skip


def order(order_id: str, customer: str, amount: str = "6000.00") -> OrderRequest:
    return OrderRequest(
        order_id=order_id, customer_id=customer, merchant_id="M1", amount=cny(amount),
        product_id="clinic-12", installments=12, placed_on=DAY,
    )  # fmt: skip


def test_credit_decisions_follow_the_reference_policy_and_replays_return_the_first(
    lender: Lender,
) -> None:
    white = lender.apply_for_credit(application("A1", "C-WHITE", 300))
    assert white.decision.outcome is Outcome.APPROVED and white.decision.limit == cny("20000.00")
    black = lender.apply_for_credit(application("A2", "C-BLACK", 900))
    assert black.decision.outcome is Outcome.DECLINED and black.decision.reasons == ("blacklist",)
    scored = lender.apply_for_credit(application("A3", "C3", 650, "50000.00"))
    assert scored.decision.limit == cny("10000.00")  # the 600-699 band caps at 10,000
    low = lender.apply_for_credit(application("A4", "C4", 500))
    assert low.decision.outcome is Outcome.DECLINED
    queued = lender.apply_for_credit(application("A5", "C5", 570))
    assert queued.decision.outcome is Outcome.REVIEW
    assert [r.application.application_id for r in lender.review_queue()] == ["A5"]

    again = lender.apply_for_credit(application("A3", "C3", 650, "50000.00"))
    assert again.replayed and again.decision == scored.decision
    with pytest.raises(IdempotencyConflict):
        lender.apply_for_credit(application("A3", "C3", 700, "50000.00"))

    reviewed = lender.review("A5", approve=True, reviewer="analyst-1", decided_on=DAY,
                             limit=cny("5000.00"))  # fmt: skip
    assert reviewed.decision.outcome is Outcome.APPROVED and lender.review_queue() == ()
    assert lender.review("A5", approve=True, reviewer="analyst-1", decided_on=DAY,
                         limit=cny("5000.00")).replayed  # fmt: skip
    with pytest.raises(LenderRejected) as refused:
        lender.review("A5", approve=False, reviewer="analyst-2", decided_on=DAY)
    assert refused.value.code is RejectionCode.APPLICATION_NOT_IN_REVIEW
    with pytest.raises(LenderRejected) as no_credit:
        lender.place_order(order("O-B", "C-BLACK"))
    assert no_credit.value.code is RejectionCode.CREDIT_NOT_APPROVED


def test_order_to_settlement_balances_and_reconciles(lender: Lender) -> None:
    lender.apply_for_credit(application("A1", "C-WHITE", 300))
    placed = lender.place_order(order("O1", "C-WHITE"))
    assert placed.status is OrderStatus.HELD and lender.place_order(order("O1", "C-WHITE")).replayed
    with pytest.raises(IdempotencyConflict):
        lender.place_order(order("O1", "C-WHITE", "7000.00"))
    booked = lender.confirm_order("O1", DAY)
    assert booked.loan.status is LoanStatus.ACTIVE and booked.loan.loan_id == "L-O1"
    assert lender.confirm_order("O1", DAY).replayed
    with pytest.raises(LenderRejected) as late_cancel:
        lender.cancel_order("O1", DAY)
    assert late_cancel.value.code is RejectionCode.ORDER_NOT_HELD

    lender.place_order(order("O2", "C-WHITE", "1000.00"))
    assert lender.cancel_order("O2", DAY).status is OrderStatus.CANCELLED

    settled = lender.settle(date(2026, 3, 3))  # T+1
    (instruction,) = settled.batch.instructions
    # the clinic product keeps a 5% merchant discount (5,700.00 payable), then a 0.6% fee
    assert instruction.amount == cny("5665.80")
    assert lender.settle(date(2026, 3, 3)).replayed

    closed = lender.close_day(date(2026, 3, 31))
    assert closed.accrued == 1 and closed.buckets == {"M0": 1}
    first = booked.loan.installments[0]
    due = lender.loan("L-O1").money(first.principal.due + first.interest.due)
    paid = lender.repay(
        Payment(loan_id="L-O1", payment_id="P1", amount=due, paid_on=first.due_date)
    )
    assert paid.loan.installments[0].outstanding() == 0
    assert lender.repay(Payment(loan_id="L-O1", payment_id="P1", amount=due,
                                paid_on=first.due_date)).replayed  # fmt: skip
    refunded = lender.refund("L-O1", "R1", cny("500.00"), date(2026, 4, 10))
    assert refunded.outcome is not None and refunded.outcome.merchant_clawback is not None

    assert lender.trial_balance(date(2026, 12, 31)).is_balanced()
    result = lender.reconcile()
    assert result.clean, result.problems()
    assert payable_matches_ledger(lender.uow, ["M1"], as_of=date(2026, 12, 31)) == ()
    bill = lender.customer_loans("C-WHITE")
    assert [loan.loan_id for loan in bill] == ["L-O1"]


def test_an_auto_debit_run_collects_what_is_due_and_refuses_a_loan_with_nothing_due(
    lender: Lender,
) -> None:
    lender.apply_for_credit(application("A1", "C-WHITE", 300))
    for order_id in ("O1", "O2"):
        lender.place_order(order(order_id, "C-WHITE", "3000.00"))
        lender.confirm_order(order_id, DAY)
    first = lender.loan("L-O1").installments[0]
    owed = lender.loan("L-O2").money(first.principal.due + first.interest.due)
    lender.repay(Payment(loan_id="L-O2", payment_id="paid", amount=owed, paid_on=first.due_date))
    run = [
        DueCollection(loan_id=loan_id, payment_id=f"AD-{loan_id}", paid_on=first.due_date)
        for loan_id in ("L-O1", "L-O2")
    ]
    result = lender.collect_due(run)
    assert result.applied == ("AD-L-O1",)
    ((refused_id, refusal),) = result.refused
    assert refused_id == "AD-L-O2" and refusal.code is RejectionCode.NOTHING_DUE
    assert lender.loan("L-O1").installments[0].outstanding() == 0
    again = lender.collect_due(run[:1])
    assert again.replayed == ("AD-L-O1",) and again.applied == ()
    assert lender.reconcile().clean


def test_bad_input_is_refused_with_the_field_named(lender: Lender) -> None:
    with pytest.raises(InvalidInput, match="installments"):
        OrderRequest(order_id="O", customer_id="C", merchant_id="M1", amount=cny("1.00"),
                     product_id="clinic-12", installments=0, placed_on=DAY)  # fmt: skip
    with pytest.raises(InvalidInput, match="order_id"):
        lender.confirm_order("no-such-order", DAY)
    with pytest.raises(InvalidInput, match="score"):
        application("A9", "C9", 5000)
