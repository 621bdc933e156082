"""Servicing events (what happened to a loan) and the :class:`Outcome` of applying one.

Each event carries its own ``event_id`` (at most :data:`SERVICING_ID_LENGTH_MAX` characters:
the entries' ids are derived from it with a suffix) and the date it happened, ``as_of``. Amounts
are :class:`~loancore.money.Money` in the loan's currency.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import attrs

from loancore.amortization import Reamortization
from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry, MemoPosting
from loancore.money import Money
from loancore.postings import FeeKind
from loancore.servicing.loan import Loan
from loancore.waterfall import Component

__all__ = [
    "SERVICING_ID_LENGTH_MAX",
    "Accrue",
    "ApplyCredit",
    "Cancel",
    "ChargeFee",
    "Disburse",
    "MerchantRefund",
    "Outcome",
    "PayOff",
    "PayoutFailed",
    "Prepay",
    "QuotaEffect",
    "QuotaEffectKind",
    "RefundCredit",
    "Repay",
    "RepayDue",
    "ReversePayment",
    "ServicingEvent",
    "Waive",
]

SERVICING_ID_LENGTH_MAX = 100
"""Room for the suffixes servicing adds, within the postings' EVENT_ID_LENGTH_MAX."""


def _payment_id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = require_id(attribute.name, value)
    if len(text) > SERVICING_ID_LENGTH_MAX:
        raise InvalidInput(attribute.name, value, f"at most {SERVICING_ID_LENGTH_MAX} characters")


def _event_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """An id of at most SERVICING_ID_LENGTH_MAX characters without ``.`` or ``~``: servicing
    derives entry ids by suffixing ``.<tag>`` and replay ids with ``~<reversal>``, so a caller's
    id with either could collide with a derived one."""
    _payment_id(instance, attribute, value)
    assert isinstance(value, str)
    if "." in value or "~" in value:
        raise InvalidInput(attribute.name, value, "must not contain '.' or '~' (reserved)")


def _date(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_date(attribute.name, value)


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive loancore.money.Money")


@attrs.frozen(kw_only=True)
class ServicingEvent:
    event_id: str = attrs.field(validator=_event_id)
    as_of: date = attrs.field(validator=_date)


@attrs.frozen(kw_only=True)
class Disburse(ServicingEvent):
    """Pay the loan out: to the merchant (受托支付) or to the borrower's card ``card``."""

    card: str | None = None


@attrs.frozen(kw_only=True)
class PayoutFailed(ServicingEvent):
    """The payout to the borrower's card bounced: the disbursement is reversed and the loan waits
    for a new :class:`Disburse` (to another card), without a second loan."""


@attrs.frozen(kw_only=True)
class Cancel(ServicingEvent):
    """Cancel a loan before it is disbursed; its quota hold is released."""


@attrs.frozen(kw_only=True)
class Accrue(ServicingEvent):
    """Bring the loan to ``as_of``: interest accrued, due dates passed, penalties run.

    Not kept in the loan's history (a daily batch would grow it without bound), so the caller
    makes its id unique per date (``accrue-20260131``): the entries' ids derive from it.
    """


@attrs.frozen(kw_only=True)
class Repay(ServicingEvent):
    """Cash received from the borrower, allocated by the product's waterfall."""

    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class RepayDue(ServicingEvent):
    """An auto-debit of everything due on ``as_of`` (代扣当期应还): after the day's accrual, the
    outstanding of every installment due on or before ``as_of`` (its penalty, compound interest
    and fees included) is received and allocated as a :class:`Repay` of that amount would be.
    Refused with ``NOTHING_DUE`` when nothing is due. The borrower's credit balance is not netted
    (:class:`ApplyCredit` uses it)."""


@attrs.frozen(kw_only=True)
class ApplyCredit(ServicingEvent):
    """Use the borrower's credit balance (溢缴款) for what is due on ``as_of``."""


@attrs.frozen(kw_only=True)
class RefundCredit(ServicingEvent):
    """Pay ``amount`` of the borrower's credit balance back to the borrower."""

    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class Prepay(ServicingEvent):
    """A partial prepayment: arrears first, the rest prepays principal (less the product's
    prepayment fee) and the schedule is re-amortized ``reamortization`` (the product's when
    None)."""

    amount: Money = attrs.field(validator=_positive)
    reamortization: Reamortization | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(Reamortization),
    )


@attrs.frozen(kw_only=True)
class PayOff(ServicingEvent):
    """Repay everything on ``as_of``; ``amount`` must equal :func:`payoff_amount`."""

    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class MerchantRefund(ServicingEvent):
    """The merchant refunds ``amount`` of the order: a refund of all the principal outstanding
    cancels the loan; a smaller one reduces the principal not yet due."""

    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class ChargeFee(ServicingEvent):
    """Charge a fee, due with the next installment (or the last one when none is ahead)."""

    amount: Money = attrs.field(validator=_positive)
    fee_kind: FeeKind = attrs.field(default=FeeKind.LATE, converter=FeeKind)


@attrs.frozen(kw_only=True)
class Waive(ServicingEvent):
    """Forgive ``amount`` of ``component`` (not principal) booked and unpaid, spread by the
    product's waterfall (waiver rule). A fee waiver may name the ``fee_kind`` forgiven, so that
    kind's own income subject is reversed (else the general fee income is)."""

    component: Component = attrs.field(converter=Component)
    amount: Money = attrs.field(validator=_positive)
    fee_kind: FeeKind | None = attrs.field(
        default=None, converter=attrs.converters.optional(FeeKind)
    )

    def __attrs_post_init__(self) -> None:
        if self.component is Component.PRINCIPAL:
            raise InvalidInput("component", self.component.value, "principal is written off")
        if self.fee_kind is not None and self.component is not Component.FEE:
            raise InvalidInput("fee_kind", self.fee_kind.value, "only a fee waiver names a kind")


@attrs.frozen(kw_only=True)
class ReversePayment(ServicingEvent):
    """Payment ``payment_id`` bounced: undo it and every later payment, replay the later ones."""

    payment_id: str = attrs.field(validator=_payment_id)


class QuotaEffectKind(str, enum.Enum):
    """What the quota must do; the services layer turns each into a quota command."""

    CAPTURE = "capture"  # booking: the hold becomes use
    RELEASE = "release"  # cancelled before disbursement: the hold is voided
    RESTORE_REPAID = "restore_repaid"  # principal repaid
    RESTORE_REFUNDED = "restore_refunded"  # principal refunded by the merchant
    REUSE = "reuse"  # a reversed payment takes back quota its principal had restored


@attrs.frozen(kw_only=True)
class QuotaEffect:
    kind: QuotaEffectKind
    hold_id: str
    amount: Money
    key: str


@attrs.frozen(kw_only=True)
class Outcome:
    """The loan after an event, the entries to post, the memo postings, the quota effects and
    what the merchant must give back (``merchant_clawback``, zero unless a refund)."""

    loan: Loan
    entries: tuple[JournalEntry, ...]
    memo_postings: tuple[MemoPosting, ...] = ()
    quota_effects: tuple[QuotaEffect, ...] = ()
    merchant_clawback: Money | None = None
