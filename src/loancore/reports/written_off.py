"""The loans that left the books as bad debt: written off (核销) and sold (不良资产转让), and the
已核销贷款 memo register of written-off loans still pursued (booked at write-off, reduced by each
recovery). Pure: the loans and the register's postings come in as values."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from loancore.ledger.entries import MemoDirection, MemoPosting, MemoRegister
from loancore.servicing import Loan, LoanStatus

__all__ = ["WrittenOffRegister", "written_off_register"]


@attrs.frozen(kw_only=True)
class WrittenOffRegister:
    """Counts of loans and amounts in minor units: the principal each kind took off the books,
    and the 已核销贷款 register's increases (booked), decreases (recovered) and balance."""

    written_off_loans: int
    written_off_principal_minor: int
    sold_loans: int
    sold_principal_minor: int
    register_booked_minor: int
    register_recovered_minor: int

    @property
    def register_balance_minor(self) -> int:
        """Written off and still pursued."""
        return self.register_booked_minor - self.register_recovered_minor


def written_off_register(loans: Iterable[Loan], memos: Iterable[MemoPosting]) -> WrittenOffRegister:
    """The summary of ``loans`` written off or sold and of the postings of ``memos`` to the
    written-off register (postings to other registers are left out)."""
    counts = {LoanStatus.WRITTEN_OFF: [0, 0], LoanStatus.SOLD: [0, 0]}
    for loan in loans:  # bounded by the loans given
        row = counts.get(loan.status)
        if row is not None:
            row[0] += 1
            row[1] += loan.principal_written_off()
    booked = recovered = 0
    for memo in memos:  # bounded by the postings given
        if memo.register is not MemoRegister.WRITTEN_OFF_LOANS:
            continue
        if memo.direction is MemoDirection.INCREASE:
            booked += memo.amount.minor_units
        else:
            recovered += memo.amount.minor_units
    return WrittenOffRegister(
        written_off_loans=counts[LoanStatus.WRITTEN_OFF][0],
        written_off_principal_minor=counts[LoanStatus.WRITTEN_OFF][1],
        sold_loans=counts[LoanStatus.SOLD][0],
        sold_principal_minor=counts[LoanStatus.SOLD][1],
        register_booked_minor=booked,
        register_recovered_minor=recovered,
    )
