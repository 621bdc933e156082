"""Loan servicing, the pure core: products, the loan value, events as functions.

- :mod:`~loancore.servicing.product`: :class:`LoanProduct` and :func:`product_from_toml`;
- :mod:`~loancore.servicing.loan`: the :class:`Loan` value (installments, parts, history);
- :mod:`~loancore.servicing.events`: the events and their :class:`Outcome`;
- :mod:`~loancore.servicing.engine`: :func:`apply` dispatches to the handlers of
  :mod:`~loancore.servicing.lifecycle` (:func:`book_loan`, disbursement, payout failure,
  cancellation), :mod:`~loancore.servicing.payments` (repayment, credit, charges, waivers,
  reversal), :mod:`~loancore.servicing.prepayment` (:func:`payoff_amount`) and
  :mod:`~loancore.servicing.refund`; :mod:`~loancore.servicing.accrual` moves a loan to a date,
  :mod:`~loancore.servicing.restructure` re-amortizes, :mod:`~loancore.servicing.books` builds the
  entries no posting template covers;
- :mod:`~loancore.servicing.reconcile`: the loan against the ledger's balances.

docs/servicing.md explains the states, every event's entries and a product's TOML.
"""

from loancore.errors import ServicingRejected
from loancore.servicing.engine import apply, book_loan, payoff_amount
from loancore.servicing.events import (
    Accrue,
    ApplyCredit,
    Cancel,
    ChargeFee,
    Disburse,
    MerchantRefund,
    Outcome,
    PayOff,
    PayoutFailed,
    Prepay,
    QuotaEffect,
    QuotaEffectKind,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingEvent,
    Waive,
)
from loancore.servicing.loan import (
    Installment,
    Loan,
    LoanStatus,
    Part,
    Payee,
    Transaction,
    TransactionKind,
)
from loancore.servicing.product import (
    InterestRecognition,
    LateFee,
    LoanProduct,
    Penalty,
    PrepaymentRules,
    ProductConfigError,
    RefundRules,
    product_from_toml,
)
from loancore.servicing.reconcile import (
    ReconciliationLine,
    expected_balances,
    expected_by_role,
    reconcile,
)

__all__ = [
    "Accrue",
    "ApplyCredit",
    "Cancel",
    "ChargeFee",
    "Disburse",
    "Installment",
    "InterestRecognition",
    "LateFee",
    "Loan",
    "LoanProduct",
    "LoanStatus",
    "MerchantRefund",
    "Outcome",
    "Part",
    "PayOff",
    "Payee",
    "PayoutFailed",
    "Penalty",
    "Prepay",
    "PrepaymentRules",
    "ProductConfigError",
    "QuotaEffect",
    "QuotaEffectKind",
    "ReconciliationLine",
    "RefundCredit",
    "RefundRules",
    "Repay",
    "ReversePayment",
    "ServicingEvent",
    "ServicingRejected",
    "Transaction",
    "TransactionKind",
    "Waive",
    "apply",
    "book_loan",
    "expected_balances",
    "expected_by_role",
    "payoff_amount",
    "product_from_toml",
    "reconcile",
]
