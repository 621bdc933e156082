"""Test helpers for servicing: a product, a harness that books outcomes into a ledger, and a
hypothesis state machine driving random event sequences on one loan.

The harness posts every outcome's entries into a :class:`MemoryLedgerStore` over the default
chart and checks, after every event, that the ledger's balances filtered by the loan equal the
loan's own figures (:func:`loancore.servicing.reconcile`), that cash received equals what was
allocated plus credit, and that principal is conserved.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.amortization import Reamortization
from loancore.errors import InvariantViolation
from loancore.ledger import default_chart
from loancore.ledger.subjects import Side
from loancore.money import Money, Rounding
from loancore.postings import DiscountTreatment, SubjectMapping
from loancore.servicing import (
    Accrue,
    ApplyCredit,
    ChargeFee,
    Disburse,
    InterestRecognition,
    LateFee,
    Loan,
    LoanProduct,
    LoanStatus,
    MerchantRefund,
    Outcome,
    Penalty,
    Prepay,
    PrepaymentRules,
    RefundCredit,
    RefundRules,
    Repay,
    ReversePayment,
    ServicingEvent,
    ServicingRejected,
    TransactionKind,
    Waive,
    apply,
    book_loan,
    payoff_amount,
    reconcile,
)
from loancore.servicing.events import PayOff
from loancore.waterfall import PRESETS, Component

__all__ = [
    "CASH_LINE_PRODUCT_TOML",
    "CLINIC_PRODUCT_TOML",
    "Harness",
    "ServicingMachine",
    "clinic_product",
    "ledger_net_debits",
    "loan_products",
]


CASH_LINE_PRODUCT_TOML = """
product_id = "cash-line"
version = 1
currency = "CNY"

[terms]
daily_rate = "0.0005"
rounding = "HALF_UP"

[statement]
due_days = 20
grace_days = 3
minimum_payment_rate = "0.10"
minimum_payment_floor = "100.00"
penalty_daily_rate = "0.00075"

[charges.late_fee]
rate = "0.05"
cap = "50.00"

[allocation]
policy = "civil-code-561"
"""
"""A revolving credit line (``cash-line`` version 1): 0.05% a day, statement bills due in 20 days
with 3 grace days, a 10% minimum (at least 100.00), penalty interest and a 5% late fee capped at
50.00; the lines tests and the distributed end-of-day book open their accounts on it."""


CLINIC_PRODUCT_TOML = """
product_id = "clinic-12"
version = 1
currency = "CNY"

[terms]
method = "equal_installment"
annual_rate = "0.18"
rounding = "HALF_UP"
day_count = "ACT/360"

[interest]
recognition = "daily"
grace_days = 3
compound = true

[interest.penalty]
multiple = "1.5"

[charges.late_fee]
rate = "0.05"
cap = "50.00"

[prepayment]
fee_rate = "0.01"
reamortization = "keep_term"

[merchant]
discount_rate = "0.05"
"""
"""The stories' clinic product as TOML (12 installments at 18%, penalty 1.5x, late fee, prepayment fee,
merchant discount), for stores, benchmarks and users' own suites that save products as text."""


def clinic_product(**overrides: Any) -> LoanProduct:
    """The clinic product of the stories: 18% equal installments, HALF_UP, penalty 1.5x."""
    fields: dict[str, Any] = {
        "product_id": "clinic",
        "version": 1,
        "currency": "CNY",
        "annual_rate": Decimal("0.18"),
        "rounding": Rounding.HALF_UP,
        "penalty": Penalty(multiple=Decimal("1.5")),
    }
    fields.update(overrides)
    return LoanProduct(**fields)


@st.composite
def loan_products(draw: st.DrawFn) -> LoanProduct:
    """Clinic products over the settings that change what servicing books: method, rate,
    recognition, grace, penalty and compound, fees, policy, prepayment and refund rules,
    merchant discount and its treatment."""
    zero_rate = draw(st.booleans())
    rate = Decimal(0) if zero_rate else Decimal(draw(st.integers(1, 36))) / 100
    late = draw(
        st.sampled_from(
            [LateFee(), LateFee(fixed=Money(Decimal(30), "CNY")), LateFee(rate=Decimal("0.05"))]
        )
    )
    return clinic_product(
        method=draw(st.sampled_from(["equal_installment", "equal_principal"])),
        annual_rate=rate,
        recognition=draw(st.sampled_from(list(InterestRecognition))),
        grace_days=draw(st.integers(0, 5)),
        penalty=Penalty(
            multiple=Decimal(draw(st.integers(10, 20))) / 10, compound=draw(st.booleans())
        ),
        management_fee_rate=Decimal(draw(st.integers(0, 5))) / 1000,
        origination_fee_rate=Decimal(draw(st.integers(0, 3))) / 100,
        late_fee=late,
        policy=PRESETS[draw(st.sampled_from(sorted(PRESETS)))],
        prepayment=PrepaymentRules(
            fee_rate=Decimal(draw(st.integers(0, 3))) / 100,
            reamortization=draw(st.sampled_from(list(Reamortization))),
        ),
        refund=RefundRules(
            reamortization=draw(st.sampled_from(list(Reamortization))),
            waive_interest=draw(st.booleans()),
            return_discount=draw(st.booleans()),
        ),
        merchant_discount_rate=Decimal(draw(st.integers(0, 8))) / 100,
        mapping=SubjectMapping(discount_treatment=draw(st.sampled_from(list(DiscountTreatment)))),
    )


def ledger_net_debits(store: MemoryLedgerStore, loan_id: str) -> dict[str, int]:
    """Net debit (minor units) per subject of the entries carrying ``loan=<loan_id>``."""
    totals: dict[str, int] = {}
    for entry in store.entries():
        for leg in entry.legs:
            if leg.dimension("loan") == loan_id:
                sign = 1 if leg.side is Side.DEBIT else -1
                code = leg.subject_code
                totals[code] = totals.get(code, 0) + sign * leg.amount.minor_units
    return totals


@attrs.define
class Harness:
    """One loan under one product, its outcomes posted into ``store``."""

    product: LoanProduct
    loan: Loan
    store: MemoryLedgerStore = attrs.field(factory=lambda: MemoryLedgerStore(default_chart()))
    outcomes: list[Outcome] = attrs.field(factory=list)
    cash_in: int = 0

    @classmethod
    def booked(
        cls,
        product: LoanProduct,
        *,
        principal: str = "12000.00",
        installments: int = 12,
        start: datetime.date = datetime.date(2026, 1, 15),
        payee: str = "merchant",
    ) -> Harness:
        outcome = book_loan(
            product,
            event_id="book",
            loan_id="L1",
            hold_id="H1",
            principal=Money(Decimal(principal), product.currency),
            installments=installments,
            start_date=start,
            payee=payee,
            dimensions={"merchant": "M1", "customer": "C1"},
        )
        harness = cls(product, outcome.loan)
        harness.outcomes.append(outcome)
        return harness

    def apply(self, event: ServicingEvent) -> Outcome:
        outcome = apply(self.loan, self.product, event)
        self.store.post(outcome.entries)
        self.loan = outcome.loan
        self.outcomes.append(outcome)
        self.check()
        return outcome

    def check(self) -> None:
        """Every entry balances, ledger == loan, principal conserved, cash == allocated +
        credit."""
        for outcome in self.outcomes[-1:]:
            for entry in outcome.entries:
                if sum(leg.signed_minor for leg in entry.legs) != 0:
                    raise InvariantViolation(f"unbalanced entry {entry.entry_id}")
        lines = reconcile(self.loan, self.product, ledger_net_debits(self.store, self.loan.loan_id))
        wrong = [line for line in lines if not line.agrees]
        if wrong:
            raise InvariantViolation(f"ledger disagrees with the loan: {wrong}")
        self.loan.check()
        credit = 0
        for txn in self.loan.history:  # conservation: cash in == allocated + credit kept
            if txn.reversed_by is not None:
                continue
            credit += txn.credit_change
            if txn.kind in _CASH:
                allocated = sum(amount for _n, _c, amount in txn.lines)
                if txn.amount != allocated + txn.credit_change:
                    raise InvariantViolation(
                        f"{txn.event_id}: cash {txn.amount} != "
                        f"{allocated} allocated + {txn.credit_change} credit"
                    )
        if credit != self.loan.credit:
            raise InvariantViolation(f"credit {self.loan.credit} != history {credit}")


_CASH = (TransactionKind.REPAYMENT, TransactionKind.PREPAYMENT, TransactionKind.PAYOFF)


class ServicingMachine(RuleBasedStateMachine):
    """Random lifecycles of one clinic loan; every step checked by :meth:`Harness.check`."""

    product = clinic_product(grace_days=3)

    def __init__(self) -> None:
        super().__init__()
        self.harness = Harness.booked(self.product)
        self.day = datetime.date(2026, 1, 15)
        self.count = 0
        self.harness.apply(Disburse(event_id="disburse", as_of=self.day))

    def _next(self, days: int) -> tuple[str, datetime.date]:
        self.count += 1
        self.day += datetime.timedelta(days=days)
        return f"e{self.count}", self.day

    def _try(self, event: ServicingEvent) -> None:
        try:
            self.harness.apply(event)
        except ServicingRejected:
            pass

    @property
    def active(self) -> bool:
        return self.harness.loan.status is LoanStatus.ACTIVE

    @precondition(lambda self: self.active)
    @rule(days=st.integers(0, 45), yuan=st.integers(1, 3000))
    def repay(self, days: int, yuan: int) -> None:
        event_id, day = self._next(days)
        self._try(Repay(event_id=event_id, as_of=day, amount=Money(Decimal(yuan), "CNY")))

    @rule(days=st.integers(0, 40))
    def accrue(self, days: int) -> None:
        event_id, day = self._next(days)
        self._try(Accrue(event_id=event_id, as_of=day))

    @precondition(lambda self: self.active)
    @rule(days=st.integers(0, 30), yuan=st.integers(1, 4000))
    def prepay(self, days: int, yuan: int) -> None:
        event_id, day = self._next(days)
        self._try(Prepay(event_id=event_id, as_of=day, amount=Money(Decimal(yuan), "CNY")))

    @precondition(lambda self: self.active)
    @rule(days=st.integers(0, 30))
    def pay_off(self, days: int) -> None:
        event_id, day = self._next(days)
        amount = payoff_amount(self.harness.loan, self.harness.product, day)
        self._try(PayOff(event_id=event_id, as_of=day, amount=amount))

    @precondition(lambda self: self.active)
    @rule(days=st.integers(0, 30), yuan=st.integers(1, 12000))
    def merchant_refund(self, days: int, yuan: int) -> None:
        event_id, day = self._next(days)
        self._try(MerchantRefund(event_id=event_id, as_of=day, amount=Money(Decimal(yuan), "CNY")))

    @precondition(lambda self: self.active)
    @rule(yuan=st.integers(1, 50))
    def charge_and_waive(self, yuan: int) -> None:
        event_id, day = self._next(0)
        self._try(ChargeFee(event_id=event_id, as_of=day, amount=Money(Decimal(yuan), "CNY")))
        event_id, day = self._next(0)
        half = Money(Decimal(yuan) / 2, "CNY")
        self._try(Waive(event_id=event_id, as_of=day, component=Component.FEE, amount=half))

    @precondition(lambda self: self.active and self.harness.loan.credit > 0)
    @rule(use=st.booleans())
    def credit(self, use: bool) -> None:
        event_id, day = self._next(0)
        if use:
            self._try(ApplyCredit(event_id=event_id, as_of=day))
        else:
            amount = Money.from_minor(self.harness.loan.credit, "CNY")
            self._try(RefundCredit(event_id=event_id, as_of=day, amount=amount))

    @precondition(lambda self: self.active)
    @rule(back=st.integers(1, 3))
    def reverse(self, back: int) -> None:
        payments = [
            t.event_id
            for t in self.harness.loan.history
            if t.kind is TransactionKind.REPAYMENT and t.reversed_by is None
        ]
        if not payments:
            return
        event_id, day = self._next(0)
        target = payments[-min(back, len(payments))]
        self._try(ReversePayment(event_id=event_id, as_of=day, payment_id=target))

    @invariant()
    def ledger_agrees(self) -> None:
        self.harness.check()
