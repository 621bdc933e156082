"""What the lender facade takes and returns: frozen values, money as :class:`~loancore.money.Money`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.credit import CreditApplication, Decision
from loancore.errors import InvalidInput
from loancore.money import Money

__all__ = [
    "HOLD_DAYS_MAX",
    "INSTALLMENTS_MAX",
    "ApplicationRecord",
    "DayClose",
    "DueCollection",
    "OrderRecord",
    "OrderRequest",
    "OrderStatus",
    "Payment",
]

HOLD_DAYS_MAX = 30
INSTALLMENTS_MAX = 360


class OrderStatus(str, enum.Enum):
    """Persisted by value."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


def _id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_id(attribute.name, value)


def _day(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_date(attribute.name, value)


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive Money")


def _int_in(low: int, high: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if type(value) is not int or not low <= value <= high:
            raise InvalidInput(attribute.name, value, f"expected an int from {low} to {high}")

    return check


@attrs.frozen(kw_only=True)
class ApplicationRecord:
    """An application as stored, with its decision, the day decided, and ``replayed`` (this
    call found it already stored and changed nothing)."""

    application: CreditApplication
    decision: Decision
    decided_on: date
    replayed: bool = False


@attrs.frozen(kw_only=True)
class OrderRequest:
    """An order at ``merchant_id`` financed over ``installments`` under the product; the quota
    hold lasts ``hold_days`` days (the merchant confirms within them)."""

    order_id: str = attrs.field(validator=_id)
    customer_id: str = attrs.field(validator=_id)
    merchant_id: str = attrs.field(validator=_id)
    amount: Money = attrs.field(validator=_positive)
    product_id: str = attrs.field(validator=_id)
    installments: int = attrs.field(validator=_int_in(1, INSTALLMENTS_MAX))
    placed_on: date = attrs.field(validator=_day)
    product_version: int = attrs.field(default=1, validator=_int_in(0, 1_000_000))
    hold_days: int = attrs.field(default=3, validator=_int_in(0, HOLD_DAYS_MAX))

    @property
    def loan_id(self) -> str:
        """The loan an order becomes: ``L-<order_id>``."""
        return f"L-{self.order_id}"


@attrs.frozen(kw_only=True)
class OrderRecord:
    request: OrderRequest
    status: OrderStatus
    hold_expires_on: date
    confirmed_on: date | None = None
    replayed: bool = False


@attrs.frozen(kw_only=True)
class Payment:
    """A borrower's payment of ``amount`` on ``loan_id``; ``payment_id`` is its idempotency key."""

    loan_id: str = attrs.field(validator=_id)
    payment_id: str = attrs.field(validator=_id)
    amount: Money = attrs.field(validator=_positive)
    paid_on: date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class DueCollection:
    """An auto-debit on ``loan_id`` of everything due on ``paid_on`` (代扣当期应还): the amount
    is what the loan owes for its installments due by then, found when it is applied
    (:class:`loancore.servicing.RepayDue`); ``payment_id`` is its idempotency key."""

    loan_id: str = attrs.field(validator=_id)
    payment_id: str = attrs.field(validator=_id)
    paid_on: date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class DayClose:
    """What closing a day did: loans the end-of-day batch brought to the day (``accrued``),
    loans that failed and are retried by the next run (by rejection code name), quota lines the
    limit policy changed, the active loans by aging bucket and by five-level class after the
    close (from their standings), and the loan-days closed (a loan days behind counts each)."""

    as_of: date
    accrued: int
    skipped: Mapping[str, int]
    quota_changes: int
    buckets: Mapping[str, int]
    classes: Mapping[str, int]
    days_closed: int = 0
