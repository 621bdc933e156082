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
- **Provision**: :func:`~loancore.delinquency.provision_for` of the account's exposure: principal,
  interest accrued and billed, penalty interest and fees (a line keeps accruing: non-accrual is
  classified and recorded, but its interest stays on the books and in the exposure).
- **Write-off** (核销): :func:`write_off_line`: interest accrued made receivable, then the
  ``WrittenOff`` template (Dr stage-3 allowance, Cr each receivable) for everything owed, the
  allowance topped up first if short, 已核销贷款 registering the total.

The standing is a :class:`~loancore.delinquency.daily.LoanStanding` keyed by the account id, kept
in the same standings store as the loans', so the quota policy sees a borrower's lines too.
"""

from __future__ import annotations

from datetime import date

import attrs

from loancore.delinquency.aging import days_past_due
from loancore.delinquency.booking import Booking
from loancore.delinquency.classification import Classification, classify_dpd, record_day
from loancore.delinquency.daily import DailyRules, LoanStanding, _allowance_after
from loancore.delinquency.provisioning import provision_for
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.postings import InterestDue, ProvisionCharged, Stage, WrittenOff
from loancore.servicing.product import CreditLineProduct
from loancore.servicing.revolving_line import CreditLineAccount

__all__ = [
    "LineDayClose",
    "LineWriteOff",
    "close_line_day",
    "line_dpd",
    "line_exposure",
    "line_standing_of",
    "write_off_line",
    "written_off_line",
]


def line_dpd(account: CreditLineAccount, as_of: date, grace_days: int) -> int:
    """Days past due of ``account`` on ``as_of`` (module docstring)."""
    return days_past_due(account.oldest_unpaid_due(), as_of, grace_days)


def line_exposure(account: CreditLineAccount) -> int:
    """What the account has on the books (minor units): principal, interest, penalty, fees."""
    return account.owed()


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
    """``account`` (already brought to ``day`` by servicing's ``Accrue``) classified on ``day``
    and its allowance brought to the requirement (event ids ``<event_id>.stage<n>``). A
    written-off account only moves the watermark."""
    if standing.loan_id != account.account_id:
        raise InvalidInput("standing", standing.loan_id, f"the account {account.account_id}")
    if account.written_off_on is not None:
        return LineDayClose(attrs.evolve(standing, closed_through=day), None, Booking())
    policy = rules.policy_for(product)
    today = classify_dpd(line_dpd(account, day, policy.grace_days), day, policy)
    history = record_day(standing.history, today)
    provision = provision_for(
        line_exposure(account),
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
        allowance=_allowance_after(standing.allowance, provision),
        history=history,
    )
    return LineDayClose(standing, today, provision)


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
    events: list[InterestDue | ProvisionCharged | WrittenOff] = []
    if account.interest_accrued:
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
            interest=money(account.interest_accrued + account.interest_billed),
            penalty=money(account.penalty),
            fee=money(account.fees),
        )
    )
    booking = Booking.of(events, product.mapping)
    first, second, third = standing.allowance
    left = (first, second, third + max(shortfall, 0) - total)
    policy = rules.policy_for(product)
    release = provision_for(
        0,  # nothing left on the books: every stage's allowance to zero
        classify_dpd(0, as_of, policy),
        currency=account.currency,
        dimensions=dimensions,
        current=attrs.evolve(standing, allowance=left).allowance_by_stage(account.currency),
        rates=rules.rates,
        rounding=rules.rounding,
        event_id=event_id,
        mapping=product.mapping,
    )
    standing = attrs.evolve(
        standing,
        closed_through=max(as_of, standing.closed_through or as_of),
        allowance=_allowance_after(left, release),
        written_off=standing.written_off + total,
    )
    return LineWriteOff(written_off_line(account, as_of=as_of), standing, booking + release)


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
