"""One loan's business day closed, and a servicing event applied to a loan with a standing: the
pure core of the end-of-day batch (:mod:`loancore.services.end_of_day` stores and posts).

A loan's :class:`LoanStanding` is what the batch keeps beside the loan: the last business date
closed for it (the watermark), its classification history, the allowance booked per stage,
whether its interest is off the books (non-accrual), what 已核销贷款 holds for it, and the figures
the quota policy reads (borrower, DPD, on-time repayments).

:func:`close_day` closes ONE day, in this order (docs/end-of-day.md):

1. **accrual**: servicing's :class:`~loancore.servicing.Accrue` to the day (interest, due dates,
   penalty, compound interest, late fees; :func:`loancore.servicing.accrual.catch_up`), event id
   :func:`day_event_id`; on a non-accrual loan the interest entries stay off the books and go to
   表外应收未收利息 instead (:func:`keep_off_books`);
2. **classification**: DPD, bucket, class, stage (:func:`~loancore.delinquency.classify_day`);
3. **non-accrual**: entering suspends the interest on the books, leaving (cured) reinstates it
   (:func:`~loancore.delinquency.suspend_interest`, :func:`~loancore.delinquency.reinstate_interest`);
4. **provision**: the loan's allowance brought to the required balance
   (:func:`~loancore.delinquency.loan_provision`).

:func:`apply_with_standing` applies a servicing event so that a non-accrual loan stays off the
books: its catch-up interest goes to the register, and interest paid is income when received
(:func:`~loancore.delinquency.income_on_receipt`). :func:`written_off_loan` and :func:`sold_loan`
are the loan's own state after a write-off or a sale.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date

import attrs

from loancore.checks import require_id
from loancore.delinquency.booking import Booking
from loancore.delinquency.classification import (
    Classification,
    ClassificationHistory,
    DelinquencyPolicy,
    classify,
    record_day,
)
from loancore.delinquency.nonaccrual import (
    entries_off_books,
    income_on_receipt,
    interest_paid_by,
    reinstate_interest,
    suspend_interest,
)
from loancore.delinquency.provisioning import CLASS_RATES_2002, ProvisionRates, loan_provision
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.ledger.entries import JournalEntry, MemoPosting
from loancore.money import Money, Rounding
from loancore.postings import ProvisionCharged, ProvisionReleased, Stage
from loancore.servicing.engine import apply
from loancore.servicing.events import Accrue, Outcome, ReversePayment, ServicingEvent, Waive
from loancore.servicing.loan import Loan, LoanStatus, TransactionKind
from loancore.servicing.product import CreditLineProduct, LoanProduct

__all__ = [
    "DailyRules",
    "DayClose",
    "LoanStanding",
    "apply_with_standing",
    "close_day",
    "day_event_id",
    "keep_off_books",
    "on_time_repayments",
    "sold_loan",
    "standing_of",
    "written_off_loan",
]

_PAYING = frozenset(
    {
        TransactionKind.REPAYMENT,
        TransactionKind.PREPAYMENT,
        TransactionKind.PAYOFF,
        TransactionKind.CREDIT_APPLIED,
    }
)
"""Transactions whose allocation lines are cash (or credit) paid against the loan."""

_OFF_BOOKS = (
    ("interest.accrued", "accrue"),
    ("interest.due", "due"),
    ("interest.accrued", "penalty"),
    ("interest.accrued", "compound"),
    ("interest.accrued", "forward.accrue"),
    ("interest.due", "forward.due"),
)
"""The entries of an event (``<template>:<event id>.<tag>``) a non-accrual loan keeps off the
books: its catch-up's (loancore.servicing.accrual) contract interest accrued and moved to
receivable, penalty and compound interest accrued; and a payment's beyond what is due
(loancore.servicing.common.forward_entries): the interest of a coming installment it accrues
ahead of time and moves to receivable, which the payment then pays (income on receipt, taken
off the register with the rest of the interest paid). ``due`` and ``forward.due`` only move
interest between two receivables, so they add nothing to the register. (The management fee a
payment charges ahead, ``forward.fee``, stays on the books: fees are not suspended.)"""


@attrs.frozen(kw_only=True)
class LoanStanding:
    """What the end-of-day batch keeps for one loan (module docstring). Amounts in minor units of
    the loan's currency; ``allowance`` is the allowance booked in stages 1, 2 and 3 (1304.01-03);
    ``closed_through`` None: never closed (the first day closed is the loan's last event's)."""

    loan_id: str = attrs.field(validator=lambda _i, _a, v: require_id("loan_id", v))
    borrower_id: str = ""
    closed_through: date | None = None
    dpd: int = 0
    on_time_repayments: int = 0
    interest_suspended: bool = False
    allowance: tuple[int, int, int] = (0, 0, 0)
    written_off: int = 0
    history: ClassificationHistory = attrs.field()

    @history.default
    def _history(self) -> ClassificationHistory:
        return ClassificationHistory(loan_id=self.loan_id)

    def __attrs_post_init__(self) -> None:
        if self.history.loan_id != self.loan_id:
            raise InvalidInput("history", self.history.loan_id, f"the loan {self.loan_id}")
        if len(self.allowance) != 3 or min(self.allowance) < 0 or self.written_off < 0:
            raise InvalidInput("allowance", self.allowance, "three amounts >= 0")

    def allowance_by_stage(self, currency: str) -> dict[Stage, Money]:
        """The allowance booked per stage; a stage with none is left out (zero)."""
        return {
            stage: Money.from_minor(minor, currency)
            for stage, minor in zip(Stage, self.allowance, strict=True)
            if minor
        }


def standing_of(loan: Loan) -> LoanStanding:
    """A loan's standing before its first day closed."""
    return LoanStanding(loan_id=loan.loan_id, borrower_id=dict(loan.dimensions).get("customer", ""))


@attrs.frozen(kw_only=True)
class DailyRules:
    """A product's end-of-day settings: the delinquency policy (None: the defaults with the
    product's own grace days), the provision rates and the one rounding mode of provisions."""

    policy: DelinquencyPolicy | None = None
    rates: ProvisionRates = CLASS_RATES_2002
    rounding: Rounding = attrs.field(default=Rounding.HALF_UP, converter=Rounding)

    def policy_for(self, product: LoanProduct | CreditLineProduct) -> DelinquencyPolicy:
        if self.policy is not None:
            return self.policy
        return _default_policy(product.grace_days)


@functools.lru_cache(maxsize=128)
def _default_policy(grace_days: int) -> DelinquencyPolicy:
    """The default policy with the product's grace days (built once per grace, not per loan)."""
    return DelinquencyPolicy(grace_days=grace_days)


@attrs.frozen
class DayClose:
    """A day closed: the loan and standing after it, the day's classification, and what to post
    (entries, then memo postings)."""

    loan: Loan
    standing: LoanStanding
    classification: Classification | None
    entries: tuple[JournalEntry, ...]
    memo_postings: tuple[MemoPosting, ...]


def day_event_id(loan_id: str, day: date) -> str:
    """The id of ``loan_id``'s end-of-day events on ``day``: ``eod<yyyymmdd>-<loan id>`` (the
    ledger's idempotency keys derive from it, so a day closed twice posts once)."""
    # isoformat without its dashes is %Y%m%d for the years a date may have (checks.DATE_MIN ..
    # DATE_MAX), at a third of strftime's cost: every loan-day and every summed entry asks
    return f"eod{day.isoformat()[:10].replace('-', '')}-{loan_id}"


def keep_off_books(
    loan: Loan, entries: Iterable[JournalEntry], event_id: str, as_of: date
) -> tuple[tuple[JournalEntry, ...], tuple[MemoPosting, ...]]:
    """``entries`` of a catch-up for event ``event_id`` on a non-accrual loan: the interest
    entries (see ``_OFF_BOOKS``) dropped, their interest registered in 表外应收未收利息 (memo id
    ``memo.interest.accrued:<event_id>``). Returns the entries kept and the memo postings."""
    dropped = {f"{template}:{event_id}.{tag}": tag for template, tag in _OFF_BOOKS}
    return entries_off_books(
        entries,
        dropped,
        currency=loan.currency,
        dimensions=loan.dimensions,
        event_id=event_id,
        as_of=as_of,
    )


def on_time_repayments(loan: Loan) -> int:
    """Installments fully paid (principal and interest) by payments on or before their due
    date: the count the quota policy raises limits on."""
    last_paid: dict[int, date] = {}
    for txn in loan.history:  # bounded by HISTORY_MAX
        if txn.kind in _PAYING and txn.reversed_by is None:
            for number, _component, _amount in txn.lines:
                last_paid[number] = txn.as_of
    count = 0
    for inst in loan.installments:
        paid = inst.principal.outstanding == 0 and inst.interest.outstanding == 0
        when = last_paid.get(inst.number)
        if paid and when is not None and when <= inst.due_date:
            count += 1
    return count


def apply_with_standing(
    loan: Loan, product: LoanProduct, standing: LoanStanding, event: ServicingEvent
) -> Outcome:
    """:func:`loancore.servicing.apply` of ``event``, kept off the books while the loan is
    non-accrual (module docstring). A waiver or a payment reversal on a non-accrual loan is
    refused (``NON_ACCRUAL_EVENT_REFUSED``): it would take back income never booked."""
    suspended = standing.interest_suspended
    if suspended and isinstance(event, (Waive, ReversePayment)):
        detail = f"{type(event).__name__} on loan {loan.loan_id}, non-accrual: cure it first"
        raise DelinquencyRejected(RejectionCode.NON_ACCRUAL_EVENT_REFUSED, detail)
    outcome = apply(loan, product, event)
    if not suspended:
        return outcome
    kept, memos = keep_off_books(outcome.loan, outcome.entries, event.event_id, event.as_of)
    txn = outcome.loan.transaction(event.event_id)
    received = Booking()
    if txn is not None and txn.kind in _PAYING:
        received = income_on_receipt(
            outcome.loan,
            interest_paid_by(txn),
            as_of=event.as_of,
            event_id=event.event_id,
            mapping=product.mapping,
        )
    return attrs.evolve(
        outcome,
        entries=received.entries + kept,
        memo_postings=memos + received.memo_postings + outcome.memo_postings,
    )


def _accrue(
    loan: Loan, product: LoanProduct, standing: LoanStanding, day: date, event_id: str
) -> tuple[Loan, Booking]:
    outcome = apply(loan, product, Accrue(event_id=event_id, as_of=day))
    entries, memos = outcome.entries, outcome.memo_postings
    if standing.interest_suspended:
        entries, extra = keep_off_books(outcome.loan, entries, event_id, day)
        memos = extra + memos
    return outcome.loan, Booking((), entries, memos)


def close_day(
    loan: Loan, product: LoanProduct, standing: LoanStanding, rules: DailyRules, day: date
) -> DayClose:
    """``loan``'s business day ``day`` closed (module docstring). The day must be after
    ``standing.closed_through``; a loan not active, or whose last event is after ``day`` (an
    event applied without closing the days before it), only moves the watermark."""
    if standing.closed_through is not None and day <= standing.closed_through:
        raise InvalidInput("day", day, f"after {standing.closed_through}, the last day closed")
    if loan.status is not LoanStatus.ACTIVE or loan.last_date > day:
        return DayClose(loan, attrs.evolve(standing, closed_through=day), None, (), ())
    event_id = day_event_id(loan.loan_id, day)
    loan, booking = _accrue(loan, product, standing, day, event_id)
    policy = rules.policy_for(product)
    today = classify(loan, day, policy)
    history = record_day(standing.history, today)
    suspended = standing.interest_suspended
    if today.non_accrual and not suspended:
        booking += suspend_interest(loan, as_of=day, event_id=event_id, mapping=product.mapping)
    elif suspended and not today.non_accrual:
        booking += reinstate_interest(loan, as_of=day, event_id=event_id, mapping=product.mapping)
    provision = loan_provision(
        loan,
        today,
        current=standing.allowance_by_stage(loan.currency),
        rates=rules.rates,
        rounding=rules.rounding,
        event_id=event_id,
        mapping=product.mapping,
    )
    booking += provision
    allowance = _allowance_after(standing.allowance, provision)
    standing = attrs.evolve(
        standing,
        closed_through=day,
        dpd=today.dpd,
        on_time_repayments=on_time_repayments(loan),
        interest_suspended=today.non_accrual,
        allowance=allowance,
        history=history,
    )
    return DayClose(loan, standing, today, booking.entries, booking.memo_postings)


def _allowance_after(before: tuple[int, int, int], booking: Booking) -> tuple[int, int, int]:
    """The allowance per stage after ``booking``'s provision events (charged adds, released
    takes away)."""
    result = list(before)
    for event in booking.events:  # bounded: at most one event per stage
        if isinstance(event, ProvisionCharged):
            result[int(event.stage) - 1] += event.amount.minor_units
        elif isinstance(event, ProvisionReleased):
            result[int(event.stage) - 1] -= event.amount.minor_units
    return (result[0], result[1], result[2])


def _parts_written_off(loan: Loan) -> Loan:
    """Every receivable part written off and contract interest not yet booked dropped."""
    installments = []
    for inst in loan.installments:  # bounded by the loan's installments
        booked = inst.interest.booked
        changed = attrs.evolve(
            inst, interest=attrs.evolve(inst.interest, due=booked), interest_accrued=booked
        )
        for name in ("principal", "interest", "fee", "penalty", "compound"):
            part = getattr(changed, name)
            written = attrs.evolve(part, written_off=part.written_off + part.receivable)
            changed = attrs.evolve(changed, **{name: written})
        installments.append(changed)
    return attrs.evolve(loan, installments=tuple(installments))


def written_off_loan(loan: Loan, *, as_of: date) -> Loan:
    """``loan`` after its write-off (核销) on ``as_of``: every receivable part written off
    (``Part.written_off``, per installment and component), contract interest not yet booked
    dropped, status ``written_off``, version up by one. Principal stays conserved."""
    changed = _parts_written_off(loan)
    return attrs.evolve(
        changed,
        status=LoanStatus.WRITTEN_OFF,
        last_date=max(loan.last_date, as_of),
        version=loan.version + 1,
    ).check()


def sold_loan(loan: Loan, *, as_of: date) -> Loan:
    """``loan`` after its sale (不良资产转让) on ``as_of``: derecognised as a write-off is
    (the parts show what left the books), status ``sold``, version up by one."""
    return attrs.evolve(written_off_loan(loan, as_of=as_of), status=LoanStatus.SOLD)
