"""Values of the revolving credit quota: lines, balances, holds, journal events, results.

Amounts inside these values are integer minor units (fen for CNY), named ``*_minor``; each has a
:class:`~loancore.money.Money` view without the suffix (``balance.used_minor`` is 12345,
``line.money(balance.used_minor)`` is 123.45 CNY). Integers keep storage exact; nothing here ever
rounds.
"""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal

import attrs

from loancore.errors import InvalidInput
from loancore.money import Money

__all__ = [
    "DEFAULT_BORROWER_CAP",
    "EventKind",
    "HoldStatus",
    "LineBalance",
    "LineStatus",
    "QuotaConfig",
    "QuotaEvent",
    "QuotaHold",
    "QuotaLine",
    "QuotaResult",
    "RefundReason",
    "TemporaryLimit",
]

DEFAULT_BORROWER_CAP = Money(Decimal("200000.00"), "CNY")
"""Default cap on one borrower's total unsecured limit: 200,000 CNY, the cap on a consumer-finance
company's unsecured consumer lending to one borrower (消费金融公司管理办法, NFRA 2024: 20万元).
Configurable through :class:`QuotaConfig`."""


class LineStatus(enum.IntEnum):
    """Persisted status of a line. Expiry and freezing are separate facts (dates, flags)."""

    ACTIVE = 1
    CLOSED = 2


class HoldStatus(enum.IntEnum):
    """Lifecycle of an authorization: open until captured, voided or expired (all final)."""

    OPEN = 1
    CAPTURED = 2
    VOIDED = 3
    EXPIRED = 4


class RefundReason(enum.IntEnum):
    """Why drawn principal comes back without a repayment."""

    REFUND = 1  # the merchant refunded the order (退货退款)
    CANCELLATION = 2  # the loan was cancelled (撤销), e.g. within the cooling-off period


class EventKind(enum.IntEnum):
    """Kinds of quota journal events. Persisted: append-only, never renumbered."""

    LINE_GRANTED = 1
    LIMIT_ADJUSTED = 2
    HOLD_PLACED = 3
    HOLD_CAPTURED = 4
    HOLD_VOIDED = 5
    HOLD_EXPIRED = 6
    DRAWN = 7
    RESTORED_REPAID = 8
    RESTORED_REFUNDED = 9
    RESTORED_CANCELLED = 10
    LINE_FROZEN = 11
    LINE_UNFROZEN = 12
    AMOUNT_FROZEN = 13
    AMOUNT_UNFROZEN = 14
    TEMPORARY_LIMIT_ADDED = 15
    TEMPORARY_LIMIT_EXPIRED = 16
    LINE_CLOSED = 17


@attrs.frozen
class TemporaryLimit:
    """A temporary increase of a line's limit, in force from ``starts_on`` to ``ends_on`` inclusive.

    ``limit_id`` is the idempotency key of the :class:`~loancore.quota.AddTemporaryLimit` that
    added it.
    """

    limit_id: str
    amount_minor: int
    starts_on: datetime.date
    ends_on: datetime.date

    def in_force(self, as_of: datetime.date) -> bool:
        return self.starts_on <= as_of <= self.ends_on


@attrs.frozen
class QuotaLine:
    """The terms of a credit line (授信额度): a borrower's master line or a product sub-line.

    ``master_id`` is None for a master line; a sub-line names its master, and the master binds it
    (see :func:`~loancore.quota.available_minor`). ``limit_permanent_minor`` is the permanent limit
    in minor units; ``temporary_limits`` add to it while in force. The line can be drawn on from
    ``starts_on`` to ``expires_on`` inclusive. ``frozen_whole`` freezes the whole line (an amount
    freeze lives in :class:`LineBalance`).
    """

    line_id: str
    borrower_id: str
    master_id: str | None
    product: str
    currency: str
    limit_permanent_minor: int
    starts_on: datetime.date
    expires_on: datetime.date
    status: LineStatus = LineStatus.ACTIVE
    frozen_whole: bool = False
    temporary_limits: tuple[TemporaryLimit, ...] = ()

    @property
    def is_master(self) -> bool:
        return self.master_id is None

    def limit_effective_minor(self, as_of: datetime.date) -> int:
        """Permanent limit plus the temporary limits in force on ``as_of``, minor units."""
        total = self.limit_permanent_minor
        for temporary in self.temporary_limits:  # bounded: a line's few temporary limits
            if temporary.starts_on <= as_of <= temporary.ends_on:
                total += temporary.amount_minor
        return total

    def limit_exposure_minor(self, as_of: datetime.date) -> int:
        """What counts against the borrower cap: the permanent limit plus every temporary limit
        not yet ended on ``as_of`` (a future one counts now, so the cap cannot be passed later).
        A closed line counts zero."""
        if self.status is LineStatus.CLOSED:
            return 0
        total = self.limit_permanent_minor
        for temporary in self.temporary_limits:
            if temporary.ends_on >= as_of:
                total += temporary.amount_minor
        return total

    def money(self, minor: int) -> Money:
        """``minor`` units of this line's currency as :class:`Money`."""
        return Money.from_minor(minor, self.currency)


@attrs.frozen
class LineBalance:
    """The moving quantities of a line, integer minor units, all >= 0.

    ``used_minor``: outstanding principal drawn; ``held_minor``: open authorizations;
    ``frozen_minor``: an amount frozen. A master's used and held include its sub-lines'.
    """

    used_minor: int = 0
    held_minor: int = 0
    frozen_minor: int = 0


ZERO_BALANCE = LineBalance()


@attrs.frozen
class QuotaHold:
    """An authorization on a line. ``hold_id`` is the key of the :class:`~loancore.quota.Hold`
    that placed it. It can be captured through ``expires_on`` inclusive."""

    hold_id: str
    line_id: str
    currency: str
    amount_minor: int
    expires_on: datetime.date
    status: HoldStatus = HoldStatus.OPEN
    captured_minor: int = 0


@attrs.frozen
class QuotaEvent:
    """One fact in the append-only quota journal; every balance is a fold of these.

    ``key`` is the idempotency key of the operation and ``seq`` the event's place within it (an
    operation that expires three holds writes seq 0, 1, 2). ``master_id`` is set when the line is a
    sub-line: used and held moves apply to the master as well. Meaning of the other fields by kind:

    - ``amount_minor``: the new permanent limit (LINE_GRANTED, LIMIT_ADJUSTED), the amount held,
      captured, voided, expired, drawn, restored, frozen, unfrozen, or of the temporary limit;
    - ``released_minor``: on HOLD_CAPTURED, the part of the hold released uncaptured;
    - ``ref_id``: the hold id (HOLD_*) or temporary limit id (TEMPORARY_LIMIT_*);
    - ``starts_on`` / ``ends_on``: the line's dates (LINE_GRANTED), the hold's expiry (HOLD_PLACED,
      in ``ends_on``), the temporary limit's dates;
    - ``product``: the line's product (LINE_GRANTED).
    """

    key: str
    seq: int
    kind: EventKind
    as_of: datetime.date
    borrower_id: str
    line_id: str
    master_id: str | None
    currency: str
    amount_minor: int = 0
    released_minor: int = 0
    ref_id: str = ""
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    product: str = ""


@attrs.frozen
class QuotaResult:
    """What an accepted operation returns: its key and the journal events it wrote, in order.

    A replay of the same key returns a result equal to the first one, with ``replayed`` True
    (``replayed`` takes no part in equality or the hash). A refused operation returns nothing: it
    raises :class:`~loancore.errors.QuotaRejected`.
    """

    key: str
    events: tuple[QuotaEvent, ...] = ()
    replayed: bool = attrs.field(default=False, eq=False)


def _check_cap(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, Money) or value.is_negative():
        raise InvalidInput("borrower_cap", value, "expected a Money >= 0")


@attrs.frozen
class QuotaConfig:
    """Settings of a quota book.

    ``borrower_cap``: the most one borrower's master lines may add up to (permanent limits plus
    temporary limits not yet ended); grants and increases past it are refused with
    ``QUOTA_BORROWER_CAP_EXCEEDED``. Lines must be in the cap's currency.
    """

    borrower_cap: Money = attrs.field(default=DEFAULT_BORROWER_CAP, validator=_check_cap)

    @property
    def borrower_cap_minor(self) -> int:
        return self.borrower_cap.minor_units
