"""Business events the posting templates book: frozen values, validated when built.

Every event carries its own ``event_id`` (the templates derive entry ids and idempotency keys
from it, so replaying an event replays the same keys), an ``accounting_date``, the analysis
``dimensions`` its legs carry (``loan``, ``customer``, ``merchant``, ``partner``, ``product``; each
event names the ones it requires) and non-negative :class:`~loancore.money.Money` amounts, all
in one currency. An amount left out is zero in the event's currency. Bad input raises
:class:`~loancore.errors.InvalidInput` naming the field.

Events that create a loan or move cash (disbursements, merchant settlement, repayment) need a
positive amount; every other event may be zero and then books nothing.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar, TypeVar

import attrs

from loancore.checks import ID_LENGTH_MAX, require_date, require_id
from loancore.errors import InvalidInput
from loancore.ledger.entries import Dimensions, dimensions_of
from loancore.money import Money
from loancore.postings.mapping import Component, FeeKind, Stage

__all__ = [
    "EVENT_ID_LENGTH_MAX",
    "Cancellation",
    "CardDisbursement",
    "ClearingSettled",
    "CommissionAccrued",
    "CommissionClawedBack",
    "CommissionPaid",
    "CreditApplied",
    "Event",
    "FeeCharged",
    "FeeKind",
    "InterestAccrued",
    "InterestAdjustmentAmortized",
    "InterestDue",
    "JointCollected",
    "JointFunded",
    "JointLoss",
    "JointRecovered",
    "LoanSold",
    "MerchantDisbursement",
    "MerchantSettlement",
    "OverpaymentRefunded",
    "PartnerPaid",
    "PayoutConfirmed",
    "PayoutFailed",
    "PayoutInstructed",
    "ProvisionCharged",
    "ProvisionReleased",
    "RecoveredAfterWriteOff",
    "RepaymentReceived",
    "Waiver",
    "WrittenOff",
]

E = TypeVar("E", bound=enum.Enum)

EVENT_ID_LENGTH_MAX = ID_LENGTH_MAX - 40
"""Room for a template's name in front of the id, so derived keys stay within ID_LENGTH_MAX."""


def _enum(kind: type[E], field: str, value: object) -> E:
    """``value`` as a ``kind`` member; other values raise InvalidInput naming ``field``."""
    try:
        return kind(value)
    except ValueError:
        expected = f"one of {[member.value for member in kind]}"
        raise InvalidInput(field, value, expected) from None


def _component(value: object) -> Component:
    return _enum(Component, "component", value)


def _fee_kind(value: object) -> FeeKind:
    return _enum(FeeKind, "fee_kind", value)


def _fee_kind_or_none(value: object) -> FeeKind | None:
    return None if value is None else _fee_kind(value)


def _stage(value: object) -> Stage:
    return _enum(Stage, "stage", value)


def _event_id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = require_id(attribute.name, value)
    if len(text) > EVENT_ID_LENGTH_MAX:
        raise InvalidInput(attribute.name, value, f"at most {EVENT_ID_LENGTH_MAX} characters")


def _date(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_date(attribute.name, value)


def _money(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money):
        raise InvalidInput(attribute.name, value, "expected loancore.money.Money")
    if value.is_negative():
        raise InvalidInput(attribute.name, value, "must not be negative")


def _zero_like(first: str) -> Callable[[object], Money]:
    """A default of zero in the currency of the field ``first`` (checked by its own validator)."""

    def make(event: object) -> Money:
        amount = getattr(event, first)
        return _zero(amount.currency if isinstance(amount, Money) else "CNY")

    return make


@functools.cache
def _zero(currency: str) -> Money:
    """One zero per currency: Money is immutable, and building one is most of an event's cost."""
    return Money.zero(currency)


_MONEY_NAMES: dict[type[Any], tuple[str, ...]] = {}  # event class -> its Money fields


def _money_names(kind: type[Any]) -> tuple[str, ...]:
    names = _MONEY_NAMES.get(kind)
    if names is None:
        names = tuple(field.name for field in attrs.fields(kind) if field.metadata.get("money"))
        _MONEY_NAMES[kind] = names
    return names


_MONEY = {"money": True}


_LIKE_PRINCIPAL = attrs.Factory(_zero_like("principal"), takes_self=True)
_LIKE_PAYABLE = attrs.Factory(_zero_like("payable"), takes_self=True)
_LIKE_RECEIVED = attrs.Factory(_zero_like("received"), takes_self=True)


def _dimensions(value: object) -> Dimensions:
    return dimensions_of(value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class Event:
    """Fields every event has; subclasses add their amounts (see the module docstring)."""

    REQUIRED_DIMENSIONS: ClassVar[tuple[str, ...]] = ("loan",)
    POSITIVE: ClassVar[tuple[str, ...]] = ()  # amounts that must be above zero

    event_id: str = attrs.field(validator=_event_id)
    accounting_date: date = attrs.field(validator=_date)
    dimensions: Dimensions = attrs.field(default=(), converter=_dimensions)

    def __attrs_post_init__(self) -> None:
        self._checked_amounts()

    def _checked_amounts(self) -> tuple[tuple[str, Money], ...]:
        """The checks every event makes (the dimensions it requires, one currency, the positive
        amounts); returns :meth:`amounts`, for a subclass's own checks."""
        # The converter (dimensions_of) already checked each value is an id every store keeps.
        given = {key for key, _value in self.dimensions}
        for key in self.REQUIRED_DIMENSIONS:
            if key not in given:
                raise InvalidInput(f"dimensions.{key}", None, "required for this event")
        amounts = self.amounts()
        currency = amounts[0][1].currency if amounts else ""
        for name, amount in amounts:
            if amount.currency != currency:
                raise InvalidInput(name, amount, f"expected {currency} like the other amounts")
        for name in self.POSITIVE:
            amount = getattr(self, name)
            if not amount.is_positive():
                raise InvalidInput(name, amount, "must be positive")
        return amounts

    def amounts(self) -> tuple[tuple[str, Money], ...]:
        """Every Money field with its name, in field order."""
        return tuple([(name, getattr(self, name)) for name in _money_names(type(self))])

    @property
    def currency(self) -> str:
        return self.amounts()[0][1].currency


@attrs.frozen(kw_only=True)
class MerchantDisbursement(Event):
    """A loan paid to the merchant on the borrower's behalf (受托支付).

    The lender owes the merchant ``principal - merchant_discount`` until settlement; the discount
    is booked as the product's :class:`~loancore.postings.mapping.DiscountTreatment` says.
    """

    REQUIRED_DIMENSIONS = ("loan", "merchant")
    POSITIVE = ("principal",)

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)
    merchant_discount: Money = attrs.field(
        default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY
    )

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.merchant_discount > self.principal:
            raise InvalidInput("merchant_discount", self.merchant_discount, "exceeds principal")


@attrs.frozen(kw_only=True)
class CardDisbursement(Event):
    """A loan paid out to the borrower's own bank card."""

    POSITIVE = ("principal",)

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class MerchantSettlement(Event):
    """The merchant paid what it is owed, the service fee kept (T+N settlement)."""

    REQUIRED_DIMENSIONS = ("merchant",)
    POSITIVE = ("payable",)

    payable: Money = attrs.field(validator=_money, metadata=_MONEY)
    service_fee: Money = attrs.field(default=_LIKE_PAYABLE, validator=_money, metadata=_MONEY)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.service_fee > self.payable:
            raise InvalidInput("service_fee", self.service_fee, "exceeds the payable settled")


_INTEREST_LIKE = (Component.INTEREST, Component.PENALTY, Component.COMPOUND)


@attrs.frozen(kw_only=True)
class InterestAccrued(Event):
    """Interest earned (计提): contract interest accrues until due; penalty (罚息) and compound
    (复利) interest run on overdue amounts and are receivable as they accrue."""

    component: Component = attrs.field(converter=_component)
    amount: Money = attrs.field(validator=_money, metadata=_MONEY)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.component not in _INTEREST_LIKE:
            expected = f"one of {[c.value for c in _INTEREST_LIKE]}"
            raise InvalidInput("component", self.component.value, expected)


@attrs.frozen(kw_only=True)
class InterestDue(Event):
    """Accrued contract interest falls due (an installment date): accrued -> receivable."""

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class InterestAdjustmentAmortized(Event):
    """A slice of a merchant discount held in 利息调整 recognised as interest income."""

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class FeeCharged(Event):
    """A fee the borrower owes: origination, management (管理费), late fee (滞纳金) or
    prepayment fee (提前还款手续费)."""

    fee_kind: FeeKind = attrs.field(converter=_fee_kind)
    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class RepaymentReceived(Event):
    """Cash received through the payment channel, split into what it pays.

    ``received`` minus the components (principal, interest, penalty, compound, fee, the joint
    lending partner's share) is an overpayment, kept as the borrower's credit balance (溢缴款).
    The split itself (which component first) is the allocation waterfall's decision.
    """

    POSITIVE = ("received",)

    received: Money = attrs.field(validator=_money, metadata=_MONEY)
    principal: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)
    interest: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)
    penalty: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)
    compound: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)
    fee: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)
    partner_share: Money = attrs.field(default=_LIKE_RECEIVED, validator=_money, metadata=_MONEY)

    overpayment: Money = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        amounts = self._checked_amounts()
        received = self.received.minor_units
        applied = sum(
            a.minor_units for name, a in amounts if name != "received" and not a.is_zero()
        )
        if applied > received:
            shown = Money.from_minor(applied, self.received.currency)
            raise InvalidInput("received", self.received, f"components sum to {shown}, more")
        overpayment = Money.from_minor(received - applied, self.received.currency)
        object.__setattr__(self, "overpayment", overpayment)


@attrs.frozen(kw_only=True)
class ClearingSettled(Event):
    """The payment channel pays what it collected into the bank (clearing -> bank)."""

    REQUIRED_DIMENSIONS = ()

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class OverpaymentRefunded(Event):
    """The borrower's credit balance (溢缴款) paid back to the borrower."""

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class PartnerPaid(Event):
    """A joint-lending partner paid the share collected for it."""

    REQUIRED_DIMENSIONS = ("partner",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class Waiver(Event):
    """A component the borrower owed, forgiven (减免): its income is reversed.

    Principal cannot be waived here: forgiving principal is a loss, booked by :class:`WrittenOff`.
    A fee waiver may name the ``fee_kind`` it forgives, so the kind's own income is reversed;
    without one (a loan that keeps its fees as one amount) the general fee income is.
    """

    component: Component = attrs.field(converter=_component)
    amount: Money = attrs.field(validator=_money, metadata=_MONEY)
    fee_kind: FeeKind | None = attrs.field(default=None, converter=_fee_kind_or_none)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.component is Component.PRINCIPAL:
            raise InvalidInput("component", self.component.value, "principal is written off")
        if self.fee_kind is not None and self.component is not Component.FEE:
            raise InvalidInput("fee_kind", self.fee_kind.value, "only a fee waiver names a kind")


@attrs.frozen(kw_only=True)
class ProvisionCharged(Event):
    """Expected credit loss provided (计提减值准备) for ``stage``."""

    stage: Stage = attrs.field(converter=_stage)
    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class ProvisionReleased(Event):
    """Expected credit loss released (转回) for ``stage``."""

    stage: Stage = attrs.field(converter=_stage)
    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class WrittenOff(Event):
    """A loan written off (核销) against the stage-3 allowance, component by component."""

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)
    interest: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    penalty: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    compound: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    fee: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class RecoveredAfterWriteOff(Event):
    """Cash recovered on a written-off loan: it restores the allowance it was written off against.

    The 2006 guide's two steps (reinstate 1303.04 against the allowance, then collect it) net to
    clearing debit, allowance credit; the allowance then reverses through the next provision run.
    """

    POSITIVE = ("amount",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class CreditApplied(Event):
    """The borrower's credit balance (溢缴款) used to pay what is owed, component by component."""

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)
    interest: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    penalty: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    compound: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)
    fee: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)


def _cancelled(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Event) or isinstance(value, Cancellation):
        raise InvalidInput(attribute.name, value, "an event other than a Cancellation")


@attrs.frozen(kw_only=True)
class Cancellation(Event):
    """A booked movement that never happened as booked, taken back (取消): the ``cancelled``
    event's own entries with every leg on the other side (a merchant refund takes back its
    disbursement; a refund cancels interest adjustment already amortized).

    ``event_id`` and ``dimensions`` are the cancelled event's (built by :meth:`of`); the
    ``accounting_date`` is the day of the cancellation. A correction of an entry booked in error
    is a reversal instead (:func:`loancore.ledger.entries.reversal_of`).
    """

    REQUIRED_DIMENSIONS = ()

    cancelled: Event = attrs.field(validator=_cancelled)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.event_id != self.cancelled.event_id:
            raise InvalidInput("event_id", self.event_id, "the cancelled event's id")
        if self.dimensions != self.cancelled.dimensions:
            raise InvalidInput("dimensions", self.dimensions, "the cancelled event's dimensions")

    @classmethod
    def of(cls, cancelled: Event, accounting_date: date) -> Cancellation:
        """The cancellation of ``cancelled`` booked on ``accounting_date``."""
        return cls(
            event_id=cancelled.event_id,
            accounting_date=accounting_date,
            dimensions=cancelled.dimensions,
            cancelled=cancelled,
        )

    def amounts(self) -> tuple[tuple[str, Money], ...]:
        """The cancelled event's amounts."""
        return self.cancelled.amounts()


# -- settlement: payouts to merchants, a traffic platform's commission (助贷) -------------------

_LIKE_AMOUNT = attrs.Factory(_zero_like("amount"), takes_self=True)


@attrs.frozen(kw_only=True)
class PayoutInstructed(Event):
    """A settlement run instructs the channel to pay a merchant (受托支付结算): the payable
    settled is ``amount`` (sent to the channel) plus ``service_fee`` (kept as income).

    ``amount`` may be zero: a merchant whose refunds ate its payment still has its fees booked.
    """

    REQUIRED_DIMENSIONS = ("merchant",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)
    service_fee: Money = attrs.field(default=_LIKE_AMOUNT, validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class PayoutConfirmed(Event):
    """The channel's result file says it paid the merchant ``amount``."""

    REQUIRED_DIMENSIONS = ("merchant",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class PayoutFailed(Event):
    """The channel's result file says the payout of ``amount`` failed: owed to the merchant
    again, paid by a later run."""

    REQUIRED_DIMENSIONS = ("merchant",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class CommissionAccrued(Event):
    """A traffic platform (``partner``) earned ``amount`` of commission on a loan (助贷)."""

    REQUIRED_DIMENSIONS = ("loan", "partner")

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class CommissionClawedBack(Event):
    """Commission accrued on a refunded loan taken back from the platform."""

    REQUIRED_DIMENSIONS = ("loan", "partner")

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class CommissionPaid(Event):
    """A platform's commission statement paid out."""

    REQUIRED_DIMENSIONS = ("partner",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


_LIKE_PRICE = attrs.Factory(_zero_like("price"), takes_self=True)


@attrs.frozen(kw_only=True)
class LoanSold(Event):
    """A loan sold (不良资产转让) for ``price``: the loan's ``allowance`` (held in ``stage``'s
    loan-loss allowance) and the receivables sold (each component) leave the books.

    ``difference`` (``price + allowance - receivables``, signed) is the gain (positive) or loss
    (negative) on the sale: the credit loss the allowance did not cover, or allowance not needed.
    """

    stage: Stage = attrs.field(default=Stage.THREE, converter=_stage)
    price: Money = attrs.field(validator=_money, metadata=_MONEY)
    allowance: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)
    principal: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)
    interest: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)
    penalty: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)
    compound: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)
    fee: Money = attrs.field(default=_LIKE_PRICE, validator=_money, metadata=_MONEY)

    difference: Money = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        sold = sum(
            amount.minor_units
            for name, amount in self.amounts()
            if name not in ("price", "allowance")
        )
        minor = self.price.minor_units + self.allowance.minor_units - sold
        object.__setattr__(self, "difference", Money.from_minor(minor, self.price.currency))


# -- joint lending (联合贷款): a partner's part of a loan the lender books whole ----------------


@attrs.frozen(kw_only=True)
class JointFunded(Event):
    """A joint-lending partner (``partner``) funded ``amount`` of a loan's principal. The lender
    books the whole loan and owes the partner its part until it is collected or lost."""

    REQUIRED_DIMENSIONS = ("loan", "partner")
    POSITIVE = ("amount",)

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class JointCollected(Event):
    """The partner's parts of a collection on a joint loan, now payable to it: ``principal``
    (its funding coming back) and ``income`` (its part of the interest, penalty, compound
    interest and fees collected: the cost of its funds to the lender)."""

    REQUIRED_DIMENSIONS = ("loan", "partner")

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)
    income: Money = attrs.field(default=_LIKE_PRINCIPAL, validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class JointLoss(Event):
    """The partner's part of the principal written off: it bears that loss, so the lender owes
    it that much less and its own credit loss is that much smaller."""

    REQUIRED_DIMENSIONS = ("loan", "partner")

    principal: Money = attrs.field(validator=_money, metadata=_MONEY)


@attrs.frozen(kw_only=True)
class JointRecovered(Event):
    """The partner's part of cash recovered on a joint loan's loss (核销后收回, or the price a
    bad loan was sold for): the lender's recovery reached its credit loss (6702) whole, so the
    partner's part leaves it again and is owed to the partner, undoing that much of its loss."""

    REQUIRED_DIMENSIONS = ("loan", "partner")

    amount: Money = attrs.field(validator=_money, metadata=_MONEY)
