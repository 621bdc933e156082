"""Reconciliation of a loan with the ledger: do the ledger's balances for the loan agree with
what the loan says it is owed?

:func:`expected_balances` says, per subject code of the product's mapping, the net debit (minor
units, debit positive) the loan's own state implies; :func:`reconcile` compares that with the
ledger's balances filtered by the loan's dimension. Several roles may share a subject (penalty,
compound and contract interest all sit in 1132 by default); they are compared summed.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from loancore.postings import DiscountTreatment, Role
from loancore.servicing.loan import Loan
from loancore.servicing.product import LoanProduct

__all__ = ["ReconciliationLine", "expected_balances", "expected_by_role", "reconcile"]


_INTEREST_ROLES = (
    Role.INTEREST_ACCRUED,
    Role.INTEREST_RECEIVABLE,
    Role.PENALTY_RECEIVABLE,
    Role.COMPOUND_RECEIVABLE,
)


def expected_by_role(
    loan: Loan, product: LoanProduct, *, interest_off_books: bool = False
) -> dict[Role, int]:
    """The net debit each role should carry for ``loan`` (minor units). A non-accrual loan
    (``interest_off_books``) keeps its interest in 表外应收未收利息, so its interest roles carry 0."""
    result = _by_role(loan, product)
    if interest_off_books:
        result.update(dict.fromkeys(_INTEREST_ROLES, 0))
    return result


def _by_role(loan: Loan, product: LoanProduct) -> dict[Role, int]:
    insts = loan.installments
    adjustment = 0
    if product.mapping.discount_treatment is DiscountTreatment.INTEREST_ADJUSTMENT:
        adjustment = -(loan.merchant_discount - loan.adjustment_released)
    return {
        Role.PRINCIPAL: sum(i.principal.receivable for i in insts),
        Role.INTEREST_ACCRUED: sum(i.interest_accrued - i.interest.booked for i in insts),
        Role.INTEREST_RECEIVABLE: sum(i.interest.receivable for i in insts),
        Role.PENALTY_RECEIVABLE: sum(i.penalty.receivable for i in insts),
        Role.COMPOUND_RECEIVABLE: sum(i.compound.receivable for i in insts),
        Role.FEE_RECEIVABLE: sum(i.fee.receivable for i in insts),
        Role.OVERPAYMENT: -loan.credit,
        Role.INTEREST_ADJUSTMENT: adjustment,
    }


def expected_balances(
    loan: Loan, product: LoanProduct, *, interest_off_books: bool = False
) -> dict[str, int]:
    """:func:`expected_by_role` summed per subject code of the product's mapping."""
    result: dict[str, int] = {}
    roles = expected_by_role(loan, product, interest_off_books=interest_off_books)
    for role, amount in roles.items():
        code = product.mapping.code(role)
        result[code] = result.get(code, 0) + amount
    return result


@attrs.frozen
class ReconciliationLine:
    """One subject: the roles it carries, the loan's figure and the ledger's (net debit)."""

    subject_code: str
    roles: tuple[Role, ...]
    expected: int
    actual: int

    @property
    def agrees(self) -> bool:
        return self.expected == self.actual


def reconcile(
    loan: Loan,
    product: LoanProduct,
    ledger_net_debits: Mapping[str, int],
    *,
    interest_off_books: bool = False,
) -> tuple[ReconciliationLine, ...]:
    """Every subject the loan's balances live on, with the loan's and the ledger's net debit
    (minor units; a subject the ledger does not list counts as zero). The loan reconciles when
    every line ``agrees``. ``interest_off_books``: the loan is non-accrual (see
    :func:`expected_by_role`)."""
    roles: dict[str, list[Role]] = {}
    for role in expected_by_role(loan, product):
        roles.setdefault(product.mapping.code(role), []).append(role)
    expected = expected_balances(loan, product, interest_off_books=interest_off_books)
    return tuple(
        ReconciliationLine(code, tuple(roles[code]), expected[code], ledger_net_debits.get(code, 0))
        for code in sorted(expected)
    )
