"""The values a settlement run reads and writes: captures, deductions, carry-forward, lines,
batches and payment instructions. Frozen attrs values; amounts are :class:`Money`."""

from __future__ import annotations

import datetime
import enum
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput, InvariantViolation
from loancore.money import Money

__all__ = [
    "CHANNEL_LENGTH_MAX",
    "MERCHANT_ID_LENGTH_MAX",
    "Capture",
    "CarryForward",
    "Deduction",
    "DeductionKind",
    "PaymentInstruction",
    "Retry",
    "SettlementBatch",
    "SettlementLine",
]

MERCHANT_ID_LENGTH_MAX = 100
"""Longest merchant id: line ids, entry ids and keys derive from it and must stay within
``loancore.postings.EVENT_ID_LENGTH_MAX``."""
CHANNEL_LENGTH_MAX = 32
"""Longest payment-channel name (it starts every batch id)."""


def check_id(field: str, value: Any, length_max: int) -> str:
    text = require_id(field, value)
    if len(text) > length_max:
        raise InvalidInput(field, value, f"at most {length_max} characters")
    return text


def _id(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_id(attribute.name, value)


def _merchant(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_id(attribute.name, value, MERCHANT_ID_LENGTH_MAX)


def _positive(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive loancore.money.Money")


def _money(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Money):
        raise InvalidInput(attribute.name, value, "expected loancore.money.Money")


def _local(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, datetime.datetime) or value.tzinfo is not None:
        raise InvalidInput(attribute.name, value, "expected a naive local datetime")
    require_date(attribute.name, value.date())


def _date(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_date(attribute.name, value)


def _tuple_of_ids(value: Any) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Capture:
    """An order captured for a merchant: the amount the lender owes it (受托支付), before fee."""

    order_id: str = attrs.field(validator=_id)
    merchant_id: str = attrs.field(validator=_merchant)
    amount: Money = attrs.field(validator=_positive)
    captured_at: datetime.datetime = attrs.field(validator=_local)


class DeductionKind(str, enum.Enum):
    """What reduces a merchant's payout (persisted by value)."""

    REFUND = "refund"  # the order was refunded: the loan is cancelled, the merchant gives it back
    CHARGEBACK = "chargeback"  # a disputed order reversed against the merchant


@attrs.frozen(kw_only=True)
class Deduction:
    """A refund or chargeback of an order, netted from the merchant's payout on the settlement
    date its terms give ``occurred_at`` (the same rule as a capture at that moment). The
    service fee of the order is not returned."""

    deduction_id: str = attrs.field(validator=_id)
    kind: DeductionKind = attrs.field(converter=DeductionKind)
    merchant_id: str = attrs.field(validator=_merchant)
    order_id: str = attrs.field(validator=_id)
    amount: Money = attrs.field(validator=_positive)
    occurred_at: datetime.datetime = attrs.field(validator=_local)


@attrs.frozen(kw_only=True)
class CarryForward:
    """What a merchant's settlement carries into the next run, signed: positive is owed to the
    merchant, negative is a receivable from the merchant
    (refunds and chargebacks above what it was owed). Failed payouts come back as
    :class:`Retry` values instead, each keyed by its line."""

    merchant_id: str = attrs.field(validator=_merchant)
    balance: Money = attrs.field(validator=_money)


@attrs.frozen(kw_only=True)
class Retry:
    """A payout the channel failed (line ``line_id``), owed again: the next run pays it with the
    merchant's other dues. Keyed by the failed line id, so a store consumes it once."""

    line_id: str = attrs.field(validator=_id)
    merchant_id: str = attrs.field(validator=_merchant)
    amount: Money = attrs.field(validator=_positive)


@attrs.frozen(kw_only=True)
class SettlementLine:
    """One merchant's settlement in one batch.

    ``net = captured - fees - refunded - charged_back + carried_in + retried``; ``payment`` is ``net`` when
    positive and zero otherwise; ``carried_out`` is ``net`` when negative and zero otherwise.
    """

    line_id: str = attrs.field(validator=_id)
    merchant_id: str = attrs.field(validator=_merchant)
    payee_account: str = attrs.field(validator=_id)
    order_ids: tuple[str, ...] = attrs.field(converter=_tuple_of_ids)
    deduction_ids: tuple[str, ...] = attrs.field(converter=_tuple_of_ids)
    captured: Money = attrs.field(validator=_money)
    fees: Money = attrs.field(validator=_money)
    refunded: Money = attrs.field(validator=_money)
    charged_back: Money = attrs.field(validator=_money)
    carried_in: Money = attrs.field(validator=_money)
    retried: Money = attrs.field(validator=_money)
    retried_line_ids: tuple[str, ...] = attrs.field(converter=_tuple_of_ids)
    payment: Money = attrs.field(validator=_money)
    carried_out: Money = attrs.field(validator=_money)

    def __attrs_post_init__(self) -> None:
        net = self.net
        if (
            self.payment.is_negative()
            or self.carried_out.is_positive()
            or self.payment + self.carried_out != net
            or (self.payment.is_positive() and self.carried_out.is_negative())
        ):
            raise InvariantViolation(
                f"line {self.line_id}: payment {self.payment} and carried_out "
                f"{self.carried_out} do not split net {net}"
            )

    @property
    def net(self) -> Money:
        deducted = self.fees + self.refunded + self.charged_back
        return self.captured - deducted + self.carried_in + self.retried


@attrs.frozen(kw_only=True)
class PaymentInstruction:
    """Pay ``amount`` to ``payee_account`` for line ``line_id`` of batch ``batch_id``."""

    batch_id: str = attrs.field(validator=_id)
    line_id: str = attrs.field(validator=_id)
    merchant_id: str = attrs.field(validator=_merchant)
    payee_account: str = attrs.field(validator=_id)
    amount: Money = attrs.field(validator=_positive)
    value_date: datetime.date = attrs.field(validator=_date)


def _lines(value: Any) -> tuple[SettlementLine, ...]:
    return tuple(value)


def _instructions(value: Any) -> tuple[PaymentInstruction, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SettlementBatch:
    """A channel's settlement for one date: one line per merchant with activity, sorted by
    merchant id, and the payment instructions of the lines with a positive payment."""

    batch_id: str = attrs.field(validator=_id)
    channel: str = attrs.field(validator=_id)
    run_date: datetime.date = attrs.field(validator=_date)
    currency: str
    lines: tuple[SettlementLine, ...] = attrs.field(converter=_lines)
    instructions: tuple[PaymentInstruction, ...] = attrs.field(converter=_instructions)

    def instruction(self, line_id: str) -> PaymentInstruction | None:
        for instruction in self.instructions:  # bounded by the batch's lines
            if instruction.line_id == line_id:
                return instruction
        return None
