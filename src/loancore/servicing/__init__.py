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
- :mod:`~loancore.servicing.reconcile`: the loan against the ledger's balances;
- :mod:`~loancore.servicing.revolving_line`: a revolving credit line (:class:`CreditLineAccount`,
  :func:`apply_line`) under a :class:`CreditLineProduct`.

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
    RepayDue,
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
    CreditLineProduct,
    GlGranularity,
    InterestRecognition,
    LateFee,
    LoanProduct,
    Penalty,
    PrepaymentRules,
    ProductConfigError,
    RefundRules,
    credit_line_product_from_toml,
    product_from_toml,
)
from loancore.servicing.reconcile import (
    ReconciliationLine,
    expected_balances,
    expected_by_role,
    reconcile,
)
from loancore.servicing.revolving_line import (
    CloseStatement,
    CreditLineAccount,
    Draw,
    LineOutcome,
    LineQuotaEffect,
    LineQuotaEffectKind,
    LineTransaction,
    LineTransactionKind,
    Statement,
    apply_line,
    expected_line_balances,
    open_line,
)

__all__ = [
    "Accrue",
    "ApplyCredit",
    "Cancel",
    "ChargeFee",
    "CloseStatement",
    "CreditLineAccount",
    "CreditLineProduct",
    "Disburse",
    "Draw",
    "GlGranularity",
    "Installment",
    "InterestRecognition",
    "LateFee",
    "LineOutcome",
    "LineQuotaEffect",
    "LineQuotaEffectKind",
    "LineTransaction",
    "LineTransactionKind",
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
    "RepayDue",
    "ReversePayment",
    "ServicingEvent",
    "ServicingRejected",
    "Statement",
    "Transaction",
    "TransactionKind",
    "Waive",
    "apply",
    "apply_line",
    "book_loan",
    "credit_line_product_from_toml",
    "expected_balances",
    "expected_by_role",
    "expected_line_balances",
    "open_line",
    "payoff_amount",
    "product_from_toml",
    "reconcile",
]
