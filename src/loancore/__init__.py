"""loancore: the accounting and loan-servicing core of a consumer-credit platform.

Exact calculators, a double-entry ledger of accounting subjects, revolving credit quota,
repayment allocation, loan servicing and T+N merchant settlement, as a functional core with thin
adapters (SQLite, PostgreSQL, beancount, a command line).

The names below are the curated public API; ``loancore.tvm`` and ``loancore.apr`` are imported
with the package (``loancore.tvm.pmt(...)`` works after ``import loancore``); submodules hold the
rest (``loancore.revolving``, ``loancore.ledger``, ``loancore.quota``,
``loancore.adapters.*``, ``loancore.testing.strategies``).
"""

from loancore import apr, tvm
from loancore.amortization import (
    FeeTiming,
    Installment,
    InterestBasis,
    LoanTerms,
    Method,
    PayoffQuote,
    Reamortization,
    Schedule,
    amortize,
    payoff_quote,
    reamortize,
)
from loancore.calendar import BusinessCalendar, Roll
from loancore.dates import EndOfMonth, Frequency, due_dates
from loancore.daycount import DayCount, day_count, year_fraction, year_fraction_ratio
from loancore.errors import (
    CalendarOutOfRange,
    CurrencyMismatch,
    FloatNotAllowed,
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    LoancoreError,
    NoSolution,
    NotFound,
    PostingRejected,
    Rejected,
    RejectionCode,
    SchemaVersionMismatch,
    UnknownCurrency,
)
from loancore.ledger import (
    Chart,
    GeneralLedger,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
    Side,
    Subject,
    SubjectKind,
    TrialBalance,
    default_chart,
)
from loancore.money import CumulativeSplit, Money, Rounding, allocate, quantize, split_evenly

__version__ = "0.1.0.dev0"

__all__ = [
    "BusinessCalendar",
    "CalendarOutOfRange",
    "Chart",
    "CumulativeSplit",
    "CurrencyMismatch",
    "DayCount",
    "EndOfMonth",
    "FeeTiming",
    "FloatNotAllowed",
    "Frequency",
    "GeneralLedger",
    "IdempotencyConflict",
    "Installment",
    "InterestBasis",
    "InvalidInput",
    "InvariantViolation",
    "JournalEntry",
    "Leg",
    "LoanTerms",
    "LoancoreError",
    "MemoDirection",
    "MemoPosting",
    "MemoRegister",
    "Method",
    "Money",
    "NoSolution",
    "NotFound",
    "PayoffQuote",
    "PostingRejected",
    "Reamortization",
    "Rejected",
    "RejectionCode",
    "Roll",
    "Rounding",
    "Schedule",
    "SchemaVersionMismatch",
    "Side",
    "Subject",
    "SubjectKind",
    "TrialBalance",
    "UnknownCurrency",
    "__version__",
    "allocate",
    "amortize",
    "apr",
    "day_count",
    "default_chart",
    "due_dates",
    "payoff_quote",
    "quantize",
    "reamortize",
    "split_evenly",
    "tvm",
    "year_fraction",
    "year_fraction_ratio",
]
