"""A revolving credit line (随借随还): draw and repay any time, interest every day, a monthly bill.

A :class:`CreditLineAccount` is a value, like a :class:`~loancore.servicing.Loan`, and events
apply to it as pure functions: ``apply_line(account, product, event) -> LineOutcome(account,
entries, quota_effects, statements)``. The entries come from the posting templates under the
product's :class:`~loancore.postings.SubjectMapping`; the quota effects are values the services
turn into quota commands (:meth:`LineQuotaEffect.command`). A refused event raises
:class:`~loancore.errors.ServicingRejected` and changes nothing.

The rules (docs/servicing.md, "Revolving credit lines", has a worked example):

- **Interest** runs on the principal drawn, every calendar day, at the product's rate
  (:func:`loancore.revolving.interest_for_balances`). Rounding point: a statement cycle's
  interest is computed exactly over the cycle's balance history and rounded once with the
  product's mode; an accrual inside the cycle books the rounded figure to date minus what the
  cycle has booked already, so however often the account is accrued the cycle's interest is one
  rounding (Dr 1303.03 应计利息, Cr 6011).
- **Statement (账单)** on the account's statement day (1..28) each month, counted from the
  first statement day after opening (``anchor + k months``, never stepped). It closes at the
  start of that day: interest through the day before is accrued and billed (Dr 1132, Cr 1303.03).
  The minimum payment is ``minimum_payment_rate`` x the principal, at least the floor (never
  above the principal), plus the previous minimum's principal part left unpaid, plus all the
  interest, penalty interest and fees billed and unpaid. Due ``due_days`` after the statement date.
- **Late fee (滞纳金) and penalty interest (罚息)**: a minimum still unpaid ``grace_days`` after
  the due date costs the product's late fee on what is unpaid, once per statement (Dr 1221, Cr
  6021.03); with a ``penalty_daily_rate``, penalty interest then runs every day on the minimum
  still unpaid until it is paid or the next statement closes (receivable at once: Dr 1132, Cr
  6011), computed exactly over that spell and rounded once, like the cycle's interest.
- **Repayment**: every balance of a line is payable at any time, so the product's waterfall
  policy sees them all as due on the payment date, the billed ones as installment 1 (fees,
  penalty, interest) and the unbilled ones as installment 2 (interest accrued, principal): fees and
  interest before principal. Accrued interest a payment reaches is first booked receivable
  (``.forward``); money beyond everything owed is the borrower's credit (溢缴款), used by the next
  draw (Dr 2241.01, Cr 1303.01). Everything paid counts toward the minimum; principal paid
  restores quota.
- **Draw**: paid to the borrower's card (Dr 1303.01, Cr 1002); it draws quota.

Entries are dated the event's ``as_of``; their ids derive from the event's id: ``<id>.accrue``,
``<id>.penalty``, ``<id>.s<n>.accrue`` / ``.due`` / ``.late`` / ``.penalty`` for statement ``n`` closed or overdue on the way,
``<id>.forward``, ``<id>.credit``. The ledger dimension ``loan`` carries the account id, so the
ledger filtered by it equals the account's own balances (:func:`expected_line_balances`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput, InvariantViolation, RejectionCode, ServicingRejected
from loancore.ledger.entries import Dimensions, DimensionsLike, JournalEntry, Leg, dimensions_of
from loancore.ledger.subjects import Side
from loancore.money import Money, round_ratio
from loancore.postings import (
    CardDisbursement,
    CreditApplied,
    Event,
    FeeCharged,
    FeeKind,
    InterestAccrued,
    InterestDue,
    OverpaymentRefunded,
    RepaymentReceived,
    Role,
    Waiver,
    entries_for,
)
from loancore.postings import Component as PostingComponent
from loancore.quota import Draw as QuotaDraw
from loancore.quota import RepaymentParts, RestoreRepaid
from loancore.revolving import interest_for_balances
from loancore.servicing.events import (
    Accrue,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingEvent,
    Waive,
)
from loancore.servicing.product import CreditLineProduct
from loancore.waterfall import Component, OutstandingItem, Payment, TransactionType, allocate

__all__ = [
    "LINE_HISTORY_MAX",
    "STATEMENT_DAY_MAX",
    "CloseStatement",
    "CreditLineAccount",
    "Draw",
    "LineOutcome",
    "LineQuotaEffect",
    "LineQuotaEffectKind",
    "LineTransaction",
    "LineTransactionKind",
    "Statement",
    "apply_line",
    "expected_line_balances",
    "open_line",
]

STATEMENT_DAY_MAX = 28
"""The latest statement day: every month has it, so the bill never moves."""

LINE_HISTORY_MAX = 10_000
"""The most money events (draws, repayments, refunds, waivers) one account's history keeps: a
payment reversal replays them from the opening."""

Entries = tuple[JournalEntry, ...]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive loancore.money.Money")


@attrs.frozen(kw_only=True)
class Draw(ServicingEvent):
    """Borrow ``amount`` on the line, paid to the borrower's card."""

    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class CloseStatement(ServicingEvent):
    """Close the statement due on ``as_of``, which must be the account's next statement date.

    :class:`~loancore.servicing.Accrue` closes every statement up to its date as well; this
    event says "this statement" and is refused on any other date (a scheduler's check)."""


class LineQuotaEffectKind(str, enum.Enum):
    """What the quota must do for a line; persisted by value."""

    DRAW = "draw"  # principal drawn uses quota (no hold: the money goes out at once)
    RESTORE_REPAID = "restore_repaid"  # principal repaid (or paid from credit) restores it


@attrs.frozen(kw_only=True)
class LineQuotaEffect:
    """A quota movement an event implies; :meth:`command` is the quota command for it."""

    kind: LineQuotaEffectKind
    line_id: str
    amount: Money
    key: str

    def command(self) -> QuotaDraw | RestoreRepaid:
        if self.kind is LineQuotaEffectKind.DRAW:
            return QuotaDraw(key=self.key, line_id=self.line_id, amount=self.amount)
        parts = RepaymentParts(principal=self.amount)
        return RestoreRepaid(key=self.key, line_id=self.line_id, repaid=parts)


@attrs.frozen(kw_only=True)
class Statement:
    """A bill (账单): what the account owed when statement ``number`` closed, and its minimum."""

    number: int
    closed_on: date
    due_date: date
    principal: Money
    interest: Money  # billed and unpaid, this cycle's and earlier
    penalty: Money  # penalty interest unpaid
    fees: Money  # unpaid
    minimum_payment: Money

    @property
    def balance(self) -> Money:
        return self.principal + self.interest + self.penalty + self.fees


def _id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_id(attribute.name, value)


class LineTransactionKind(str, enum.Enum):
    """A money event an account's history keeps (what a reversal replays); persisted by value."""

    DRAW = "draw"
    REPAY = "repay"
    REFUND_CREDIT = "refund_credit"
    WAIVE = "waive"


@attrs.frozen(kw_only=True)
class LineTransaction:
    """One money event applied to the account: its id, date, kind and amount (minor units), a
    waiver's component and fee kind, and the reversal that undid it (a repayment only)."""

    event_id: str = attrs.field(validator=_id)
    as_of: date
    kind: LineTransactionKind = attrs.field(converter=LineTransactionKind)
    amount: int
    component: Component | None = attrs.field(
        default=None, converter=attrs.converters.optional(Component)
    )
    fee_kind: FeeKind | None = attrs.field(
        default=None, converter=attrs.converters.optional(FeeKind)
    )
    reversed_by: str | None = None

    def event(self, currency: str) -> ServicingEvent:
        """The event again, to replay it."""
        amount = Money.from_minor(self.amount, currency)
        base: dict[str, Any] = {"event_id": self.event_id, "as_of": self.as_of, "amount": amount}
        if self.kind is LineTransactionKind.DRAW:
            return Draw(**base)
        if self.kind is LineTransactionKind.REPAY:
            return Repay(**base)
        if self.kind is LineTransactionKind.REFUND_CREDIT:
            return RefundCredit(**base)
        return Waive(**base, component=self.component, fee_kind=self.fee_kind)


def _history(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or len(value) > LINE_HISTORY_MAX:
        raise InvalidInput(attribute.name, value, f"at most {LINE_HISTORY_MAX} transactions")


def _date(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_date(attribute.name, value)


def _statement_day(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 28:
        raise InvalidInput(attribute.name, value, f"expected an int in 1..{STATEMENT_DAY_MAX}")


@attrs.frozen(kw_only=True)
class CreditLineAccount:
    """A revolving line's account: balances in minor units, the cycle's history, the last bill.

    ``principal`` (1303.01), ``interest_accrued`` (1303.03, this cycle's, not billed),
    ``interest_billed`` (1132), ``penalty`` (1132 by default: penalty interest unpaid), ``fees``
    (1221) and ``credit`` (2241.01) are what the ledger shows for the account. ``cycle_changes`` are the principal changes since ``cycle_start``
    (one per date, the first the balance carried in) and ``cycle_interest`` what the cycle has
    booked. ``minimum_unpaid`` is the last statement's minimum not yet paid; ``late_charged``
    says its late fee is decided (charged, or nothing was unpaid). ``overdue_changes`` are the
    minimum unpaid's changes since it became late (the penalty interest's base; empty when none
    runs) and ``overdue_interest`` the penalty interest that spell has booked.
    ``applied_on_last_date`` are the ids of the events applied on ``last_date``: a replay of one
    is refused (``EVENT_ALREADY_APPLIED``), and a replay of an older one is dated before
    ``last_date`` (``EVENT_BEFORE_LAST``), so no event is applied twice.
    """

    account_id: str = attrs.field(validator=_id)
    line_id: str = attrs.field(validator=_id)
    product_id: str
    product_version: int
    currency: str
    dimensions: Dimensions
    opened_on: date = attrs.field(validator=_date)
    statement_day: int = attrs.field(validator=_statement_day)
    last_date: date = attrs.field(validator=_date)
    principal: int = 0
    interest_accrued: int = 0
    interest_billed: int = 0
    penalty: int = 0
    fees: int = 0
    credit: int = 0
    cycle_start: date
    cycle_changes: tuple[tuple[date, int], ...] = ()
    cycle_interest: int = 0
    statements_closed: int = 0
    statement: Statement | None = None
    minimum_unpaid: int = 0
    late_charged: bool = True
    overdue_changes: tuple[tuple[date, int], ...] = ()
    overdue_interest: int = 0
    principal_drawn: int = 0
    principal_repaid: int = 0
    applied_on_last_date: tuple[str, ...] = ()
    history: tuple[LineTransaction, ...] = attrs.field(default=(), validator=_history)
    minimums: tuple[tuple[date, int], ...] = ()
    principal_written_off: int = 0
    written_off_on: date | None = None

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    def next_statement_date(self) -> date:
        """The statement day after the ``statements_closed`` already closed, from the anchor."""
        anchor = self.opened_on.replace(day=self.statement_day)
        if anchor <= self.opened_on:
            anchor += relativedelta(months=1)
        result: date = anchor + relativedelta(months=self.statements_closed)
        return result

    def oldest_unpaid_due(self) -> date | None:
        """The due date of the oldest statement whose minimum is not fully paid (None: none)."""
        return self.minimums[0][0] if self.minimums else None

    def owed(self) -> int:
        """Everything the borrower owes now (minor units): principal, interest, fees."""
        billed = self.interest_billed + self.penalty + self.fees
        return self.principal + self.interest_accrued + billed

    def check(self) -> CreditLineAccount:
        """``self`` if principal is conserved and no balance is negative; else
        :class:`InvariantViolation` (a bug here, never the caller's)."""
        balances = (self.principal, self.interest_accrued, self.interest_billed, self.penalty)
        if min(*balances, self.fees, self.credit, self.minimum_unpaid) < 0:
            raise InvariantViolation(f"line {self.account_id}: a negative balance {self!r}")
        gone = self.principal_repaid + self.principal_written_off
        if self.principal != self.principal_drawn - gone:
            raise InvariantViolation(
                f"line {self.account_id}: principal {self.principal} != drawn "
                f"{self.principal_drawn} - repaid {self.principal_repaid} - written off "
                f"{self.principal_written_off}"
            )
        if sum(minor for _day, minor in self.minimums) != self.minimum_unpaid:
            raise InvariantViolation(f"line {self.account_id}: minimums {self.minimums!r}")
        if self.credit and self.owed():
            raise InvariantViolation(f"line {self.account_id}: credit kept while owing")
        return self


@attrs.frozen(kw_only=True)
class LineOutcome:
    """The account after an event, the entries to post, the quota effects and the statements
    the event closed on its way (to send to the borrower)."""

    account: CreditLineAccount
    entries: Entries
    quota_effects: tuple[LineQuotaEffect, ...] = ()
    statements: tuple[Statement, ...] = ()


def open_line(
    product: CreditLineProduct,
    *,
    account_id: str,
    line_id: str,
    opened_on: date,
    statement_day: int,
    dimensions: DimensionsLike = None,
) -> CreditLineAccount:
    """A new account on ``product``: nothing drawn, first statement on the next statement day.

    ``dimensions`` (``customer``, ``product`` ...) go on every leg with ``loan = account_id``."""
    if not isinstance(product, CreditLineProduct):
        raise InvalidInput("product", product, "expected a CreditLineProduct")
    require_id("account_id", account_id)
    given = dict(dimensions_of(dimensions))
    if "loan" in given:
        raise InvalidInput("dimensions.loan", given["loan"], "the account id is the loan dimension")
    return CreditLineAccount(
        account_id=account_id,
        line_id=line_id,
        product_id=product.product_id,
        product_version=product.version,
        currency=product.currency,
        dimensions=dimensions_of({**given, "loan": account_id}),
        opened_on=opened_on,
        statement_day=statement_day,
        last_date=opened_on,
        cycle_start=opened_on,
    )


# -- interest, statements, late fees ---------------------------------------------------------------


def _interest_to(
    account: CreditLineAccount,
    product: CreditLineProduct,
    until: date,
    *,
    penalty: bool = False,
) -> int:
    """The cycle's interest (or the overdue spell's penalty interest) through the day before
    ``until``, rounded once with the product's mode (minor units)."""
    history = account.overdue_changes if penalty else account.cycle_changes
    if not history:
        return 0
    changes = [(day, account.money(minor).amount) for day, minor in history]
    rates: dict[str, Any] = (
        {"daily_rate": product.penalty_daily_rate}
        if penalty
        else {"daily_rate": product.daily_rate}
        if product.daily_rate is not None
        else {"annual_rate": product.annual_rate, "day_count": product.day_count}
    )
    exact = interest_for_balances(
        changes, until, currency=account.currency, rounding=product.rounding, **rates
    )
    return Money(exact, account.currency).minor_units


def _event(
    kind: Callable[..., Event], account: CreditLineAccount, as_of: date, **fields: Any
) -> Event:
    return kind(accounting_date=as_of, dimensions=account.dimensions, **fields)


def _accrue(
    account: CreditLineAccount, product: CreditLineProduct, until: date, as_of: date, entry_id: str
) -> tuple[CreditLineAccount, Entries]:
    """Interest (and penalty interest) accrued through the day before ``until``, booked on
    ``as_of``."""
    account, entries = _accrue_penalty(account, product, until, as_of, entry_id)
    target = _interest_to(account, product, until)
    delta = target - account.cycle_interest
    if delta < 0:
        raise InvariantViolation(f"line {account.account_id}: cycle interest went down")
    if not delta:
        return account, entries
    event = _event(
        InterestAccrued,
        account,
        as_of,
        event_id=f"{entry_id}.accrue",
        component="interest",
        amount=account.money(delta),
    )
    account = attrs.evolve(
        account, interest_accrued=account.interest_accrued + delta, cycle_interest=target
    )
    return account, entries + entries_for(event, product.mapping)


def _accrue_penalty(
    account: CreditLineAccount, product: CreditLineProduct, until: date, as_of: date, entry_id: str
) -> tuple[CreditLineAccount, Entries]:
    """Penalty interest of the overdue spell through the day before ``until``."""
    target = _interest_to(account, product, until, penalty=True)
    delta = target - account.overdue_interest
    if delta < 0:
        raise InvariantViolation(f"line {account.account_id}: penalty interest went down")
    if not delta:
        return account, ()
    event = _event(
        InterestAccrued,
        account,
        as_of,
        event_id=f"{entry_id}.penalty",
        component="penalty",
        amount=account.money(delta),
    )
    account = attrs.evolve(account, penalty=account.penalty + delta, overdue_interest=target)
    return account, entries_for(event, product.mapping)


def _minimum_principal(account: CreditLineAccount, product: CreditLineProduct) -> int:
    """The principal part of a new statement's minimum: the rate of the principal (rounded
    once, the product's mode), at least the floor, plus the previous minimum's principal part
    left unpaid; never above the principal."""
    exact = Fraction(product.minimum_payment_rate) * account.principal
    part = round_ratio(exact.numerator, exact.denominator, rounding=product.rounding)
    floor = product.minimum_payment_floor
    part = max(part, 0 if floor is None else floor.minor_units)
    previous = account.statement
    if previous is not None:
        billed = previous.interest.minor_units + previous.penalty.minor_units
        billed += previous.fees.minor_units
        part += max(0, account.minimum_unpaid - billed)
    return min(account.principal, part)


def _close(
    account: CreditLineAccount, product: CreditLineProduct, day: date, as_of: date, event_id: str
) -> tuple[CreditLineAccount, Entries, Statement]:
    """Statement ``n`` closed on ``day``: interest accrued and billed, the bill and its minimum."""
    number = account.statements_closed + 1
    tag = f"{event_id}.s{number}"
    account, entries = _accrue(account, product, day, as_of, tag)
    billed = account.interest_accrued
    due = _event(InterestDue, account, as_of, event_id=f"{tag}.due", amount=account.money(billed))
    entries += entries_for(due, product.mapping)
    interest = account.interest_billed + billed
    minimum = _minimum_principal(account, product) + interest + account.penalty + account.fees
    statement = Statement(
        number=number,
        closed_on=day,
        due_date=day + timedelta(days=product.due_days),
        principal=account.money(account.principal),
        interest=account.money(interest),
        penalty=account.money(account.penalty),
        fees=account.money(account.fees),
        minimum_payment=account.money(minimum),
    )
    carried = min(account.minimum_unpaid, minimum)
    minimums = _take(account.minimums, carried)[0]
    if minimum > carried:
        minimums = (*minimums, (statement.due_date, minimum - carried))
    account = attrs.evolve(
        account,
        minimums=minimums,
        interest_accrued=0,
        interest_billed=interest,
        cycle_start=day,
        cycle_changes=((day, account.principal),) if account.principal else (),
        cycle_interest=0,
        statements_closed=number,
        statement=statement,
        minimum_unpaid=minimum,
        late_charged=not minimum,
        overdue_changes=(),
        overdue_interest=0,
    )
    return account, entries, statement


def _late_date(account: CreditLineAccount, product: CreditLineProduct) -> date | None:
    """The first day the last statement's minimum is late, while its late fee is undecided."""
    if account.statement is None or account.late_charged:
        return None
    return account.statement.due_date + timedelta(days=product.grace_days + 1)


def _charge_late(
    account: CreditLineAccount, product: CreditLineProduct, as_of: date, event_id: str
) -> tuple[CreditLineAccount, Entries]:
    unpaid = account.minimum_unpaid
    fee = product.late_fee.amount_for(unpaid, rounding=product.rounding) if unpaid else 0
    late = _late_date(account, product)
    overdue: tuple[tuple[date, int], ...] = ()
    if unpaid and late is not None and product.penalty_daily_rate:
        overdue = ((late, unpaid),)  # the penalty interest's base from the first late day
    account = attrs.evolve(
        account, fees=account.fees + fee, late_charged=True, overdue_changes=overdue
    )
    if not fee:
        return account, ()
    tag = f"{event_id}.s{account.statements_closed}.late"
    charged = _event(
        FeeCharged, account, as_of, event_id=tag, fee_kind=FeeKind.LATE, amount=account.money(fee)
    )
    return account, entries_for(charged, product.mapping)


def _catch_up(
    account: CreditLineAccount, product: CreditLineProduct, as_of: date, event_id: str
) -> tuple[CreditLineAccount, Entries, tuple[Statement, ...]]:
    """``account`` brought to ``as_of``: late fees and statements on their days, in date order
    (a late fee before a statement closing the same day), then interest accrued to ``as_of``."""
    entries: Entries = ()
    statements: list[Statement] = []
    months = (as_of.year - account.last_date.year) * 12 + as_of.month - account.last_date.month
    for _ in range(2 * months + 4):  # at most a statement and a late fee a month
        close, late = account.next_statement_date(), _late_date(account, product)
        if late is not None and late <= min(close, as_of):
            account, new = _charge_late(account, product, as_of, event_id)
        elif close <= as_of:
            account, new, statement = _close(account, product, close, as_of, event_id)
            statements.append(statement)
        else:
            break
        entries += new
    else:
        raise InvariantViolation(f"line {account.account_id}: catch-up beyond its bound")
    account, new = _accrue(account, product, as_of, as_of, event_id)
    return attrs.evolve(account, last_date=as_of), entries + new, tuple(statements)


def _principal_change(account: CreditLineAccount, day: date, change: int) -> CreditLineAccount:
    """``account`` with ``change`` to its principal on ``day`` recorded in the cycle's history
    (one pair per date: a change on the last pair's date is merged into it)."""
    changes = list(account.cycle_changes)
    if changes and changes[-1][0] == day:
        changes[-1] = (day, changes[-1][1] + change)
    else:
        changes.append((day, change))
    return attrs.evolve(account, principal=account.principal + change, cycle_changes=tuple(changes))


# -- events ---------------------------------------------------------------------------------------


def _draw(
    account: CreditLineAccount, product: CreditLineProduct, event: Draw
) -> tuple[CreditLineAccount, Entries, tuple[LineQuotaEffect, ...]]:
    amount = event.amount.minor_units
    paid_out = _event(
        CardDisbursement, account, event.as_of, event_id=event.event_id, principal=event.amount
    )
    entries = entries_for(paid_out, product.mapping)
    effects = [_effect(account, LineQuotaEffectKind.DRAW, amount, f"{event.event_id}-draw")]
    applied = min(account.credit, amount)
    if applied:
        used = _event(
            CreditApplied,
            account,
            event.as_of,
            event_id=f"{event.event_id}.credit",
            principal=account.money(applied),
        )
        entries += entries_for(used, product.mapping)
        key = f"{event.event_id}-credit"
        effects.append(_effect(account, LineQuotaEffectKind.RESTORE_REPAID, applied, key))
    account = _principal_change(account, event.as_of, amount - applied)
    account = attrs.evolve(
        account,
        credit=account.credit - applied,
        principal_drawn=account.principal_drawn + amount,
        principal_repaid=account.principal_repaid + applied,
    )
    return account, entries, tuple(effects)


def _items(account: CreditLineAccount, as_of: date) -> list[OutstandingItem]:
    """What the account owes, all of it due on ``as_of`` (see the module docstring)."""
    parts = (
        (1, Component.FEE, account.fees),
        (1, Component.PENALTY, account.penalty),
        (1, Component.INTEREST, account.interest_billed),
        (2, Component.INTEREST, account.interest_accrued),
        (2, Component.PRINCIPAL, account.principal),
    )
    return [
        OutstandingItem(number, as_of, component, account.money(minor))
        for number, component, minor in parts
        if minor
    ]


def _allocated(
    account: CreditLineAccount, product: CreditLineProduct, event: Repay
) -> tuple[dict[tuple[int, Component], int], int]:
    """The product's waterfall over everything owed, all due on the payment date: the amount
    paid per (installment, component) in minor units, and the leftover."""
    payment = Payment(event.amount, TransactionType.REPAYMENT, event.as_of)
    allocation = allocate(_items(account, event.as_of), payment, product.policy)
    paid: dict[tuple[int, Component], int] = {}
    for line in allocation.lines:
        item = (line.installment, line.component)
        paid[item] = paid.get(item, 0) + line.amount.minor_units
    return paid, allocation.leftover.minor_units


def _minimum_paid(account: CreditLineAccount, day: date, amount: int) -> CreditLineAccount:
    """``amount`` paid toward the minimum on ``day``; a running penalty's base follows."""
    paid = min(amount, account.minimum_unpaid)
    overdue = account.overdue_changes
    if paid and overdue:
        last_day, last = overdue[-1]
        overdue = (
            (*overdue[:-1], (day, last - paid)) if last_day == day else (*overdue, (day, -paid))
        )
    return attrs.evolve(
        account,
        minimum_unpaid=account.minimum_unpaid - paid,
        minimums=_take(account.minimums, paid)[1],
        overdue_changes=overdue,
    )


def _take(
    parts: tuple[tuple[date, int], ...], amount: int
) -> tuple[tuple[tuple[date, int], ...], tuple[tuple[date, int], ...]]:
    """``parts`` (amounts by due date, oldest first) cut in two: the first ``amount`` and the
    rest. A payment keeps the rest (it pays the oldest first); a minimum carried into the next
    statement keeps the first part (its oldest due dates)."""
    head: list[tuple[date, int]] = []
    tail: list[tuple[date, int]] = []
    left = amount
    for day, minor in parts:  # bounded by the statements still unpaid
        taken = min(left, minor)
        left -= taken
        if taken:
            head.append((day, taken))
        if minor - taken:
            tail.append((day, minor - taken))
    return tuple(head), tuple(tail)


def _repay(
    account: CreditLineAccount, product: CreditLineProduct, event: Repay
) -> tuple[CreditLineAccount, Entries, tuple[LineQuotaEffect, ...]]:
    paid, leftover = _allocated(account, product, event)
    fee, penalty = paid.get((1, Component.FEE), 0), paid.get((1, Component.PENALTY), 0)
    billed, forward = paid.get((1, Component.INTEREST), 0), paid.get((2, Component.INTEREST), 0)
    principal = paid.get((2, Component.PRINCIPAL), 0)
    as_of, money = event.as_of, account.money
    forwarded = _event(
        InterestDue, account, as_of, event_id=f"{event.event_id}.forward", amount=money(forward)
    )
    received = _event(
        RepaymentReceived,
        account,
        as_of,
        event_id=event.event_id,
        received=event.amount,
        principal=money(principal),
        interest=money(billed + forward),
        penalty=money(penalty),
        fee=money(fee),
    )
    entries = entries_for(forwarded, product.mapping) + entries_for(received, product.mapping)
    account = _principal_change(account, as_of, -principal) if principal else account
    account = _minimum_paid(account, as_of, event.amount.minor_units - leftover)
    account = attrs.evolve(
        account,
        fees=account.fees - fee,
        penalty=account.penalty - penalty,
        interest_billed=account.interest_billed - billed,
        interest_accrued=account.interest_accrued - forward,
        credit=account.credit + leftover,
        principal_repaid=account.principal_repaid + principal,
    )
    if not principal:
        return account, entries, ()
    restore = LineQuotaEffectKind.RESTORE_REPAID
    return account, entries, (_effect(account, restore, principal, f"{event.event_id}-repaid"),)


def _refund_credit(
    account: CreditLineAccount, product: CreditLineProduct, event: RefundCredit
) -> tuple[CreditLineAccount, Entries, tuple[LineQuotaEffect, ...]]:
    amount = event.amount.minor_units
    if amount > account.credit:
        detail = f"refund {event.amount} above the credit {account.money(account.credit)}"
        raise ServicingRejected(RejectionCode.CREDIT_INSUFFICIENT, detail)
    refunded = _event(
        OverpaymentRefunded, account, event.as_of, event_id=event.event_id, amount=event.amount
    )
    account = attrs.evolve(account, credit=account.credit - amount)
    return account, entries_for(refunded, product.mapping), ()


# -- waivers and payment reversal -----------------------------------------------------------------

_WAIVABLE = {Component.FEE: "fees", Component.PENALTY: "penalty"}


def _waive(
    account: CreditLineAccount, product: CreditLineProduct, event: Waive
) -> tuple[CreditLineAccount, Entries, tuple[LineQuotaEffect, ...]]:
    """减免 of a fee (the late fee: a line charges no other), penalty interest or interest
    (billed first, then accrued, which is first booked receivable: ``.forward``); booked to the
    component's income and receivable, never to cash. A waiver is no payment: the minimum
    unpaid stays, but never above what the borrower still owes (the cardholder agreements'
    "credits do not satisfy the minimum payment")."""
    component, amount = event.component, event.amount.minor_units
    if event.fee_kind not in (None, FeeKind.LATE):
        raise InvalidInput("fee_kind", event.fee_kind.value, "a line charges only the late fee")
    billed = getattr(account, _WAIVABLE[component]) if component in _WAIVABLE else 0
    accrued = 0
    if component is Component.INTEREST:
        billed, accrued = account.interest_billed, account.interest_accrued
    if amount > billed + accrued:
        detail = f"{component.value} booked and unpaid is {account.money(billed + accrued)}"
        raise ServicingRejected(RejectionCode.WAIVER_EXCEEDS_OUTSTANDING, detail)
    forward = max(0, amount - billed)
    as_of, money = event.as_of, account.money
    forwarded = _event(
        InterestDue, account, as_of, event_id=f"{event.event_id}.forward", amount=money(forward)
    )
    waived = _event(
        Waiver,
        account,
        as_of,
        event_id=f"{event.event_id}.waive.{component.value}",
        component=PostingComponent(component.value),
        amount=event.amount,
        fee_kind=FeeKind.LATE if component is Component.FEE else None,
    )
    entries = entries_for(forwarded, product.mapping) + entries_for(waived, product.mapping)
    if component is Component.INTEREST:
        account = attrs.evolve(
            account,
            interest_billed=account.interest_billed - (amount - forward),
            interest_accrued=account.interest_accrued - forward,
        )
    else:
        name = _WAIVABLE[component]
        account = attrs.evolve(account, **{name: getattr(account, name) - amount})
    account = _minimum_paid(account, as_of, max(0, account.minimum_unpaid - account.owed()))
    return account, entries, ()


def _opened(account: CreditLineAccount) -> CreditLineAccount:
    """``account`` as it was opened: nothing drawn, nothing closed, no history."""
    return CreditLineAccount(
        account_id=account.account_id,
        line_id=account.line_id,
        product_id=account.product_id,
        product_version=account.product_version,
        currency=account.currency,
        dimensions=account.dimensions,
        opened_on=account.opened_on,
        statement_day=account.statement_day,
        last_date=account.opened_on,
        cycle_start=account.opened_on,
    )


def _replay(
    account: CreditLineAccount,
    product: CreditLineProduct,
    transactions: list[LineTransaction],
    until: date,
    event_id: str,
) -> tuple[CreditLineAccount, dict[str, int]]:
    """``transactions`` applied again from the opening, then the account accrued to ``until``:
    the account and the net debit (minor units, debit positive) its entries put on each
    subject. The account's figures do not depend on how often it was accrued in between (one
    rounding per cycle and per overdue spell), so this is what the account would be had only
    ``transactions`` happened."""
    state = _opened(account)
    net: dict[str, int] = {}
    events = [txn.event(account.currency) for txn in transactions]
    for event in (*events, Accrue(event_id=event_id, as_of=until)):
        outcome = apply_line(state, product, event)  # bounded by LINE_HISTORY_MAX
        state = outcome.account
        for entry in outcome.entries:
            for leg in entry.legs:
                net[leg.subject_code] = net.get(leg.subject_code, 0) + leg.signed_minor
    return state, net


_FIGURES = (
    "principal",
    "interest_accrued",
    "interest_billed",
    "penalty",
    "fees",
    "credit",
    "principal_drawn",
    "principal_repaid",
)


def _net_entry(
    account: CreditLineAccount, old: dict[str, int], new: dict[str, int], event: ReversePayment
) -> Entries:
    """ONE entry moving each subject from what the history with the payment booked (``old``)
    to what the history without it books (``new``)."""
    legs = []
    for code in sorted({*old, *new}):  # bounded by the product's subjects
        change = new.get(code, 0) - old.get(code, 0)
        if change:
            side = Side.DEBIT if change > 0 else Side.CREDIT
            legs.append(Leg(code, side, account.money(abs(change)), account.dimensions))
    if not legs:
        return ()
    entry_id = f"payment.reversed:{event.event_id}"
    memo = f"冲正 payment {event.payment_id} reversed, later events replayed, net"
    entry = JournalEntry(
        entry_id=entry_id,
        idempotency_key=entry_id,
        accounting_date=event.as_of,
        legs=tuple(legs),
        memo=memo,
    )
    return (entry,)


def _reverse(
    account: CreditLineAccount, product: CreditLineProduct, event: ReversePayment
) -> tuple[CreditLineAccount, Entries, tuple[LineQuotaEffect, ...]]:
    """冲正 of repayment ``payment_id`` (a bounced auto-debit): the account's money events
    replayed from the opening with and without it (every later event applied again in order,
    on its own date); the difference posted as one net entry, and the quota used again by the
    principal the payment had restored (less what the later payments now repay). Refused if
    the history without the payment cannot stand (a refund of credit the payment had made)."""
    target = next((t for t in account.history if t.event_id == event.payment_id), None)
    if target is None or target.kind is not LineTransactionKind.REPAY:
        detail = f"no repayment {event.payment_id!r} on line {account.account_id}"
        raise ServicingRejected(RejectionCode.PAYMENT_UNKNOWN, detail)
    if target.reversed_by is not None:
        raise ServicingRejected(RejectionCode.PAYMENT_ALREADY_REVERSED, f"by {target.reversed_by}")
    kept = [t for t in account.history if t.reversed_by is None]
    old, old_net = _replay(account, product, kept, event.as_of, event.event_id)
    if any(getattr(old, name) != getattr(account, name) for name in _FIGURES):
        raise InvariantViolation(f"line {account.account_id}: its history does not replay")
    without = [t for t in kept if t is not target]
    new, new_net = _replay(account, product, without, event.as_of, event.event_id)
    history = tuple(
        attrs.evolve(t, reversed_by=event.event_id) if t is target else t for t in account.history
    )
    result = attrs.evolve(
        new,
        history=history,
        applied_on_last_date=account.applied_on_last_date,
    )
    change = new.principal_repaid - account.principal_repaid
    effects: tuple[LineQuotaEffect, ...] = ()
    if change < 0:
        effects = (_effect(account, LineQuotaEffectKind.DRAW, -change, f"{event.event_id}-reuse"),)
    elif change > 0:
        kind = LineQuotaEffectKind.RESTORE_REPAID
        effects = (_effect(account, kind, change, f"{event.event_id}-repaid"),)
    return result, _net_entry(account, old_net, new_net, event), effects


def _recorded(account: CreditLineAccount, event: ServicingEvent) -> CreditLineAccount:
    """``account`` with a money event added to its history."""
    kinds = (
        (Draw, LineTransactionKind.DRAW),
        (Repay, LineTransactionKind.REPAY),
        (RefundCredit, LineTransactionKind.REFUND_CREDIT),
        (Waive, LineTransactionKind.WAIVE),
    )
    if not isinstance(event, (Draw, Repay, RefundCredit, Waive)):
        return account
    kind = next(k for cls, k in kinds if isinstance(event, cls))
    if len(account.history) >= LINE_HISTORY_MAX:
        detail = f"line {account.account_id} keeps {LINE_HISTORY_MAX} transactions at most"
        raise InvalidInput("history", len(account.history), detail)
    txn = LineTransaction(
        event_id=event.event_id,
        as_of=event.as_of,
        kind=kind,
        amount=event.amount.minor_units,
        component=getattr(event, "component", None),
        fee_kind=getattr(event, "fee_kind", None),
    )
    return attrs.evolve(account, history=(*account.history, txn))


def _effect(
    account: CreditLineAccount, kind: LineQuotaEffectKind, minor: int, key: str
) -> LineQuotaEffect:
    return LineQuotaEffect(kind=kind, line_id=account.line_id, amount=account.money(minor), key=key)


_EVENTS = (Draw, Repay, RefundCredit, Waive, ReversePayment, Accrue, CloseStatement)


def _check_event(account: CreditLineAccount, product: CreditLineProduct, event: object) -> None:
    if not isinstance(account, CreditLineAccount):
        raise InvalidInput("account", account, "expected a CreditLineAccount")
    if not isinstance(product, CreditLineProduct):
        raise InvalidInput("product", product, "expected a CreditLineProduct")
    if not isinstance(event, _EVENTS):
        raise InvalidInput("event", event, f"expected one of {[c.__name__ for c in _EVENTS]}")
    if product.ref != (account.product_id, account.product_version):
        detail = (
            f"account opened under {account.product_id}@{account.product_version}, "
            f"given {product.product_id}@{product.version}"
        )
        raise ServicingRejected(RejectionCode.PRODUCT_MISMATCH, detail)
    amount = getattr(event, "amount", None)
    if amount is not None and amount.currency != account.currency:
        raise InvalidInput("amount", amount, f"expected {account.currency}")
    if event.as_of < account.last_date:
        detail = f"{event.as_of} is before the account's last date {account.last_date}"
        raise ServicingRejected(RejectionCode.EVENT_BEFORE_LAST, detail)
    if event.as_of == account.last_date and event.event_id in account.applied_on_last_date:
        detail = f"event {event.event_id} already applied to line {account.account_id}"
        raise ServicingRejected(RejectionCode.EVENT_ALREADY_APPLIED, detail)
    if isinstance(event, CloseStatement) and event.as_of != account.next_statement_date():
        expected = f"the account's next statement date, {account.next_statement_date()}"
        raise InvalidInput("as_of", event.as_of, expected)


def apply_line(
    account: CreditLineAccount, product: CreditLineProduct, event: ServicingEvent
) -> LineOutcome:
    """``event`` applied to ``account``: first brought to the event's date (statements closed,
    late fees charged, interest accrued), then the event itself. Refused with
    :class:`ServicingRejected` (``PRODUCT_MISMATCH``, ``EVENT_BEFORE_LAST``,
    ``EVENT_ALREADY_APPLIED``, ``CREDIT_INSUFFICIENT``, ``WAIVER_EXCEEDS_OUTSTANDING``,
    ``PAYMENT_UNKNOWN``, ``PAYMENT_ALREADY_REVERSED``) or :class:`InvalidInput` (an event of
    another kind or currency, a :class:`CloseStatement` not on the next statement date); nothing
    changes then. A written-off account refuses every money event (``LOAN_NOT_ACTIVE``); an
    accrual only moves its date. Draws, repayments, credit refunds and waivers are kept in the
    account's ``history``; a :class:`~loancore.servicing.ReversePayment` replays it."""
    _check_event(account, product, event)
    same_day = account.applied_on_last_date if event.as_of == account.last_date else ()
    if account.written_off_on is not None:
        if not isinstance(event, (Accrue, CloseStatement)):
            detail = f"line {account.account_id} was written off on {account.written_off_on}"
            raise ServicingRejected(RejectionCode.LOAN_NOT_ACTIVE, detail)
        account = attrs.evolve(  # nothing accrues on a written-off account: the date moves
            account, last_date=event.as_of, applied_on_last_date=(*same_day, event.event_id)
        )
        return LineOutcome(account=account, entries=())
    account, entries, statements = _catch_up(account, product, event.as_of, event.event_id)
    account = attrs.evolve(account, applied_on_last_date=(*same_day, event.event_id))
    effects: tuple[LineQuotaEffect, ...] = ()
    if isinstance(event, Draw):
        account, new, effects = _draw(account, product, event)
        entries += new
    elif isinstance(event, Repay):
        account, new, effects = _repay(account, product, event)
        entries += new
    elif isinstance(event, RefundCredit):
        account, new, effects = _refund_credit(account, product, event)
        entries += new
    elif isinstance(event, Waive):
        account, new, effects = _waive(account, product, event)
        entries += new
    elif isinstance(event, ReversePayment):
        account, new, effects = _reverse(account, product, event)
        entries += new
    account = _recorded(account, event)
    return LineOutcome(
        account=account.check(), entries=entries, quota_effects=effects, statements=statements
    )


def expected_line_balances(
    account: CreditLineAccount, product: CreditLineProduct, *, interest_off_books: bool = False
) -> dict[str, int]:
    """The net debit (minor units, debit positive) each subject of the product's mapping should
    carry for ``account``: what the ledger filtered by ``loan = account_id`` must show. With
    ``interest_off_books`` (a non-accrual account) its interest (accrued, billed, penalty) is in
    the off-balance register instead, so none of it is on these subjects."""
    on = 0 if interest_off_books else 1
    by_role = {
        Role.PRINCIPAL: account.principal,
        Role.INTEREST_ACCRUED: account.interest_accrued * on,
        Role.INTEREST_RECEIVABLE: account.interest_billed * on,
        Role.PENALTY_RECEIVABLE: account.penalty * on,
        Role.FEE_RECEIVABLE: account.fees,
        Role.OVERPAYMENT: -account.credit,
    }
    result: dict[str, int] = {}
    for role, amount in by_role.items():
        code = product.mapping.code(role)
        result[code] = result.get(code, 0) + amount
    return result
