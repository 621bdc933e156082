"""``RepayDue``: an auto-debit of everything due on its day. It must be exactly a ``Repay`` of
the amount the loan owes once caught up to that day (penalty, compound interest and fees of the
installments due by then included), and be refused when nothing is due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loancore.errors import RejectionCode
from loancore.servicing import (
    Accrue,
    Disburse,
    Repay,
    RepayDue,
    ServicingRejected,
    TransactionKind,
    apply,
)
from loancore.testing.servicing import Harness, clinic_product

START = date(2026, 1, 15)


def disbursed() -> Harness:
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    return harness


def due_on(harness: Harness, day: date) -> int:
    """What the loan owes on ``day`` once caught up (the quote RepayDue must pay)."""
    current = apply(harness.loan, harness.product, Accrue(event_id="q", as_of=day))
    return sum(i.outstanding() for i in current.loan.installments if i.due_date <= day)


def test_on_the_due_date_it_pays_the_installment_exactly() -> None:
    harness = disbursed()
    first_due = harness.loan.installments[0].due_date
    outcome = harness.apply(RepayDue(event_id="ad1", as_of=first_due))
    first = outcome.loan.installments[0]
    assert first.outstanding() == 0 and outcome.loan.credit == 0
    (txn,) = [t for t in outcome.loan.history if t.event_id == "ad1"]
    assert txn.kind is TransactionKind.REPAYMENT
    assert txn.amount == first.principal.due + first.interest.due
    assert all(i.outstanding() > 0 for i in outcome.loan.installments[1:])
    harness.check()


def test_nothing_due_is_refused_and_changes_nothing() -> None:
    harness = disbursed()
    before = harness.loan
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(RepayDue(event_id="ad1", as_of=START + timedelta(days=3)))
    assert refused.value.code is RejectionCode.NOTHING_DUE
    assert harness.loan == before


@settings(max_examples=40, deadline=None)
@given(
    days_late=st.integers(min_value=0, max_value=120),
    partial=st.sampled_from([None, 1, 50_000]),
)
def test_it_is_a_repay_of_what_is_due(days_late: int, partial: int | None) -> None:
    """Late or not, partly paid before or not: the same loan, entries and effects as a Repay of
    the amount quoted on the same day (the entries' ids differ only by the event id, the same)."""
    harness = disbursed()
    if partial is not None:
        some = harness.loan.money(partial)
        harness.apply(Repay(event_id="early", as_of=START + timedelta(days=5), amount=some))
    day = harness.loan.installments[0].due_date + timedelta(days=days_late)
    amount = due_on(harness, day)
    by_due = apply(harness.loan, harness.product, RepayDue(event_id="ad", as_of=day))
    by_amount = apply(
        harness.loan,
        harness.product,
        Repay(event_id="ad", as_of=day, amount=harness.loan.money(amount)),
    )
    assert amount > 0
    assert by_due == by_amount  # the loan, entries, memo postings and quota effects
