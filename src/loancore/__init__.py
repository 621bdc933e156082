"""loancore: the accounting and loan-servicing core of a consumer-credit platform.

Exact calculators, a double-entry ledger of accounting subjects, revolving credit quota,
repayment allocation, loan servicing and T+N merchant settlement, as a functional core with thin
adapters (SQLite, PostgreSQL, beancount, a command line).

The names below are the curated public API; submodules hold the rest.
"""

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
    Rejected,
    RejectionCode,
    UnknownCurrency,
)
from loancore.money import CumulativeSplit, Money, Rounding, allocate, quantize, split_evenly

__version__ = "0.1.0.dev0"

__all__ = [
    "CalendarOutOfRange",
    "CumulativeSplit",
    "CurrencyMismatch",
    "FloatNotAllowed",
    "IdempotencyConflict",
    "InvalidInput",
    "InvariantViolation",
    "LoancoreError",
    "Money",
    "NoSolution",
    "NotFound",
    "Rejected",
    "RejectionCode",
    "Rounding",
    "UnknownCurrency",
    "__version__",
    "allocate",
    "quantize",
    "split_evenly",
]
