"""Settlement's stable refusal codes (5xx) and its :class:`~loancore.errors.Rejected` subclass.

The codes live here until the lead folds them into :class:`loancore.errors.RejectionCode` (the
5xx range is settlement's); their numbers are already final and append-only.
"""

from __future__ import annotations

import enum

from loancore.errors import LoancoreError, Rejected

__all__ = ["SettlementCode", "SettlementRejected"]


class SettlementCode(enum.IntEnum):
    """Stable codes of settlement's expected refusals (append-only, never renumbered)."""

    JOINT_SHARE_BELOW_MINIMUM = 500  # a partner's share is under the share rule's minimum
    FUNDER_NO_ROOM = 501  # a funder's room (limit less outstanding) is below its share
    FUNDER_LOAN_LIMIT_EXCEEDED = 502  # a funder's share is above its per-loan maximum
    NO_FUNDING_ROUTE = 503  # no funding option can take the loan (each option's reason listed)
    COMMISSION_ALREADY_CLAWED_BACK = 504  # a loan's commission was already clawed back


class SettlementRejected(Rejected):
    """A settlement refusal: ``code`` is a :class:`SettlementCode`, ``detail`` says why."""

    def __init__(self, code: SettlementCode, detail: str = "") -> None:
        # Rejected.__init__ is typed for RejectionCode; the message format is the same.
        self.code = code  # type: ignore[assignment]  # folded into RejectionCode at merge
        self.detail = detail
        suffix = f": {detail}" if detail else ""
        LoancoreError.__init__(self, f"rejected {code.name} ({int(code)}){suffix}")
