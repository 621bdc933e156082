"""Delinquency of a revolving credit line (随借随还): days past due, classification, provisions
and write-off, through THE rules the loans use (one copy of each rule).

- **Days past due** count from the due date of the oldest statement whose minimum payment is not
  fully paid (:meth:`~loancore.servicing.CreditLineAccount.oldest_unpaid_due`; a minimum left
  unpaid is carried into the next one and keeps its due date), 0 within the grace days:
  :func:`~loancore.delinquency.aging.days_past_due`, the rule :func:`~loancore.delinquency.dpd`
  applies to a loan's oldest unpaid installment.
- **Classification** (五级分类, stage, bucket): :func:`~loancore.delinquency.classify_dpd` under the
  product's :class:`~loancore.delinquency.DelinquencyPolicy` (``DailyRules.policy``, or the
  defaults with the line product's grace days), recorded in the standing's history
  (:func:`~loancore.delinquency.classification.record_day`).
- **Days** are closed one at a time (:func:`close_line_days`): each day from the day after the
  standing's watermark (an account never closed: from its last date) is accrued with its own
  ``Accrue`` (event id :func:`~loancore.delinquency.daily.day_event_id`, the loans' format),
  classified, moved in or out of non-accrual and provided for, so an account several days behind
  caught up in one run ends with the history, entries and standing of as many daily closes.
- **Non-accrual** (the loans' rules, :mod:`loancore.delinquency.nonaccrual`): past the policy's
  threshold the interest on the books (accrued, billed, penalty: :func:`line_interest`) is
  reversed out of income into 表外应收未收利息 (:func:`~loancore.delinquency.suspend_booked`);
  while the standing says so, the interest of each catch-up stays off the books and goes to the
  register (:func:`keep_line_off_books`), interest paid is income when received
  (:func:`~loancore.delinquency.income_booked`), a waiver or a payment reversal is refused; a cured
  account's interest comes back (:func:`~loancore.delinquency.reinstate_booked`).
  :func:`apply_line_with_standing` applies a servicing event that way.
- **Provision**: :func:`~loancore.delinquency.provision_for` of the account's exposure: principal
  and fees, and the interest while it is on the books (:func:`line_exposure`, as a loan's).
- **Recovery and sale** (核销后收回, 不良资产转让): :func:`recover_line` and :func:`sell_line`, the
  loans' rules and templates (:mod:`loancore.delinquency.writeoff`).
- **Write-off** (核销): :func:`write_off_line`: interest accrued made receivable, then the
  ``WrittenOff`` template (Dr stage-3 allowance, Cr each receivable) for everything on the books,
  the allowance topped up first if short, 已核销贷款 registering the total; a non-accrual
  account's interest moves from 表外应收未收利息 to 已核销贷款, as a loan's.

The standing is a :class:`~loancore.delinquency.daily.LoanStanding` keyed by the account id, kept
in the same standings store as the loans', so the quota policy sees a borrower's lines too.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs

from loancore.delinquency.aging import days_past_due
from loancore.delinquency.booking import Booking
from loancore.delinquency.classification import (
    Classification,
    RiskClass,
    classify_dpd,
    record_day,
)
from loancore.delinquency.daily import DailyRules, LoanStanding, _allowance_after, day_event_id
from loancore.delinquency.nonaccrual import (
    InterestOnBooks,
    entries_off_books,
    income_booked,
    reinstate_booked,
    suspend_booked,
)
from loancore.delinquency.provisioning import provision_for
from loancore.delinquency.writeoff import (
    OnBooks,
    interest_written_off,
    recover_amount,
    require_nonperforming,
    sell_exposure,
)
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.ledger.entries import JournalEntry, MemoPosting
from loancore.money import Money
from loancore.postings import InterestDue, ProvisionCharged, Stage, WrittenOff
from loancore.servicing.events import Accrue, Repay, ReversePayment, ServicingEvent, Waive
from loancore.servicing.product import CreditLineProduct
from loancore.servicing.revolving_line import (
    CreditLineAccount,
    LineOutcome,
    Statement,
    apply_line,
)

__all__ = [
    "LineDayClose",
    "LineDaysClosed",
    "LineRecovery",
    "LineWriteOff",
    "apply_line_with_standing",
    "close_line_day",
    "close_line_days",
    "keep_line_off_books",
    "line_dpd",
    "line_exposure",
    "line_interest",
    "line_standing_of",
    "recover_line",
    "sell_line",
    "write_off_line",
    "written_off_line",
]


def line_dpd(account: CreditLineAccount, as_of: date, grace_days: int) -> int:
    """Days past due of ``account`` on ``as_of`` (module docstring)."""
    return days_past_due(account.oldest_unpaid_due(), as_of, grace_days)


def line_interest(account: CreditLineAccount) -> InterestOnBooks:
    """The account's interest owed, as the non-accrual rules see it: ``accrued`` (1303.03, this
    cycle's), ``interest`` billed and ``penalty`` interest receivable (1132)."""
    return InterestOnBooks(
        accrued=account.interest_accrued,
        interest=account.interest_billed,
        penalty=account.penalty,
    )


def line_exposure(account: CreditLineAccount, *, non_accrual: bool = False) -> int:
    """What the account has on the books (minor units): principal and fees, and its interest
    (accrued, billed, penalty) unless ``non_accrual`` (then it is off the books)."""
    if non_accrual:
        return account.principal + account.fees
    return account.owed()


_OFF_BOOKS = (("interest.accrued", "accrue"), ("interest.accrued", "penalty"))
"""The entries of a line's catch-up for event ``<id>`` a non-accrual account keeps off the books
(``<template>:<id>.<tag>``); each statement ``n`` closed on the way adds the same under
``<id>.s<n>`` and its due move (``interest.due``, tag ``due``)."""


def keep_line_off_books(
    account: CreditLineAccount, outcome: LineOutcome, event_id: str, as_of: date
) -> tuple[tuple[JournalEntry, ...], tuple[MemoPosting, ...]]:
    """``outcome``'s entries (event ``event_id`` applied to a non-accrual account) with its
    interest accruals and due moves dropped and that interest registered in 表外应收未收利息
    (:func:`~loancore.delinquency.entries_off_books`, the loans' rule); late fees, payments and
    draws stay."""
    dropped = {f"{template}:{event_id}.{tag}": tag for template, tag in _OFF_BOOKS}
    for statement in outcome.statements:  # bounded by the statements closed on the way
        tag = f"{event_id}.s{statement.number}"
        dropped.update({f"{template}:{tag}.{part}": part for template, part in _OFF_BOOKS})
        dropped[f"interest.due:{tag}.due"] = "due"
    return entries_off_books(
        outcome.entries,
        dropped,
        currency=account.currency,
        dimensions=account.dimensions,
        event_id=event_id,
        as_of=as_of,
    )


def apply_line_with_standing(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    event: ServicingEvent,
) -> tuple[LineOutcome, tuple[MemoPosting, ...]]:
    """:func:`~loancore.servicing.apply_line` of ``event``, kept off the books while the
    standing says the account is non-accrual (module docstring): the outcome (its entries
    adjusted) and the memo postings. A waiver or a payment reversal of a non-accrual account is
    refused (``NON_ACCRUAL_EVENT_REFUSED``): it would take back income never booked."""
    if not standing.interest_suspended:
        return apply_line(account, product, event), ()
    if isinstance(event, (Waive, ReversePayment)):
        detail = f"{type(event).__name__} on line {account.account_id}, non-accrual: cure it first"
        raise DelinquencyRejected(RejectionCode.NON_ACCRUAL_EVENT_REFUSED, detail)
    outcome = apply_line(account, product, event)
    kept, memos = keep_line_off_books(outcome.account, outcome, event.event_id, event.as_of)
    received = Booking()
    if isinstance(event, Repay):  # what the payment took of each interest, off the books
        caught = apply_line(account, product, Accrue(event_id=event.event_id, as_of=event.as_of))
        before, after = line_interest(caught.account), line_interest(outcome.account)
        paid = InterestOnBooks(
            accrued=before.accrued - after.accrued,
            interest=before.interest - after.interest,
            penalty=before.penalty - after.penalty,
        )
        received = income_booked(
            paid,
            currency=account.currency,
            dimensions=account.dimensions,
            as_of=event.as_of,
            event_id=event.event_id,
            mapping=product.mapping,
        )
    outcome = attrs.evolve(outcome, entries=received.entries + kept)
    return outcome, memos + received.memo_postings


def line_standing_of(account: CreditLineAccount) -> LoanStanding:
    """An account's standing before its first day closed."""
    customer = dict(account.dimensions).get("customer", "")
    return LoanStanding(loan_id=account.account_id, borrower_id=customer)


@attrs.frozen
class LineDayClose:
    """An account's day closed: its standing after it, the day's classification (None for a
    written-off account) and the provision booked."""

    standing: LoanStanding
    classification: Classification | None
    booking: Booking


def close_line_day(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: DailyRules,
    day: date,
    event_id: str,
) -> LineDayClose:
    """``account`` (already brought to ``day`` by servicing's ``Accrue``) classified on ``day``,
    moved in or out of non-accrual (its interest to or from 表外应收未收利息, event id
    ``event_id``) and its allowance brought to the requirement (event ids
    ``<event_id>.stage<n>``). A written-off account only moves the watermark."""
    if standing.loan_id != account.account_id:
        raise InvalidInput("standing", standing.loan_id, f"the account {account.account_id}")
    if account.written_off_on is not None:
        return LineDayClose(attrs.evolve(standing, closed_through=day), None, Booking())
    policy = rules.policy_for(product)
    today = classify_dpd(line_dpd(account, day, policy.grace_days), day, policy)
    history = record_day(standing.history, today)
    suspended, booking = standing.interest_suspended, Booking()
    move = None
    if today.non_accrual and not suspended:
        move = suspend_booked
    elif suspended and not today.non_accrual:
        move = reinstate_booked
    if move is not None:
        booking = move(
            line_interest(account),
            currency=account.currency,
            dimensions=account.dimensions,
            as_of=day,
            event_id=event_id,
            mapping=product.mapping,
        )
    provision = provision_for(
        line_exposure(account, non_accrual=today.non_accrual),
        today,
        currency=account.currency,
        dimensions=account.dimensions,
        current=standing.allowance_by_stage(account.currency),
        rates=rules.rates,
        rounding=rules.rounding,
        event_id=event_id,
        mapping=product.mapping,
    )
    standing = attrs.evolve(
        standing,
        closed_through=day,
        dpd=today.dpd,
        interest_suspended=today.non_accrual,
        allowance=_allowance_after(standing.allowance, provision),
        history=history,
    )
    return LineDayClose(standing, today, booking + provision)


@attrs.frozen
class LineDaysClosed:
    """Days closed for one account (:func:`close_line_days`): the account and standing after
    them, how many days, the entries and memo postings to post (servicing's and delinquency's,
    day by day), the statements closed, the servicing entries alone (an account's record names
    them) and the last day's ``Accrue`` applied (None: the account itself did not move)."""

    account: CreditLineAccount
    standing: LoanStanding
    days: int
    entries: tuple[JournalEntry, ...]
    memo_postings: tuple[MemoPosting, ...]
    statements: tuple[Statement, ...]
    servicing_entries: tuple[JournalEntry, ...]
    last_event: Accrue | None


def _first_day(account: CreditLineAccount, standing: LoanStanding) -> date:
    if standing.closed_through is None:
        return account.last_date
    return standing.closed_through + timedelta(days=1)


def close_line_days(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: DailyRules,
    through: date,
    *,
    days_max: int,
) -> LineDaysClosed:
    """``account`` closed day by day from the day after its standing's watermark (never closed:
    its last date) through ``through`` (module docstring): each day an ``Accrue`` of id
    :func:`~loancore.delinquency.daily.day_event_id` (kept off the books while non-accrual), then
    :func:`close_line_day`. A day before the account's last date (an event applied without
    closing the days before it) only moves the watermark, as a loan's does; a written-off account
    only moves it. More than ``days_max`` days: InvalidInput (``business_date``)."""
    day = _first_day(account, standing)
    days = (through - day).days + 1
    if days > days_max:
        raise InvalidInput("business_date", through, f"{days} days to close, at most {days_max}")
    entries: list[JournalEntry] = []
    memos: list[MemoPosting] = []
    statements: list[Statement] = []
    servicing: list[JournalEntry] = []
    last: Accrue | None = None
    for _ in range(max(days, 0)):  # bounded by days_max
        event_id = day_event_id(account.account_id, day)
        if account.written_off_on is None and account.last_date > day:
            standing = attrs.evolve(standing, closed_through=day)
            day += timedelta(days=1)
            continue
        done = account.last_date == day and event_id in account.applied_on_last_date
        if account.written_off_on is None and not done:
            event = Accrue(event_id=event_id, as_of=day)
            outcome, off = apply_line_with_standing(account, product, standing, event)
            account, last = outcome.account, event
            entries.extend(outcome.entries)
            servicing.extend(outcome.entries)
            memos.extend(off)
            statements.extend(outcome.statements)
        closed = close_line_day(account, product, standing, rules, day, event_id)
        standing = closed.standing
        entries.extend(closed.booking.entries)
        memos.extend(closed.booking.memo_postings)
        day += timedelta(days=1)
    return LineDaysClosed(
        account,
        standing,
        max(days, 0),
        tuple(entries),
        tuple(memos),
        tuple(statements),
        tuple(servicing),
        last,
    )


@attrs.frozen
class LineWriteOff:
    """A line written off: the account and standing after it, and what to post."""

    account: CreditLineAccount
    standing: LoanStanding
    booking: Booking


def write_off_line(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: DailyRules,
    *,
    as_of: date,
    event_id: str,
) -> LineWriteOff:
    """核销 ``account`` (brought to ``as_of`` already) against its stage-3 allowance (module
    docstring), then every stage's allowance left released (the exposure is gone). Refused
    (``LOAN_NOT_ACTIVE``) if already written off, (``NOTHING_TO_WRITE_OFF``) if it owes
    nothing. Event ids: ``<event_id>`` (the write-off), ``.forward``, ``.topup``,
    ``.stage<n>`` (the release)."""
    if account.written_off_on is not None:
        detail = f"line {account.account_id} was written off on {account.written_off_on}"
        raise DelinquencyRejected(RejectionCode.LOAN_NOT_ACTIVE, detail)
    total = account.owed()
    if not total:
        detail = f"line {account.account_id} has nothing left to be written off"
        raise DelinquencyRejected(RejectionCode.NOTHING_TO_WRITE_OFF, detail)
    money, dimensions = account.money, account.dimensions
    suspended = standing.interest_suspended
    off = line_interest(account).total if suspended else 0  # in 表外应收未收利息
    total -= off  # what is on the books
    events: list[InterestDue | ProvisionCharged | WrittenOff] = []
    if account.interest_accrued and not suspended:
        forward = money(account.interest_accrued)
        events.append(
            InterestDue(
                event_id=f"{event_id}.forward",
                accounting_date=as_of,
                dimensions=dimensions,
                amount=forward,
            )
        )
    shortfall = total - standing.allowance[2]
    if shortfall > 0:
        events.append(
            ProvisionCharged(
                event_id=f"{event_id}.topup",
                accounting_date=as_of,
                dimensions=dimensions,
                stage=Stage.THREE,
                amount=money(shortfall),
            )
        )
    events.append(
        WrittenOff(
            event_id=event_id,
            accounting_date=as_of,
            dimensions=dimensions,
            principal=money(account.principal),
            interest=money(0 if suspended else account.interest_accrued + account.interest_billed),
            penalty=money(0 if suspended else account.penalty),
            fee=money(account.fees),
        )
    )
    moved = interest_written_off(
        off, currency=account.currency, dimensions=dimensions, as_of=as_of, event_id=event_id
    )
    booking = Booking.of(events, product.mapping, moved)
    first, second, third = standing.allowance
    left = (first, second, third + max(shortfall, 0) - total)
    standing, release = _released(account, product, standing, left, rules, as_of, event_id)
    standing = attrs.evolve(
        standing,
        closed_through=max(as_of, standing.closed_through or as_of),
        interest_suspended=False,
        written_off=standing.written_off + total + off,
    )
    return LineWriteOff(written_off_line(account, as_of=as_of), standing, booking + release)


def _released(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    left: tuple[int, int, int],
    rules: DailyRules,
    as_of: date,
    event_id: str,
) -> tuple[LoanStanding, Booking]:
    """The allowance ``left`` per stage released (nothing is on the books any more): the
    standing with what stays (nothing) and the release (event ids ``<event_id>.stage<n>``)."""
    release = provision_for(
        0,  # nothing left on the books: every stage's allowance to zero
        classify_dpd(0, as_of, rules.policy_for(product)),
        currency=account.currency,
        dimensions=account.dimensions,
        current=attrs.evolve(standing, allowance=left).allowance_by_stage(account.currency),
        rates=rules.rates,
        rounding=rules.rounding,
        event_id=event_id,
        mapping=product.mapping,
    )
    return attrs.evolve(standing, allowance=_allowance_after(left, release)), release


@attrs.frozen
class LineRecovery:
    """A recovery on a written-off line: the standing after it and what to post."""

    standing: LoanStanding
    booking: Booking


def recover_line(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: DailyRules,
    amount: Money,
    *,
    as_of: date,
    event_id: str,
) -> LineRecovery:
    """核销后收回 ``amount`` on a written-off ``account`` (the loans' rule,
    :func:`~loancore.delinquency.writeoff.recover_amount`): Dr 3001 Cr 1304.03, the allowance so
    restored released at once (Dr 1304.03 Cr 6702, event id ``<event_id>.release.stage3``: the
    line has nothing on the books), 已核销贷款 reduced. More than the register holds for the line
    (``standing.written_off``) is refused (``RECOVERY_EXCEEDS_WRITTEN_OFF``)."""
    booking = recover_amount(
        amount,
        written_off_balance=account.money(standing.written_off),
        currency=account.currency,
        dimensions=account.dimensions,
        owner=f"line {account.account_id}",
        as_of=as_of,
        event_id=event_id,
        mapping=product.mapping,
    )
    first, second, third = standing.allowance
    left = (first, second, third + amount.minor_units)
    release_id = f"{event_id}.release"
    after, release = _released(account, product, standing, left, rules, as_of, release_id)
    after = attrs.evolve(after, written_off=standing.written_off - amount.minor_units)
    return LineRecovery(after, booking + release)


def sell_line(
    account: CreditLineAccount,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: DailyRules,
    price: Money,
    *,
    as_of: date,
    event_id: str,
) -> LineWriteOff:
    """不良资产转让 of ``account`` (brought to ``as_of`` already) for ``price``, the loans' rules: its
    interest taken off the books first if it is still accrued
    (:func:`~loancore.delinquency.suspend_booked`, event id ``<event_id>.suspend``), then
    derecognised against the allowance of its last stage with the gain or loss to 6702
    (:func:`~loancore.delinquency.writeoff.sell_exposure`), the buyer taking the off-balance
    interest; every other stage's allowance released. The account is then closed as a
    written-off one is (:func:`written_off_line`), with nothing in 已核销贷款. Refused:
    ``SALE_OF_PERFORMING_LOAN`` (better than 次级 by its last classification), ``LOAN_NOT_ACTIVE``,
    ``NOTHING_TO_WRITE_OFF``."""
    current = standing.history.current
    risk_class = RiskClass.NORMAL if current is None else current.risk_class
    require_nonperforming(risk_class, f"line {account.account_id}")
    if account.written_off_on is not None:
        detail = f"line {account.account_id} was written off on {account.written_off_on}"
        raise DelinquencyRejected(RejectionCode.LOAN_NOT_ACTIVE, detail)
    if not account.owed():
        detail = f"line {account.account_id} has nothing left to be sold"
        raise DelinquencyRejected(RejectionCode.NOTHING_TO_WRITE_OFF, detail)
    stage = Stage.ONE if current is None else current.stage
    interest = line_interest(account)
    first = Booking()
    if not standing.interest_suspended:
        first = suspend_booked(
            interest,
            currency=account.currency,
            dimensions=account.dimensions,
            as_of=as_of,
            event_id=f"{event_id}.suspend",
            mapping=product.mapping,
        )
    index = int(stage) - 1
    allowance = standing.allowance[index]
    sold = sell_exposure(
        OnBooks(principal=account.principal, fees=account.fees, interest=interest.total),
        price,
        allowance=account.money(allowance),
        allowance_stage=stage,
        currency=account.currency,
        dimensions=account.dimensions,
        as_of=as_of,
        event_id=event_id,
        mapping=product.mapping,
    )
    left = list(standing.allowance)
    left[index] = 0
    after, release = _released(
        account, product, standing, (left[0], left[1], left[2]), rules, as_of, event_id
    )
    after = attrs.evolve(
        after,
        closed_through=max(as_of, standing.closed_through or as_of),
        interest_suspended=False,
    )
    gone = written_off_line(account, as_of=as_of)
    return LineWriteOff(gone, after, first + sold + release)


def written_off_line(account: CreditLineAccount, *, as_of: date) -> CreditLineAccount:
    """``account`` after its write-off on ``as_of``: nothing owed, no minimum, its principal
    moved to ``principal_written_off``; it takes no more money events."""
    return attrs.evolve(
        account,
        principal=0,
        interest_accrued=0,
        interest_billed=0,
        penalty=0,
        fees=0,
        cycle_changes=(),
        minimum_unpaid=0,
        minimums=(),
        late_charged=True,
        overdue_changes=(),
        principal_written_off=account.principal_written_off + account.principal,
        written_off_on=as_of,
        last_date=max(account.last_date, as_of),
    ).check()
