"""Services: the use cases, the imperative shell around the pure core.

A service loads state through a port (:mod:`loancore.ports`: stores, the unit of work), lets the
core decide, and persists what it decided; the core (``loancore.ledger``, ``loancore.quota``,
...) never imports :mod:`loancore.ports` nor this package (``tests/test_architecture.py``).
docs/architecture.md has the layers, the unit of work contract and the lock order.

- :class:`Ledger`: the facade over a :class:`~loancore.ports.LedgerStore` (moved from
  ``loancore.ledger``), with :func:`audit`, the validation passes over a whole store.
- :func:`run_end_of_day`: the quota end-of-day batch (moved from ``loancore.quota``).
- :func:`close_business_day`: the end-of-day batch over the whole book (accrual, delinquency,
  provisions, then the quota batch), made of :func:`close_loans` (one id range; a distributed
  run calls it per range) and :func:`close_quota_day`; :func:`write_off_loan`, :func:`recover_loan`,
  :func:`sell_loan` (:mod:`loancore.services.end_of_day`).
- :func:`book_order`, :func:`apply_event`, :func:`apply_batch`, :func:`reconcile`: servicing over the loans, quota and
  ledger stores, one unit of work per call (:mod:`loancore.services.servicing`).
- :func:`open_credit_line`, :func:`apply_line_event`, :func:`line_statements`,
  :func:`reconcile_line`, :func:`close_lines_day`, :func:`write_off_credit_line`,
  :func:`recover_credit_line`, :func:`sell_credit_line`: revolving credit lines (随借随还) over the
  loans, quota and ledger stores, one unit of work per call,
  chunks for the day close (:mod:`loancore.services.credit_line`).
- :func:`record_capture`, :func:`record_deduction`, :func:`run_settlement`,
  :func:`export_batch_csv`, :func:`import_channel_file`, :func:`merchant_statement`:
  settlement over the settlement and ledger stores, one unit of work per call
  (:mod:`loancore.services.settlement`).
"""

from loancore.services.credit_line import (
    LineApplied,
    LineBalanceCheck,
    LineReconciliation,
    LinesClosed,
    apply_line_event,
    close_lines_day,
    line_statements,
    open_credit_line,
    reconcile_line,
    recover_credit_line,
    sell_credit_line,
    write_off_credit_line,
)
from loancore.services.end_of_day import (
    BusinessDayReport,
    ChunkProgress,
    LoansClosed,
    close_business_day,
    close_loans,
    close_quota_day,
    recover_loan,
    sell_loan,
    write_off_loan,
)
from loancore.services.ledger import Ledger, audit
from loancore.services.quota import EndOfDayReport, Refusal, run_end_of_day
from loancore.services.servicing import (
    Applied,
    BatchResult,
    Reconciliation,
    apply_batch,
    apply_event,
    book_order,
    reconcile,
)
from loancore.services.settlement import (
    ChannelFileImport,
    SettlementResult,
    export_batch_csv,
    import_channel_file,
    merchant_statement,
    payable_matches_ledger,
    record_capture,
    record_deduction,
    run_settlement,
    save_merchant_terms,
)

__all__ = [
    "Applied",
    "BatchResult",
    "BusinessDayReport",
    "ChannelFileImport",
    "ChunkProgress",
    "EndOfDayReport",
    "Ledger",
    "LineApplied",
    "LineBalanceCheck",
    "LineReconciliation",
    "LinesClosed",
    "LoansClosed",
    "Reconciliation",
    "Refusal",
    "SettlementResult",
    "apply_batch",
    "apply_event",
    "apply_line_event",
    "audit",
    "book_order",
    "close_business_day",
    "close_lines_day",
    "close_loans",
    "close_quota_day",
    "export_batch_csv",
    "import_channel_file",
    "line_statements",
    "merchant_statement",
    "open_credit_line",
    "payable_matches_ledger",
    "reconcile",
    "reconcile_line",
    "record_capture",
    "record_deduction",
    "recover_credit_line",
    "recover_loan",
    "run_end_of_day",
    "run_settlement",
    "save_merchant_terms",
    "sell_credit_line",
    "sell_loan",
    "write_off_credit_line",
    "write_off_loan",
]
