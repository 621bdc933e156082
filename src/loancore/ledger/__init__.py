"""The double-entry ledger of accounting subjects (会计科目): chart, entries, rules, reports.

Pure core: values (:class:`Subject`, :class:`Chart`, :class:`Leg`, :class:`JournalEntry`,
:class:`MemoPosting`), the posting rules every store runs inside its transaction
(:mod:`loancore.ledger.rules`) and report values (:class:`TrialBalance`, :class:`GeneralLedger`).
Stores implement :class:`loancore.ports.LedgerStore`; see that module for the contract. The
``Ledger`` facade over a store and the store ``audit`` are in :mod:`loancore.services`.
"""

from loancore.ledger.charts import chart_from_csv, chart_from_toml, default_chart
from loancore.ledger.closing import PROFIT_SUBJECT, profit_transfer_entry
from loancore.ledger.entries import (
    DIMENSION_KEYS,
    Dimensions,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
    dimensions_of,
    reversal_of,
)
from loancore.ledger.reports import (
    GeneralLedger,
    GeneralLedgerLine,
    TrialBalance,
    TrialBalanceLine,
    general_ledger_of,
    in_normal_side,
    trial_balance_of,
)
from loancore.ledger.rules import (
    BatchPlan,
    Issue,
    check_batch,
    check_entry,
    check_memo_batch,
    check_reversal,
    next_closed_through,
    plan_batch,
    plan_memo_batch,
    require_no_issues,
)
from loancore.ledger.subjects import Chart, Side, Subject, SubjectKind
from loancore.ledger.validation import validate

__all__ = [
    "DIMENSION_KEYS",
    "PROFIT_SUBJECT",
    "BatchPlan",
    "Chart",
    "Dimensions",
    "GeneralLedger",
    "GeneralLedgerLine",
    "Issue",
    "JournalEntry",
    "Leg",
    "MemoDirection",
    "MemoPosting",
    "MemoRegister",
    "Side",
    "Subject",
    "SubjectKind",
    "TrialBalance",
    "TrialBalanceLine",
    "chart_from_csv",
    "chart_from_toml",
    "check_batch",
    "check_entry",
    "check_memo_batch",
    "check_reversal",
    "default_chart",
    "dimensions_of",
    "general_ledger_of",
    "in_normal_side",
    "next_closed_through",
    "plan_batch",
    "plan_memo_batch",
    "profit_transfer_entry",
    "require_no_issues",
    "reversal_of",
    "trial_balance_of",
    "validate",
]
