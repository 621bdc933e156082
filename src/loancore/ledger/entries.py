"""Journal entries (记账凭证), their legs, and memo (off-balance) postings.

Values only: an entry can be built unbalanced or with a negative leg, because an audit of stored
data (:mod:`loancore.ledger.validation`) must be able to hold a bad entry in order to report it.
The posting rules in :mod:`loancore.ledger.rules` refuse such entries before any store books them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from loancore.checks import require_date, require_id, require_text
from loancore.errors import InvalidInput, InvariantViolation
from loancore.ledger.subjects import Side, enum_value
from loancore.money import CURRENCY_MINOR_UNITS, Money

__all__ = [
    "DIMENSION_KEYS",
    "LEGS_MAX",
    "Dimensions",
    "JournalEntry",
    "Leg",
    "MemoDirection",
    "MemoPosting",
    "MemoRegister",
    "dimensions_of",
    "reversal_of",
]

LEGS_MAX = 10_000
"""The most legs an entry may have (the SQL stores number legs in a 16-bit column)."""

DIMENSION_KEYS: tuple[str, ...] = ("customer", "loan", "merchant", "partner", "product")
"""Analysis dimensions (辅助核算) a leg may carry instead of one subject per loan or merchant."""

_KEYS = frozenset(DIMENSION_KEYS)

Dimensions = tuple[tuple[str, str], ...]
"""Dimensions as a tuple of ``(key, value)`` pairs sorted by key; hashable and comparable."""

DimensionsLike = Mapping[str, str] | Iterable[tuple[str, str]] | None


_NORMALISED: dict[Dimensions, Dimensions] = {}
"""Pairs already checked, by themselves: an entry's legs and its posting event carry the same
dimensions, so a template checks them once per event, not once per leg. Only tuples the full
check below accepted are kept (a hit returns the same normalised pairs the check would: the
check depends on nothing but the pairs' values). Emptied when it reaches :data:`_NORMALISED_MAX`."""

_NORMALISED_MAX = 4_096


def dimensions_of(value: DimensionsLike, *, field: str = "dimensions") -> Dimensions:
    """Normalise a mapping or pairs to sorted ``(key, value)`` pairs; keys from DIMENSION_KEYS.

    Values are non-empty strings; each key appears at most once.
    """
    if not value:
        return ()
    if type(value) is tuple:
        try:
            known = _NORMALISED.get(value)
        except TypeError:  # an unhashable pair: the check below refuses it
            known = None
        if known is not None:
            return known
        pairs = _checked_pairs(value, field)
        if len(_NORMALISED) >= _NORMALISED_MAX:
            _NORMALISED.clear()
        _NORMALISED[value] = pairs
        return pairs
    if type(value) is dict and len(value) == 1:  # the common case, one dimension
        ((key, item),) = value.items()
        if key in _KEYS:
            return ((key, require_id(f"{field}.{key}", item)),)
    return _checked_pairs(value, field)


def _checked_pairs(value: DimensionsLike, field: str) -> Dimensions:
    """The full check of :func:`dimensions_of` (``value`` not empty)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "expected a mapping or (key, value) pairs")
    pairs = tuple(value.items()) if isinstance(value, Mapping) else tuple(value)
    if len(pairs) > len(DIMENSION_KEYS):
        raise InvalidInput(field, value, f"at most one value per key of {DIMENSION_KEYS}")
    seen: set[str] = set()
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(field, value, "expected (key, value) pairs")
        key, item = pair
        if key not in DIMENSION_KEYS:
            reason = f"unknown dimension; expected one of {DIMENSION_KEYS}"
            raise InvalidInput(f"{field}.{key}", item, reason)
        require_id(f"{field}.{key}", item)
        if key in seen:
            raise InvalidInput(f"{field}.{key}", item, "dimension given twice")
        seen.add(key)
    return tuple(sorted(pairs))


def _check_id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_id(attribute.name, value)


def _check_memo(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_text(attribute.name, value)


def _check_date(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # A datetime is a date subclass but not an accounting date; the range is checks.DATE_MIN..MAX.
    require_date(attribute.name, value)


def _check_money(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money):
        raise InvalidInput(attribute.name, value, "expected Money")


_MINOR_FACTORS = {code: Decimal(10) ** units for code, units in CURRENCY_MINOR_UNITS.items()}


_T = TypeVar("_T")


_new = object.__new__
_set_field = object.__setattr__


def _unchecked(cls: type[_T], **values: Any) -> _T:
    """An instance of the frozen class ``cls`` holding ``values`` (every field), its
    validators and converters not run: for values the caller holds already checked."""
    value = object.__new__(cls)
    for name, item in values.items():  # bounded by the class's fields
        object.__setattr__(value, name, item)
    return value


def _signed_minor(side: Side, amount: Money) -> int:
    """``amount`` in integer minor units, positive on the debit side, negative on the credit."""
    # Money is always at its currency's scale, so this product is an exact integer.
    minor = int(amount.amount * _MINOR_FACTORS[amount.currency])
    return minor if side is Side.DEBIT else -minor


def _side(value: object) -> Side:
    return value if type(value) is Side else enum_value(Side, "side", value)


def _register(value: object) -> MemoRegister:
    return enum_value(MemoRegister, "register", value)


def _direction(value: object) -> MemoDirection:
    return enum_value(MemoDirection, "direction", value)


@attrs.frozen
class Leg:
    """One line of an entry: ``amount`` on ``side`` of ``subject_code``, with dimensions.

    ``amount`` is a positive :class:`~loancore.money.Money` in a valid entry (checked by the posting
    rules, not here; see the module docstring). ``signed_minor`` is the amount in integer minor
    units, positive for a debit and negative for a credit: what the stores add up.
    """

    subject_code: str = attrs.field(validator=_check_id)
    side: Side = attrs.field(converter=_side)
    amount: Money = attrs.field(validator=_check_money)
    dimensions: Dimensions = attrs.field(default=(), converter=dimensions_of)
    signed_minor: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "signed_minor", _signed_minor(self.side, self.amount))

    @classmethod
    def _of_checked(
        cls, subject_code: str, side: Side, amount: Money, dimensions: Dimensions
    ) -> Leg:
        """A leg of values the caller already holds checked, so not checked again: a code of a
        :class:`~loancore.postings.mapping.SubjectMapping` (checked when it was built), a
        ``Side`` member, a Money and dimensions :func:`dimensions_of` returned (an event's).
        Equal to ``Leg(subject_code, side, amount, dimensions)``; for the posting templates
        (every field set here, one call each: the templates' hottest constructor)."""
        leg = _new(cls)
        _set_field(leg, "subject_code", subject_code)
        _set_field(leg, "side", side)
        _set_field(leg, "amount", amount)
        _set_field(leg, "dimensions", dimensions)
        _set_field(leg, "signed_minor", _signed_minor(side, amount))
        return leg

    @classmethod
    def debit(cls, subject_code: str, amount: Money, dimensions: DimensionsLike = None) -> Leg:
        return cls(subject_code, Side.DEBIT, amount, dimensions)

    @classmethod
    def credit(cls, subject_code: str, amount: Money, dimensions: DimensionsLike = None) -> Leg:
        return cls(subject_code, Side.CREDIT, amount, dimensions)

    @property
    def currency(self) -> str:
        return self.amount.currency

    def mirrored(self) -> Leg:
        """The same leg on the opposite side (a reversal's leg)."""
        return Leg(self.subject_code, self.side.opposite, self.amount, self.dimensions)

    def dimension(self, key: str) -> str | None:
        for k, v in self.dimensions:
            if k == key:
                return v
        return None


def _legs_converter(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    if isinstance(legs, Leg) or not isinstance(legs, Iterable) or isinstance(legs, (str, bytes)):
        raise InvalidInput("legs", legs, "expected a sequence of Leg values")
    items = tuple(legs)
    if len(items) > LEGS_MAX:
        raise InvalidInput("legs", f"<{len(items)} legs>", f"at most {LEGS_MAX} legs an entry")
    for i, leg in enumerate(items):
        if not isinstance(leg, Leg):
            raise InvalidInput(f"legs[{i}]", leg, "expected a Leg")
    if not items:
        raise InvalidInput("legs", items, "an entry needs at least one leg")
    return items


def _default_value_date(entry: JournalEntry) -> date:
    return entry.accounting_date


@attrs.frozen(kw_only=True)
class JournalEntry:
    """A journal entry: identified by ``entry_id``, deduplicated by ``idempotency_key``.

    ``accounting_date`` (记账日期) decides the period and every as-of balance; ``value_date``
    (起息日) is when the money moved and defaults to the accounting date. ``reverses`` names the
    entry this one reverses (a reversal is a new entry with mirrored legs; booked entries are never
    edited). Legs keep their order; stores return them in the same order.
    """

    entry_id: str = attrs.field(validator=_check_id)
    idempotency_key: str = attrs.field(validator=_check_id)
    accounting_date: date = attrs.field(validator=_check_date)
    legs: tuple[Leg, ...] = attrs.field(converter=_legs_converter)
    value_date: date = attrs.field(
        default=attrs.Factory(_default_value_date, takes_self=True), validator=_check_date
    )
    memo: str = attrs.field(default="", validator=_check_memo)
    reverses: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.reverses is not None:
            require_id("reverses", self.reverses)
        if self.reverses == self.entry_id:
            raise InvalidInput("reverses", self.reverses, "an entry cannot reverse itself")

    @classmethod
    def _of_checked(
        cls, entry_id: str, accounting_date: date, legs: tuple[Leg, ...], memo: str
    ) -> JournalEntry:
        """An entry of values the caller already holds checked, so not checked again: an id that
        is its own idempotency key, a date :func:`~loancore.checks.require_date` accepted (an
        event's), one to :data:`LEGS_MAX` Leg values, a memo :func:`~loancore.checks.
        require_text` accepts. Equal to ``JournalEntry(entry_id=entry_id, idempotency_key=
        entry_id, accounting_date=accounting_date, legs=legs, memo=memo)``; for the posting
        templates (every field set here, one call each)."""
        entry = _new(cls)
        _set_field(entry, "entry_id", entry_id)
        _set_field(entry, "idempotency_key", entry_id)
        _set_field(entry, "accounting_date", accounting_date)
        _set_field(entry, "legs", legs)
        _set_field(entry, "value_date", accounting_date)
        _set_field(entry, "memo", memo)
        _set_field(entry, "reverses", None)
        return entry

    @classmethod
    def _of_stored(
        cls,
        *,
        entry_id: str,
        idempotency_key: str,
        accounting_date: date,
        value_date: date,
        legs: tuple[Leg, ...],
        memo: str,
        reverses: str | None,
    ) -> JournalEntry:
        """An entry read back from the store that booked it: every value was checked when it
        was posted, so it is not checked again (the stores' readers; equal to the checked
        constructor's result, which the store contract tests compare). An entry without legs
        can only come from a damaged store: :class:`InvariantViolation`."""
        if not legs:
            raise InvariantViolation(f"stored entry {entry_id!r} has no legs")
        return _unchecked(
            cls,
            entry_id=entry_id,
            idempotency_key=idempotency_key,
            accounting_date=accounting_date,
            legs=legs,
            value_date=value_date,
            memo=memo,
            reverses=reverses,
        )

    def content(self) -> tuple[Any, ...]:
        """What idempotency compares: everything but ``entry_id`` and the key itself.

        A retry may carry a fresh entry id; it is still the same request if the content matches.
        """
        return (self.accounting_date, self.value_date, self.legs, self.memo, self.reverses)

    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({leg.amount.currency for leg in self.legs}))


def reversal_of(
    original: JournalEntry,
    *,
    entry_id: str,
    idempotency_key: str,
    accounting_date: date,
    memo: str | None = None,
) -> JournalEntry:
    """The entry that reverses ``original``: every leg mirrored, linked by ``reverses``.

    Mirrored legs (opposite side, same positive amount) rather than red-ink negatives (红字冲销),
    because loancore refuses negative legs; the subject's net movement is the same. The reversal
    is dated ``accounting_date`` (an open period), not the original's date.
    """
    return JournalEntry(
        entry_id=entry_id,
        idempotency_key=idempotency_key,
        accounting_date=accounting_date,
        value_date=accounting_date,
        legs=tuple(leg.mirrored() for leg in original.legs),
        memo=memo if memo is not None else f"reversal of {original.entry_id}",
        reverses=original.entry_id,
    )


class MemoRegister(str, enum.Enum):
    """Off-balance (表外) registers kept next to the ledger, single-entry; persisted by value."""

    OFF_BALANCE_INTEREST = "off_balance_interest"  # 表外应收未收利息: interest on non-accrual loans
    WRITTEN_OFF_LOANS = "written_off_loans"  # 已核销贷款: written-off loans still pursued


class MemoDirection(str, enum.Enum):
    """收入 (increase) or 付出 (decrease) of a memo register; persisted by value."""

    INCREASE = "increase"
    DECREASE = "decrease"


@attrs.frozen(kw_only=True)
class MemoPosting:
    """One single-entry posting to a memo register.

    ``amount`` is positive; a DECREASE may not take the register's balance for the posting's
    dimensions (and currency) below zero as of its date. Idempotency works as for journal entries.
    """

    posting_id: str = attrs.field(validator=_check_id)
    idempotency_key: str = attrs.field(validator=_check_id)
    register: MemoRegister = attrs.field(converter=_register)
    accounting_date: date = attrs.field(validator=_check_date)
    direction: MemoDirection = attrs.field(converter=_direction)
    amount: Money = attrs.field(validator=_check_money)
    dimensions: Dimensions = attrs.field(default=(), converter=dimensions_of)
    memo: str = attrs.field(default="", validator=_check_memo)

    @property
    def signed_minor(self) -> int:
        """Minor units, positive for an increase."""
        minor = self.amount.minor_units
        return minor if self.direction is MemoDirection.INCREASE else -minor

    def content(self) -> tuple[Any, ...]:
        return (
            self.register,
            self.accounting_date,
            self.direction,
            self.amount,
            self.dimensions,
            self.memo,
        )
