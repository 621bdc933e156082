"""Refusals of the delinquency core: :class:`DelinquencyRejected` with a stable code (600-).

The codes live here until they join :class:`loancore.errors.RejectionCode` (6xx delinquency);
their numbers are the contract and never change.
"""

from __future__ import annotations

import enum
from typing import Any

from loancore.errors import Rejected

__all__ = ["DelinquencyCode", "DelinquencyRejected"]


class DelinquencyCode(enum.IntEnum):
    """Stable codes of the delinquency refusals; append-only, never renumbered."""

    CLASSIFICATION_BEFORE_LAST = 600  # a classification run dated before the history's last run
    LOAN_NOT_ACTIVE = 601  # a write-off or sale of a loan that is not active
    NOTHING_TO_WRITE_OFF = 602  # a write-off or sale of a loan with nothing left on the books
    RECOVERY_EXCEEDS_WRITTEN_OFF = 603  # more recovered than the loan has written off and pursued
    SALE_OF_PERFORMING_LOAN = 604  # a sale (不良资产转让) of a loan classified better than 次级


class DelinquencyRejected(Rejected, ValueError):
    """A delinquency request was refused (``code`` is a :class:`DelinquencyCode`); nothing was
    booked."""

    def __init__(self, code: DelinquencyCode, detail: str = "") -> None:
        super().__init__(code, detail)  # type: ignore[arg-type]  # 6xx joins RejectionCode later

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.detail))
