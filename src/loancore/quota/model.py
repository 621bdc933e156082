"""Values of the revolving credit quota: lines, balances, holds, journal events, results.

Amounts inside these values are integer minor units (fen for CNY), named ``*_minor``; each has a
:class:`~loancore.money.Money` view without the suffix (``balance.used_minor`` is 12345,
``line.money(balance.used_minor)`` is 123.45 CNY). Integers keep the hot path (hold, capture) fast
and storage exact; nothing here ever rounds.
"""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal
from operator import attrgetter

import attrs

from loancore.errors import InvalidInput, RejectionCode
from loancore.money import Money

__all__ = [
    "DEFAULT_BORROWER_CAP",
    "EventKind",
    "EventRow",
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
    "event_of_row",
    "event_row",
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


# Built on every hold and capture: dict-backed frozen classes (slots=False) construct about twice
# as fast as slotted ones on CPython 3.11 for this many fields (bench/bench_quota.py).
@attrs.frozen(slots=False)
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


# Built on every hold and capture: dict-backed frozen classes (slots=False) construct about twice
# as fast as slotted ones on CPython 3.11 for this many fields (bench/bench_quota.py).
@attrs.frozen(slots=False)
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


EventRow = tuple[object, ...]
"""A :class:`QuotaEvent` as a plain tuple: its fields in order, the kind as its int value. Stores
keep their journal in this shape (see :func:`event_row`)."""

_KINDS = {kind.value: kind for kind in EventKind}


def event_row(event: QuotaEvent) -> EventRow:
    """The row of ``event``: its fields in order, the kind as its int value (a tuple of strings,
    ints, dates and None, which CPython's cyclic garbage collector leaves alone)."""
    return (
        event.key, event.seq, event.kind.value, event.as_of, event.borrower_id, event.line_id,
        event.master_id, event.currency, event.amount_minor, event.released_minor, event.ref_id,
        event.starts_on, event.ends_on, event.product,
    )  # fmt: skip


def event_of_row(row: EventRow) -> QuotaEvent:
    """The event a row stands for (equal to the event the row was made from)."""
    key, seq, kind, *rest = row
    return QuotaEvent(key, seq, _KINDS[kind], *rest)  # type: ignore[arg-type, index]


_OK = RejectionCode.OK


class QuotaResult:
    """What an operation returns: ``code`` (``RejectionCode.OK`` or why it was refused) and the
    journal events it wrote (none when refused); ``ok`` is ``code is RejectionCode.OK``.

    A replay of the same key returns a result equal to the first one, with ``replayed`` True
    (``replayed`` takes no part in equality or the hash).

    A frozen value like the others, written out by hand instead of with attrs because a store
    builds one for every operation: the attributes are read-only properties over private slots
    (plain slot stores cost a third of an attrs frozen ``__init__``), and a result made from a
    journal row (:meth:`of_row`) builds its event only when ``events`` is first read.
    """

    __slots__ = ("_code", "_events", "_key", "_ok", "_replayed", "_row")
    __match_args__ = ("key", "code", "events", "replayed")

    def __init__(
        self,
        key: str,
        code: RejectionCode,
        events: tuple[QuotaEvent, ...] = (),
        replayed: bool = False,
    ) -> None:
        self._key = key
        self._code = code
        self._ok = code is _OK
        self._events = events
        self._row = None
        self._replayed = replayed

    @classmethod
    def of_row(cls, key: str, row: EventRow, *, replayed: bool = False) -> QuotaResult:
        """The accepted result of the operation ``key`` whose one event is journal ``row`` (see
        :func:`event_row`); the event is built from the row when first read."""
        result = _new(cls)
        result._key = key
        result._code = _OK
        result._ok = True
        result._events = None
        result._row = row
        result._replayed = replayed
        return result

    key = property(attrgetter("_key"), doc="The operation's idempotency key.")
    code = property(attrgetter("_code"), doc="RejectionCode.OK, or why it was refused.")
    ok = property(attrgetter("_ok"), doc="True when ``code`` is RejectionCode.OK.")
    replayed = property(attrgetter("_replayed"), doc="True when this is a replay of the key.")

    @property
    def events(self) -> tuple[QuotaEvent, ...]:
        """The journal events the operation wrote, in order (none when refused)."""
        events = self._events
        if events is None:
            events = self._events = (event_of_row(self._row),)  # type: ignore[arg-type]
        return events

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not QuotaResult:
            return NotImplemented
        return (self._key, self._code, self.events) == (
            other._key, other._code, other.events  # type: ignore[attr-defined]
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash((QuotaResult, self._key, self._code, self.events))

    def __repr__(self) -> str:
        return (
            f"QuotaResult(key={self._key!r}, code={self._code!r}, events={self.events!r}, "
            f"replayed={self._replayed!r})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (QuotaResult, (self._key, self._code, self.events, self._replayed))


_new = object.__new__


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
