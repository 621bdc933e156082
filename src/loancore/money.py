"""Exact money: ``Decimal`` amounts at a currency's ISO 4217 minor-unit scale.

Rules this module enforces:

- ``float`` is refused everywhere with :class:`~loancore.errors.FloatNotAllowed` (a ``TypeError``).
- A :class:`Money` is always at its currency's scale (CNY 2, JPY 0, KWD 3). Constructing one with
  more digits than the scale raises instead of rounding silently; rounding happens only in
  :meth:`Money.of`, :func:`quantize` and :meth:`Money.multiply`, each with a keyword-only
  ``rounding`` mode and no default.
- Splits (:func:`allocate`, :func:`split_evenly`, :class:`CumulativeSplit`) return parts that sum
  exactly to the whole; where the residue lands is documented on each function.
- Storage keeps integer minor units (:attr:`Money.minor_units`, :meth:`Money.from_minor`).
- Every number that enters loancore's calculators passes :func:`to_decimal`, which holds the input
  limits (``docs/money.md`` has the table): a finite value, at most :data:`AMOUNT_DIGITS_MAX`
  digits before the point and :data:`SIGNIFICANT_DIGITS_MAX` significant digits; a string is
  plain ASCII digits with an optional sign and point. A rate the exact calculators compound
  passes :func:`to_rate` (at most :data:`RATE_DECIMALS_MAX` decimal places). Splits have at most :data:`PARTS_MAX` parts. So no input can make a
  calculator run for seconds or overflow deep inside: it is refused at the door, naming the field.
"""

from __future__ import annotations

import decimal
import enum
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from loancore.errors import CurrencyMismatch, FloatNotAllowed, InvalidInput, UnknownCurrency

__all__ = [
    "AMOUNT_DIGITS_MAX",
    "CURRENCY_MINOR_UNITS",
    "NUMBER_TEXT_LENGTH_MAX",
    "PARTS_MAX",
    "RATE_DECIMALS_MAX",
    "SIGNIFICANT_DIGITS_MAX",
    "CumulativeSplit",
    "Money",
    "Rounding",
    "allocate",
    "at_scale",
    "decimal_places",
    "from_minor_units",
    "minor_unit",
    "minor_units_of",
    "quantize",
    "round_ratio",
    "split_evenly",
    "to_decimal",
    "to_minor_units",
    "to_rate",
]

# ISO 4217 minor units (the "E" column of the ISO list). Funds and metals codes are left out.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2,
    "CHF": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
    "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2,
    "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
    "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2,
    "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2,
    "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2,
    "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2,
    "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2,
    "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2,
    "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2,
    "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2,
    "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2,
    "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "UYI": 0, "UYU": 2,
    "UYW": 4, "UZS": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XOF": 0,
    "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

# -- input limits: defined once, here; docs/money.md lists them ------------------------------------

AMOUNT_DIGITS_MAX = 40
"""The most significant digits an amount at its currency's scale may have (10**38 CNY); also the
most digits before the point of any number loancore accepts (:func:`to_decimal`)."""
SIGNIFICANT_DIGITS_MAX = 100
"""The most significant digits of any number loancore accepts (:func:`to_decimal`): an exact
product of an amount and such a number fits loancore's own decimal context."""
RATE_DECIMALS_MAX = 28
"""The most decimal places (trailing zeros aside) of a rate that the exact calculators compound
or accrue (:func:`to_rate`; :mod:`loancore.amortization`, :mod:`loancore.revolving`): ``(1 + r)^n``
is a fraction with about ``decimals x n`` digits, so 28 places over 1,200 periods takes a tenth of
a second where ``1e-20000`` would take minutes."""
PARTS_MAX = 100_000
"""The most parts one split may have (:func:`split_evenly`, :func:`allocate`, the parties of a
:class:`CumulativeSplit`)."""
NUMBER_TEXT_LENGTH_MAX = SIGNIFICANT_DIGITS_MAX + 2
"""The longest numeric string :func:`to_decimal` parses (digits, sign and point)."""

# A plain decimal numeral: ASCII digits only (str.isdigit and Decimal() accept full-width and
# other scripts' digits), an optional sign and point, no spaces, underscores or exponent.
_NUMERAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

# loancore's own decimal contexts, so a caller's context (a low ``prec``, an ``Inexact`` trap,
# another rounding) never changes or breaks a result. An amount has at most AMOUNT_DIGITS_MAX
# significant digits and any factor at most SIGNIFICANT_DIGITS_MAX, so their exact product fits
# in _ARITH's precision.
_ARITH = decimal.Context(
    prec=AMOUNT_DIGITS_MAX + SIGNIFICANT_DIGITS_MAX + 10,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

# Quantization exponents, precomputed: Decimal("0.01") for CNY, Decimal("1") for JPY.
_EXPONENTS: dict[str, Decimal] = {
    code: Decimal(1).scaleb(-units) for code, units in CURRENCY_MINOR_UNITS.items()
}


class Rounding(str, enum.Enum):
    """Rounding modes; each value is the matching :mod:`decimal` constant.

    Python's own default is HALF_EVEN; many loan contracts state HALF_UP. loancore has no default:
    every rounding call names its mode.
    """

    HALF_UP = decimal.ROUND_HALF_UP
    HALF_EVEN = decimal.ROUND_HALF_EVEN
    HALF_DOWN = decimal.ROUND_HALF_DOWN
    DOWN = decimal.ROUND_DOWN
    UP = decimal.ROUND_UP
    CEILING = decimal.ROUND_CEILING
    FLOOR = decimal.ROUND_FLOOR

    @classmethod
    def parse(cls, value: Rounding | str, *, field: str = "rounding") -> Rounding:
        """Accept a member, its name (``"HALF_UP"``) or the decimal constant (``"ROUND_HALF_UP"``)."""
        if isinstance(value, Rounding):
            return value
        if isinstance(value, str):
            key = value.upper().removeprefix("ROUND_")
            if key in cls.__members__:
                return cls[key]
        raise InvalidInput(field, value, f"expected one of {', '.join(cls.__members__)}")


def to_decimal(value: Any, *, field: str) -> Decimal:
    """Convert an ``int``, ``str`` or ``Decimal`` to a ``Decimal`` within the input limits.

    Refused, with :class:`InvalidInput` naming ``field`` (``float``: :class:`FloatNotAllowed`):
    ``bool`` (``True`` is an ``int`` in Python, never an amount); NaN and infinities; more than
    :data:`AMOUNT_DIGITS_MAX` digits before the point or :data:`SIGNIFICANT_DIGITS_MAX`
    significant digits; a string
    that is not plain ASCII digits with an optional sign and decimal point (no spaces,
    underscores, exponent or full-width digits, all of which ``Decimal()`` accepts).
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        raise FloatNotAllowed(field, value)
    elif isinstance(value, bool):
        raise InvalidInput(field, value, "expected a Decimal, int or numeric string, not a bool")
    elif isinstance(value, int):
        if value and abs(value).bit_length() > 4 * AMOUNT_DIGITS_MAX:  # before str() or Decimal()
            raise InvalidInput(field, value, f"has more than {AMOUNT_DIGITS_MAX} digits")
        result = Decimal(value)
    elif isinstance(value, str):
        if len(value) > NUMBER_TEXT_LENGTH_MAX or not _NUMERAL.fullmatch(value):
            raise InvalidInput(
                field,
                value,
                "expected plain ASCII digits with an optional sign and decimal point "
                f"(at most {NUMBER_TEXT_LENGTH_MAX} characters)",
            )
        result = Decimal(value)
    else:
        raise InvalidInput(field, value, "expected a Decimal, int or numeric string")
    if not result.is_finite():
        raise InvalidInput(field, value, "must be a finite number")
    return _bounded(result, value, field)


def _bounded(result: Decimal, value: Any, field: str) -> Decimal:
    if not result:
        return result
    if result.adjusted() >= AMOUNT_DIGITS_MAX:
        raise InvalidInput(
            field, value, f"has more than {AMOUNT_DIGITS_MAX} digits before the point"
        )
    try:
        _DIGITS.plus(result)  # 0.1 us where counting as_tuple().digits takes 0.4 (hot in Money)
    except decimal.Rounded:
        raise InvalidInput(
            field, value, f"has more than {SIGNIFICANT_DIGITS_MAX} significant digits"
        ) from None
    return result


# Rounding to SIGNIFICANT_DIGITS_MAX digits signals Rounded exactly when a value has more (even
# trailing zeros); the widest exponent range keeps 1E-999999 from signalling anything else.
_DIGITS = decimal.Context(
    prec=SIGNIFICANT_DIGITS_MAX,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Rounded],
)


def decimal_places(value: Decimal) -> int:
    """Decimal places of a finite ``value`` once trailing zeros are dropped (``0.1800`` has 2)."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    trailing = 0
    for digit in reversed(digits):  # bounded by SIGNIFICANT_DIGITS_MAX once through to_decimal
        if digit:
            break
        trailing += 1
    return 0 if trailing == len(digits) else max(0, -(exponent + trailing))


def to_rate(value: Any, *, field: str) -> Decimal:
    """:func:`to_decimal`, and at most :data:`RATE_DECIMALS_MAX` decimal places (trailing zeros
    aside): a rate that an exact calculator turns into a fraction and compounds or accrues."""
    result = to_decimal(value, field=field)
    if decimal_places(result) > RATE_DECIMALS_MAX:
        raise InvalidInput(field, value, f"has more than {RATE_DECIMALS_MAX} decimal places")
    return result


def _check_currency(currency: Any, *, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency not in CURRENCY_MINOR_UNITS:
        raise UnknownCurrency(field, currency)
    return currency


def minor_units_of(currency: str) -> int:
    """The number of decimal places of ``currency`` (CNY 2, JPY 0, KWD 3)."""
    return CURRENCY_MINOR_UNITS[_check_currency(currency)]


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` as a Decimal: ``Decimal("0.01")`` for CNY."""
    return _EXPONENTS[_check_currency(currency)]


def quantize(amount: Decimal, currency: str, *, rounding: Rounding | str) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with the named mode.

    This is the one place where loancore's arithmetic meets the currency's scale; callers name
    the mode at each call (no default). Idempotent: quantizing twice equals quantizing once.
    """
    mode = Rounding.parse(rounding).value
    value, exponent = to_decimal(amount, field="amount"), minor_unit(currency)
    if value and value.adjusted() >= AMOUNT_DIGITS_MAX:
        raise InvalidInput("amount", amount, f"has more than {AMOUNT_DIGITS_MAX} integer digits")
    return value.quantize(exponent, rounding=mode, context=_ARITH)


def at_scale(amount: Any, currency: str, *, field: str) -> Decimal:
    """``amount`` at ``currency``'s scale, exactly: ``InvalidInput`` naming ``field`` when it is
    not a finite number within the input limits (:func:`to_decimal`), has more decimals than the
    currency allows (never rounds) or more than AMOUNT_DIGITS_MAX digits at that scale."""
    return _to_scale(to_decimal(amount, field=field), amount, _check_currency(currency), field)


def _to_scale(value: Decimal, amount: Any, currency: str, field: str) -> Decimal:
    """:func:`at_scale` of a value that already passed :func:`to_decimal` (``amount`` is what the
    caller passed, for the message) in a known currency."""
    exponent = _EXPONENTS[currency]
    if value and value.adjusted() + CURRENCY_MINOR_UNITS[currency] >= AMOUNT_DIGITS_MAX:
        raise InvalidInput(field, amount, f"has more than {AMOUNT_DIGITS_MAX} digits")
    try:
        exact = value.quantize(exponent, context=_EXACT)
    except decimal.Inexact:
        raise InvalidInput(
            field,
            amount,
            f"has more decimals than {currency} allows ({CURRENCY_MINOR_UNITS[currency]}); "
            "round it first with Money.of(..., rounding=...)",
        ) from None
    return exact


_DECIMAL_MODES = frozenset(member.value for member in Rounding)


_SCALE_MAX = max(CURRENCY_MINOR_UNITS.values())


def _scale(scale: Any) -> int:
    if type(scale) is not int or not 0 <= scale <= _SCALE_MAX:
        raise InvalidInput("scale", scale, f"expected an int from 0 to {_SCALE_MAX}")
    return scale


def from_minor_units(minor: int, scale: int) -> Decimal:
    """``minor`` units at ``scale`` decimals as a Decimal: ``from_minor_units(1230, 2)`` is 12.30.

    Exact (loancore's own context), whatever the caller's decimal context."""
    if type(minor) is not int:
        raise InvalidInput("minor", minor, "expected an int number of minor units")
    return Decimal(minor).scaleb(-_scale(scale), _ARITH)


def to_minor_units(amount: Any, scale: int, *, rounding: Rounding | str | None = None) -> int:
    """``amount`` as an integer count of minor units at ``scale`` decimals: 12.30 at 2 is 1230.

    An amount with more decimals than ``scale`` is refused (:class:`InvalidInput`), never
    truncated; pass ``rounding=`` to round it to the scale with that mode first. NaN, infinities
    and amounts beyond the input limits are refused (:func:`to_decimal`).
    """
    value = to_decimal(amount, field="amount")
    exponent = Decimal(1).scaleb(-_scale(scale))
    if rounding is None:
        try:
            value = value.quantize(exponent, context=_EXACT)
        except decimal.Inexact:
            raise InvalidInput(
                "amount",
                amount,
                f"has more than {scale} decimals; pass rounding=... to round it explicitly",
            ) from None
    else:
        value = value.quantize(exponent, rounding=Rounding.parse(rounding).value, context=_ARITH)
    return int(value.scaleb(scale, _ARITH))


def _int_operand(field: str, value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, float):
        raise FloatNotAllowed(field, value)
    raise InvalidInput(field, value, "expected an int")


def round_ratio(numerator: int, denominator: int, *, rounding: Rounding | str) -> int:
    """The exact ratio ``numerator / denominator`` rounded to an integer with the named mode: the
    one rounding point of calculators that work in integer minor units and exact fractions
    (interest = balance x rate, rounded once per installment).

    Both operands are ``int`` of either sign (a ``float`` raises :class:`FloatNotAllowed`, a
    ``bool`` or a zero denominator :class:`InvalidInput`)."""
    # Members are str equal to decimal's constants, so the common case costs one set lookup.
    mode = rounding if rounding in _DECIMAL_MODES else Rounding.parse(rounding).value
    if type(numerator) is not int:
        _int_operand("numerator", numerator)
    if type(denominator) is not int or denominator <= 0:
        if _int_operand("denominator", denominator) == 0:
            raise InvalidInput("denominator", denominator, "must not be zero")
        numerator, denominator = -numerator, -denominator
    q, rem = divmod(numerator, denominator)  # floor, for a positive denominator
    if rem == 0 or mode == decimal.ROUND_FLOOR:
        return q
    if mode == decimal.ROUND_CEILING:
        return q + 1
    if mode == decimal.ROUND_DOWN:
        return q if numerator >= 0 else q + 1
    if mode == decimal.ROUND_UP:
        return q + 1 if numerator >= 0 else q
    twice = 2 * rem
    if twice != denominator:
        return q + 1 if twice > denominator else q
    if mode == decimal.ROUND_HALF_UP:
        return q + 1 if numerator >= 0 else q
    if mode == decimal.ROUND_HALF_DOWN:
        return q if numerator >= 0 else q + 1
    return q + (q & 1)  # HALF_EVEN: the even neighbour


# A context that traps Inexact, so quantizing to the scale fails instead of rounding.
_EXACT = decimal.Context(prec=_ARITH.prec, traps=[decimal.Inexact, decimal.InvalidOperation])


_FROM_MINOR: dict[tuple[int, str], Money] = {}
"""The values :meth:`Money.from_minor` built, by (minor units, currency); emptied when it
reaches :data:`_FROM_MINOR_MAX`."""

_FROM_MINOR_MAX = 10_000


def _amount_converter(value: Any) -> Decimal:
    return to_decimal(value, field="amount")


@attrs.frozen(order=False, repr=False)
class Money:
    """An exact amount of one currency, always at that currency's minor-unit scale.

    ``Money("12.30", "CNY")`` is fine; ``Money("12.305", "CNY")`` raises :class:`InvalidInput`
    (use ``Money.of("12.305", "CNY", rounding=Rounding.HALF_UP)``); ``Money(12.3, "CNY")`` raises
    :class:`FloatNotAllowed`. Arithmetic and ordering across currencies raise
    :class:`CurrencyMismatch`; ordering against a non-Money raises ``TypeError``.
    """

    amount: Decimal = attrs.field(converter=_amount_converter)
    currency: str = attrs.field()

    def __attrs_post_init__(self) -> None:
        _check_currency(self.currency)
        # The converter already ran to_decimal: only the scale is left to check.
        amount = _to_scale(self.amount, self.amount, self.currency, "amount")
        object.__setattr__(self, "amount", amount)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def of(cls, amount: Any, currency: str, *, rounding: Rounding | str) -> Money:
        """Round ``amount`` to the currency's scale with the named mode and wrap it."""
        return cls(
            quantize(to_decimal(amount, field="amount"), currency, rounding=rounding), currency
        )

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency`` (the one :meth:`from_minor` keeps, built once per currency)."""
        return cls.from_minor(0, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Build from integer minor units, as stored: ``Money.from_minor(1230, "CNY")`` is 12.30.

        A Money is an immutable value and stored amounts recur (zero, a schedule's installment
        amounts), so the values built here are kept (bounded) and an amount built before is
        returned as it is, not checked again."""
        if type(minor) is int and type(currency) is str and cls is Money:
            known = _FROM_MINOR.get((minor, currency))
            if known is not None:
                return known
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise InvalidInput("minor", minor, "expected an int number of minor units")
        money = cls(from_minor_units(minor, minor_units_of(currency)), currency)
        if type(minor) is int and type(currency) is str and cls is Money:
            if len(_FROM_MINOR) >= _FROM_MINOR_MAX:
                _FROM_MINOR.clear()
            _FROM_MINOR[(minor, currency)] = money
        return money

    # -- views ----------------------------------------------------------------------------------

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units (fen for CNY), for storage."""
        # Exact: a Money's amount is at its currency's scale by construction.
        return int(self.amount.scaleb(CURRENCY_MINOR_UNITS[self.currency], _ARITH))

    def is_zero(self) -> bool:
        return not self.amount

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __bool__(self) -> bool:
        raise TypeError("Money has no truth value; use .is_zero() or compare explicitly")

    # -- arithmetic (exact; never rounds) --------------------------------------------------------

    def _same(self, other: Any, operation: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"{operation}: expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(operation, self.currency, other.currency)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(_ARITH.add(self.amount, self._same(other, "add").amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(
            _ARITH.subtract(self.amount, self._same(other, "subtract").amount), self.currency
        )

    def __neg__(self) -> Money:
        return Money(_ARITH.minus(self.amount), self.currency)

    def __abs__(self) -> Money:
        return Money(_ARITH.abs(self.amount), self.currency)

    def __mul__(self, factor: int) -> Money:
        """Multiply by an ``int`` (exact). For a Decimal factor use :meth:`multiply`."""
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError(
                "Money * x takes an int; for a rate or ratio use "
                ".multiply(x, rounding=...), which names its rounding"
            )
        return Money(_ARITH.multiply(self.amount, Decimal(factor)), self.currency)

    __rmul__ = __mul__

    def multiply(self, factor: Any, *, rounding: Rounding | str) -> Money:
        """``self * factor`` rounded once, at the end, with the named mode."""
        product = _ARITH.multiply(self.amount, to_decimal(factor, field="factor"))
        return Money(quantize(product, self.currency, rounding=rounding), self.currency)

    # -- ordering (same currency only) -----------------------------------------------------------

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other, "compare").amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other, "compare").amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other, "compare").amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other, "compare").amount

    # -- splitting ------------------------------------------------------------------------------

    def allocate(self, ratios: Sequence[Any]) -> tuple[Money, ...]:
        """Split by ``ratios`` with :func:`allocate` (largest remainder); parts sum to ``self``."""
        parts = allocate(self.amount, ratios, currency=self.currency)
        return tuple(Money(p, self.currency) for p in parts)

    def split_evenly(self, count: int) -> tuple[Money, ...]:
        """Split into ``count`` parts with :func:`split_evenly`; parts sum to ``self``."""
        parts = split_evenly(self.amount, count, currency=self.currency)
        return tuple(Money(p, self.currency) for p in parts)


def _ratios(ratios: Sequence[Any]) -> tuple[Decimal, ...]:
    if isinstance(ratios, (str, bytes)) or not isinstance(ratios, Sequence) or not ratios:
        raise InvalidInput("ratios", ratios, "expected a non-empty sequence of numbers")
    if len(ratios) > PARTS_MAX:
        raise InvalidInput("ratios", ratios, f"expected at most {PARTS_MAX} ratios (PARTS_MAX)")
    values = tuple(to_decimal(r, field=f"ratios[{i}]") for i, r in enumerate(ratios))
    for i, value in enumerate(values):
        if value < 0:
            raise InvalidInput(f"ratios[{i}]", value, "must not be negative")
        if value and value.adjusted() >= AMOUNT_DIGITS_MAX:  # keeps units x ratio in range
            raise InvalidInput(f"ratios[{i}]", value, f"has more than {AMOUNT_DIGITS_MAX} digits")
    if not any(values):  # all >= 0 here, so "sum == 0" without adding in the caller's context
        raise InvalidInput("ratios", ratios, "must not all be zero")
    return values


def allocate(total: Any, ratios: Sequence[Any], *, currency: str) -> tuple[Decimal, ...]:
    """Split ``total`` into parts proportional to ``ratios``, summing exactly to ``total``.

    Method: largest remainder (Hamilton). Each part starts at its exact share rounded toward zero
    to the minor unit; the minor units left over go one each to the parts with the largest
    discarded remainders, ties to the earlier part. So every part is within one minor unit of its
    exact share, a zero ratio always gets zero, and for a non-negative total no part is negative.
    A negative total is split as its absolute value and negated (a refund splits like a payment).
    """
    amount = at_scale(to_decimal(total, field="total"), _check_currency(currency), field="total")
    weights = _ratios(ratios)
    if amount < 0:
        return tuple(-p for p in allocate(-amount, ratios, currency=currency))
    scale = CURRENCY_MINOR_UNITS[currency]
    units = to_minor_units(amount, scale)
    with decimal.localcontext(_ARITH):
        weight_sum = sum(weights)
        exact = [Decimal(units) * w / weight_sum for w in weights]
        floors = [int(e) for e in exact]  # exact >= 0, so int() truncates toward zero = floor
        remainders = [f - e for e, f in zip(exact, floors, strict=True)]  # negated: largest first
    leftover = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return tuple(from_minor_units(f, scale) for f in floors)


def split_evenly(
    total: Any, count: int, *, currency: str, residue: str = "last"
) -> tuple[Decimal, ...]:
    """Split ``total`` into ``count`` equal parts to the minor unit; the parts sum to ``total``.

    Every part is ``total / count`` rounded toward zero, and the residue (fewer than ``count``
    minor units) goes to one place: the last part (``residue="last"``, the convention for a loan's
    last installment) or the first (``residue="first"``).
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= PARTS_MAX:
        raise InvalidInput("count", count, f"expected an int from 1 to {PARTS_MAX} (PARTS_MAX)")
    if residue not in ("last", "first"):
        raise InvalidInput("residue", residue, "expected 'last' or 'first'")
    amount = at_scale(to_decimal(total, field="total"), _check_currency(currency), field="total")
    scale = CURRENCY_MINOR_UNITS[currency]
    units = to_minor_units(amount, scale)
    base = abs(units) // count * (1 if units >= 0 else -1)
    parts = [base] * count
    parts[-1 if residue == "last" else 0] += units - base * count
    return tuple(from_minor_units(p, scale) for p in parts)


def _decimal_tuple(values: Iterable[Decimal]) -> tuple[Decimal, ...]:
    return tuple(values)


@attrs.frozen
class CumulativeSplit:
    """Split a sequence of amounts by fixed ratios so running totals do not drift.

    Rounding each amount's split on its own lets the errors pile up: after twelve installments a
    70/30 joint-lending split rounded half-up each time can be several fen away from 70/30 of the
    total, always in the same party's favour. Here each step gives every party its share of the
    step rounded toward zero, then hands the few leftover minor units to the parties furthest
    *behind their exact share of the running total* (ties to the earlier party). So:

    - each step's parts sum exactly to the step, and have the step's sign (no party ever gets a
      negative share of a positive amount, which largest-remainder on running totals can do);
    - every party's cumulative share stays within ``parties - 1`` minor units of its exact share
      of the cumulative total, however many steps (property-tested), instead of drifting with the
      number of steps; with two parties that is one minor unit.

    Usage::

        split = CumulativeSplit.start(["0.7", "0.3"], currency="CNY")
        parts, split = split.add(Decimal("33.33"))
    """

    ratios: tuple[Decimal, ...] = attrs.field(converter=_ratios)
    currency: str = attrs.field(validator=lambda _i, _a, v: _check_currency(v))
    total: Decimal = Decimal(0)
    allocated: tuple[Decimal, ...] = attrs.field(converter=_decimal_tuple, default=())

    def __attrs_post_init__(self) -> None:
        if not self.allocated:
            object.__setattr__(self, "allocated", tuple(Decimal(0) for _ in self.ratios))
        if len(self.allocated) != len(self.ratios):
            raise InvalidInput("allocated", self.allocated, "must have one entry per ratio")

    @classmethod
    def start(cls, ratios: Sequence[Any], *, currency: str) -> CumulativeSplit:
        return cls(ratios=ratios, currency=currency)

    def add(self, amount: Any) -> tuple[tuple[Decimal, ...], CumulativeSplit]:
        """Split the next ``amount``; return its parts and the new state."""
        step = at_scale(to_decimal(amount, field="amount"), self.currency, field="amount")
        scale = CURRENCY_MINOR_UNITS[self.currency]
        sign = -1 if step < 0 else 1
        units = abs(to_minor_units(step, scale))
        with decimal.localcontext(_ARITH):
            total = self.total + step
            weight_sum = sum(self.ratios)
            base = [int(Decimal(units) * w / weight_sum) for w in self.ratios]
            # How far each party is ahead of its exact share of the new running total, counting
            # this step's base, measured in the direction of the step (most behind first).
            ahead = [
                b - sign * (total.scaleb(scale) * w / weight_sum - a.scaleb(scale))
                for w, a, b in zip(self.ratios, self.allocated, base, strict=True)
            ]
        leftover = units - sum(base)
        for i in sorted(range(len(base)), key=lambda i: (ahead[i], i))[:leftover]:
            base[i] += 1
        parts = tuple(from_minor_units(sign * b, scale) for b in base)
        allocated = tuple(_ARITH.add(a, p) for a, p in zip(self.allocated, parts, strict=True))
        return parts, attrs.evolve(self, total=total, allocated=allocated)

    def add_all(
        self, amounts: Iterable[Any]
    ) -> tuple[tuple[tuple[Decimal, ...], ...], CumulativeSplit]:
        """Split each of ``amounts`` in turn; return all the parts and the final state."""
        state = self
        out = []
        for amount in amounts:
            parts, state = state.add(amount)
            out.append(parts)
        return tuple(out), state
