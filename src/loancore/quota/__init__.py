"""Revolving credit quota (授信额度): lines, holds, usage, restore, as a pure core.

A borrower has a master line and product sub-lines; the master binds (available on a sub-line is
``min(sub-line available, master available)``). Every operation is a command value with an
idempotency key, decided by :func:`decide` over the lines it touches, recorded as events in an
append-only journal from which :func:`rebuild` derives every balance. Stores (memory, SQLite,
PostgreSQL) live in :mod:`loancore.adapters`; docs/quota.md has the formula, the operations and
their refusal codes (raised as :class:`~loancore.errors.QuotaRejected`, in a documented order of
checks), and the default limit policy.
"""

from loancore.quota.commands import (
    FINGERPRINT_VERSION,
    AddTemporaryLimit,
    AdjustLimit,
    Capture,
    Close,
    Command,
    Draw,
    ExpireHolds,
    ExpireTemporaryLimits,
    Freeze,
    Grant,
    Hold,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Unfreeze,
    Void,
    command_fingerprint,
)
from loancore.quota.core import (
    Decision,
    QuotaView,
    ViewSource,
    available_minor,
    check_as_of,
    check_command,
    decide,
    line_code,
    load_view,
    own_available_minor,
)
from loancore.quota.fold import QuotaState
from loancore.quota.journal import QuotaIssue, QuotaSnapshot, check_rebuild, rebuild, snapshot_of
from loancore.quota.model import (
    DEFAULT_BORROWER_CAP,
    EventKind,
    HoldStatus,
    LineBalance,
    LineStatus,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaLine,
    QuotaResult,
    RefundReason,
    TemporaryLimit,
)
from loancore.quota.policy import (
    CreditRecord,
    DefaultLimitPolicy,
    LimitPolicy,
    plan_end_of_day,
)

__all__ = [
    "DEFAULT_BORROWER_CAP",
    "FINGERPRINT_VERSION",
    "AddTemporaryLimit",
    "AdjustLimit",
    "Capture",
    "Close",
    "Command",
    "CreditRecord",
    "Decision",
    "DefaultLimitPolicy",
    "Draw",
    "EventKind",
    "ExpireHolds",
    "ExpireTemporaryLimits",
    "Freeze",
    "Grant",
    "Hold",
    "HoldStatus",
    "LimitPolicy",
    "LineBalance",
    "LineStatus",
    "QuotaConfig",
    "QuotaEvent",
    "QuotaHold",
    "QuotaIssue",
    "QuotaLine",
    "QuotaResult",
    "QuotaSnapshot",
    "QuotaState",
    "QuotaView",
    "RefundReason",
    "RepaymentParts",
    "RestoreRefunded",
    "RestoreRepaid",
    "TemporaryLimit",
    "Unfreeze",
    "ViewSource",
    "Void",
    "available_minor",
    "check_as_of",
    "check_command",
    "check_rebuild",
    "command_fingerprint",
    "decide",
    "line_code",
    "load_view",
    "own_available_minor",
    "plan_end_of_day",
    "rebuild",
    "snapshot_of",
]
