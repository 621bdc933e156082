"""Non-accrual (停止计息入账, 表外核算): interest of a loan far past due leaves income.

When a loan passes its product's threshold (more than 90 days past due by default) the interest
booked but not received is reversed out of income into the off-balance register 表外应收未收利息:
contract interest accrued (1303.03) and receivable (1132), penalty (罚息) and compound (复利)
interest receivable (1132). The reversal takes back the accrual entries through the postings
templates (a :class:`~loancore.postings.Cancellation` of each: Dr 6011 income, Cr 1303.03 / 1132;
the contract interest that fell due first goes back from 1132 to 1303.03). While the loan stays
non-accrual its interest is kept in the register only, and cash received for interest is income
when received (:func:`income_on_receipt`). When the loan is cured (back within the threshold) the
interest still owed comes back onto the books (:func:`reinstate_interest`), the register falling
by the same amount.

Fees (1221) stay on the books: they are provided for, not suspended.

Each rule is written once over the amounts (:class:`InterestOnBooks`) and the currency and
dimensions of whatever holds them: :func:`suspend_booked`, :func:`reinstate_booked`,
:func:`income_booked` and :func:`entries_off_books`. The loan functions read a loan's amounts
(:func:`interest_on_books`) and call them; a revolving credit line
(:mod:`loancore.delinquency.lines`) calls them with its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

import attrs

from loancore.delinquency.booking import Booking, memo_posting
from loancore.delinquency.classification import Classification
from loancore.ledger.entries import (
    Dimensions,
    JournalEntry,
    MemoDirection,
    MemoPosting,
    MemoRegister,
)
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    Cancellation,
    Component,
    Event,
    InterestAccrued,
    InterestDue,
    SubjectMapping,
)
from loancore.servicing.loan import Loan, Transaction

__all__ = [
    "InterestOnBooks",
    "entries_off_books",
    "income_booked",
    "income_on_receipt",
    "interest_on_books",
    "interest_paid_by",
    "non_accrual_move",
    "reinstate_booked",
    "reinstate_interest",
    "suspend_booked",
    "suspend_interest",
]


@attrs.frozen(kw_only=True)
class InterestOnBooks:
    """Interest-like amounts in minor units: contract interest ``accrued`` (not yet due, 1303.03),
    contract ``interest`` receivable, ``penalty`` and ``compound`` receivable (1132)."""

    accrued: int = 0
    interest: int = 0
    penalty: int = 0
    compound: int = 0

    @property
    def total(self) -> int:
        return self.accrued + self.interest + self.penalty + self.compound


def interest_on_books(loan: Loan) -> InterestOnBooks:
    """What ``loan`` holds as interest booked and not settled (a non-accrual loan: what the
    register 表外应收未收利息 holds for it, if servicing keeps its interest off the books)."""
    accrued = interest = penalty = compound = 0
    for inst in loan.installments:  # bounded by the loan's installments; one pass
        accrued += inst.interest_accrued - inst.interest.booked
        interest += inst.interest.receivable
        penalty += inst.penalty.receivable
        compound += inst.compound.receivable
    return InterestOnBooks(accrued=accrued, interest=interest, penalty=penalty, compound=compound)


def interest_paid_by(transaction: Transaction) -> InterestOnBooks:
    """The interest, penalty and compound interest a servicing transaction's allocation lines
    paid (what :func:`income_on_receipt` recognises on a non-accrual loan)."""
    paid = dict.fromkeys(("interest", "penalty", "compound"), 0)
    for _number, component, amount in transaction.lines:  # bounded by the loan's history line
        if component in paid:
            paid[component] += amount
    return InterestOnBooks(**paid)


def _accruals(
    amounts: InterestOnBooks, currency: str, dims: Dimensions, event_id: str, as_of: date
) -> tuple[Event, ...]:
    """The events that book ``amounts`` as the accrual flow does: contract interest accrued, the
    part that fell due moved to receivable, penalty and compound accrued."""

    def money(minor: int) -> Money:
        return Money.from_minor(minor, currency)

    def accrued(tag: str, component: Component, minor: int) -> InterestAccrued:
        return InterestAccrued(
            event_id=f"{event_id}.{tag}",
            accounting_date=as_of,
            dimensions=dims,
            component=component,
            amount=money(minor),
        )

    due = InterestDue(
        event_id=f"{event_id}.due",
        accounting_date=as_of,
        dimensions=dims,
        amount=money(amounts.interest),
    )
    return (
        accrued("interest", Component.INTEREST, amounts.accrued + amounts.interest),
        due,
        accrued("penalty", Component.PENALTY, amounts.penalty),
        accrued("compound", Component.COMPOUND, amounts.compound),
    )


def _register(
    direction: MemoDirection,
    minor: int,
    kind: str,
    event_id: str,
    as_of: date,
    currency: str,
    dims: Dimensions,
) -> tuple[MemoPosting, ...]:
    return memo_posting(
        MemoRegister.OFF_BALANCE_INTEREST,
        direction,
        Money.from_minor(minor, currency),
        kind=kind,
        event_id=event_id,
        accounting_date=as_of,
        dimensions=dims,
        memo=f"表外应收未收利息 {kind}",
    )


def suspend_booked(
    amounts: InterestOnBooks,
    *,
    currency: str,
    dimensions: Dimensions,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """转入表外 of ``amounts`` (interest on the books of a loan or line): each accrual cancelled,
    latest step first (the part due back from 1132 to 1303.03, then the accruals out of income),
    the total registered in 表外应收未收利息 (id ``memo.interest.suspended:<event_id>``). Entry ids
    ``<template>:<event_id>.<part>.back``."""
    accruals = _accruals(amounts, currency, dimensions, event_id, as_of)
    due_back = Cancellation.of(accruals[1], as_of)  # 1132 back to 1303.03 first
    rest = tuple(Cancellation.of(e, as_of) for e in (accruals[0], *accruals[2:]))
    memos = _register(
        MemoDirection.INCREASE,
        amounts.total,
        "interest.suspended",
        event_id,
        as_of,
        currency,
        dimensions,
    )
    return Booking.of((due_back, *rest), mapping, memos)


def _booked_again(
    kind: str,
    amounts: InterestOnBooks,
    currency: str,
    dimensions: Dimensions,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping,
) -> Booking:
    """``amounts`` booked as the accrual flow books them, taken off 表外应收未收利息 (id
    ``memo.<kind>:<event_id>``)."""
    memos = _register(
        MemoDirection.DECREASE, amounts.total, kind, event_id, as_of, currency, dimensions
    )
    accruals = _accruals(amounts, currency, dimensions, event_id, as_of)
    return Booking.of(accruals, mapping, memos)


def reinstate_booked(
    amounts: InterestOnBooks,
    *,
    currency: str,
    dimensions: Dimensions,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """回表 of ``amounts`` (interest still owed, kept off the books): booked again as the accrual
    flow books it and taken off 表外应收未收利息 (id ``memo.interest.reinstated:<event_id>``)."""
    kind = "interest.reinstated"
    return _booked_again(kind, amounts, currency, dimensions, as_of, event_id, mapping)


def income_booked(
    paid: InterestOnBooks,
    *,
    currency: str,
    dimensions: Dimensions,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """Cash for interest kept off the books is income when received: the ``paid`` amounts booked
    as accrued and receivable (Dr 1303.03 / 1132, Cr 6011) just before servicing's own repayment
    entry credits the receivables (net: Dr cash, Cr 6011), and taken off 表外应收未收利息 (id
    ``memo.interest.received:<event_id>``)."""
    kind = "interest.received"
    return _booked_again(kind, paid, currency, dimensions, as_of, event_id, mapping)


_MOVES = frozenset({"due", "forward.due"})
"""Tags of entries that only move interest from accrued to receivable (no interest of their own)."""


def entries_off_books(
    entries: Iterable[JournalEntry],
    dropped: Mapping[str, str],
    *,
    currency: str,
    dimensions: Dimensions,
    event_id: str,
    as_of: date,
) -> tuple[tuple[JournalEntry, ...], tuple[MemoPosting, ...]]:
    """``entries`` of a catch-up (event ``event_id``) on something non-accrual: the entries whose
    id ``dropped`` names left out, their interest (the debit side; none for a tag ``due`` or
    ``forward.due``, which only move interest between two receivables) registered in 表外应收未收利息 (memo id
    ``memo.interest.accrued:<event_id>``). Returns the entries kept and the memo postings."""
    kept: list[JournalEntry] = []
    interest = 0
    for entry in entries:  # bounded by the outcome's entries
        tag = dropped.get(entry.entry_id)
        if tag is None:
            kept.append(entry)
        elif tag not in _MOVES:
            interest += sum(leg.signed_minor for leg in entry.legs if leg.signed_minor > 0)
    memos = memo_posting(
        MemoRegister.OFF_BALANCE_INTEREST,
        MemoDirection.INCREASE,
        Money.from_minor(interest, currency),
        kind="interest.accrued",
        event_id=event_id,
        accounting_date=as_of,
        dimensions=dimensions,
        memo="表外应收未收利息 interest.accrued",
    )
    return tuple(kept), memos


_Rule = Callable[..., Booking]


def _for_loan(
    rule: _Rule,
    loan: Loan,
    amounts: InterestOnBooks,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping,
) -> Booking:
    """``rule`` (one of the ``*_booked`` rules) over ``amounts`` of ``loan``."""
    return rule(
        amounts,
        currency=loan.currency,
        dimensions=loan.dimensions,
        as_of=as_of,
        event_id=event_id,
        mapping=mapping,
    )


def suspend_interest(
    loan: Loan, *, as_of: date, event_id: str, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Booking:
    """转入表外: the interest ``loan`` has on the books (:func:`interest_on_books`) reversed out of
    income and registered in 表外应收未收利息 (:func:`suspend_booked`)."""
    return _for_loan(suspend_booked, loan, interest_on_books(loan), as_of, event_id, mapping)


def reinstate_interest(
    loan: Loan, *, as_of: date, event_id: str, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Booking:
    """回表 (cure): the interest ``loan`` still owes (kept off the books while non-accrual) booked
    again and taken off 表外应收未收利息 (:func:`reinstate_booked`)."""
    return _for_loan(reinstate_booked, loan, interest_on_books(loan), as_of, event_id, mapping)


def income_on_receipt(
    loan: Loan,
    paid: InterestOnBooks,
    *,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """Cash for interest on a non-accrual loan is income when received (:func:`income_booked`)."""
    return _for_loan(income_booked, loan, paid, as_of, event_id, mapping)


def non_accrual_move(
    before: Classification | None,
    after: Classification,
    loan: Loan,
    *,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """What a change of standing books: entering non-accrual suspends the interest on the books,
    leaving it reinstates what is still owed, anything else books nothing. ``before`` None is a
    loan never classified (accruing)."""
    was = before is not None and before.non_accrual
    if after.non_accrual and not was:
        return suspend_interest(loan, as_of=after.as_of, event_id=event_id, mapping=mapping)
    if was and not after.non_accrual:
        return reinstate_interest(loan, as_of=after.as_of, event_id=event_id, mapping=mapping)
    return Booking()
