"""How servicing turns its steps into journal entries.

Almost every entry comes from a posting template (:mod:`loancore.postings`). Three movements
have no template on main yet and are built here, each in exactly one function, with the same
rules as the templates (roles through the product's mapping, merged legs, no zero legs, the
balance checked, ids derived from the event id):

- :func:`credit_applied`: the borrower's credit (溢缴款) pays receivables: Dr overpayment,
  Cr each component's receivable;
- :func:`prepayment_fee`: Dr fee receivable, Cr fee income (``FeeKind`` has no prepayment fee);
- :func:`mirrored`: an entry with every leg on the other side, to take back a template's
  movement that never happened as booked (a merchant refund takes back its disbursement; an
  accrual cancelled by a refund). Corrections of booked entries use
  :func:`loancore.ledger.entries.reversal_of`.
"""

from __future__ import annotations

from datetime import date

from loancore.errors import InvariantViolation
from loancore.ledger.entries import Dimensions, JournalEntry, Leg
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.postings import RECEIVABLE_ROLE, Role, SubjectMapping
from loancore.postings import Component as PostingComponent
from loancore.waterfall import Component

__all__ = ["credit_applied", "mirrored", "posting_component", "prepayment_fee"]

Entries = tuple[JournalEntry, ...]


def posting_component(component: Component) -> PostingComponent:
    """The postings' component of the waterfall's (same values)."""
    return PostingComponent(component.value)


def _book(
    template: str,
    event_id: str,
    accounting_date: date,
    dimensions: Dimensions,
    mapping: SubjectMapping,
    memo: str,
    lines: list[tuple[Role, Side, Money]],
) -> Entries:
    merged: dict[tuple[str, Side], Money] = {}
    for role, side, amount in lines:
        key = (mapping.code(role), side)
        merged[key] = merged[key] + amount if key in merged else amount
    legs = tuple(
        Leg(code, side, amount, dimensions)
        for (code, side), amount in merged.items()
        if amount.is_positive()
    )
    if not legs:
        return ()
    if sum(leg.signed_minor for leg in legs) != 0:
        raise InvariantViolation(f"{template} built an unbalanced entry: {legs}")
    derived = f"{template}:{event_id}"
    return (
        JournalEntry(
            entry_id=derived,
            idempotency_key=derived,
            accounting_date=accounting_date,
            legs=legs,
            memo=memo,
        ),
    )


def credit_applied(
    event_id: str,
    accounting_date: date,
    dimensions: Dimensions,
    mapping: SubjectMapping,
    paid: dict[Component, Money],
) -> Entries:
    """溢缴款抵扣: Dr overpayment (the total), Cr each component's receivable."""
    currency = next(iter(paid.values())).currency
    total = sum(paid.values(), Money.zero(currency))
    lines = [(Role.OVERPAYMENT, Side.DEBIT, total)]
    for component, amount in paid.items():
        lines.append((RECEIVABLE_ROLE[posting_component(component)], Side.CREDIT, amount))
    return _book(
        "credit.applied",
        event_id,
        accounting_date,
        dimensions,
        mapping,
        "溢缴款抵扣 credit balance applied",
        lines,
    )


def prepayment_fee(
    event_id: str,
    accounting_date: date,
    dimensions: Dimensions,
    mapping: SubjectMapping,
    amount: Money,
) -> Entries:
    """提前还款手续费: Dr fee receivable, Cr fee income."""
    return _book(
        "fee.prepayment",
        event_id,
        accounting_date,
        dimensions,
        mapping,
        "提前还款手续费 prepayment fee charged",
        [(Role.FEE_RECEIVABLE, Side.DEBIT, amount), (Role.FEE_INCOME, Side.CREDIT, amount)],
    )


def mirrored(entries: Entries, suffix: str, memo: str) -> Entries:
    """``entries`` with every leg on the other side, ids suffixed with ``suffix``."""
    return tuple(
        JournalEntry(
            entry_id=f"{entry.entry_id}{suffix}",
            idempotency_key=f"{entry.idempotency_key}{suffix}",
            accounting_date=entry.accounting_date,
            legs=tuple(leg.mirrored() for leg in entry.legs),
            memo=memo,
        )
        for entry in entries
    )
