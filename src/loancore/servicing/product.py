"""Loan products: the versioned terms a loan is booked under, and their TOML form.

A :class:`LoanProduct` holds what every loan of the product shares: the calculator defaults
(method, contract rate, day count, rounding, installment multiple, per-period management fee), how
interest is recognised (daily accrual or on the due date), penalty interest (罚息) and compound
interest (复利), grace days, charges (origination fee, late fee 滞纳金), the allocation
:class:`~loancore.waterfall.Policy`, prepayment and merchant-refund rules, the merchant discount
rate, the :class:`~loancore.postings.SubjectMapping` (which carries the discount treatment) and
the :class:`GlGranularity` of its end-of-day postings (``gl_granularity = "loan"`` or
``"summary"``; a product version is immutable, so changing it takes a new version).

Products are versioned: ``(product_id, version)`` names one immutable value and a loan keeps the
version it was booked under. :func:`product_from_toml` reads one from TOML text; a bad value
raises :class:`ProductConfigError` naming the TOML key (``interest.penalty.multiple``).

Interest-free plans (免息) the merchant subsidises: ``annual_rate = 0`` for the borrower, a
``merchant.discount_rate`` the merchant gives up, and ``discount_treatment =
"interest_adjustment"``: the discount is credited to 利息调整 at disbursement and amortized into
interest income on each due date, so the lender's yield shows as interest income over the loan's
life (see docs/servicing.md).

A :class:`CreditLineProduct` is the product of a revolving credit line (a cash-draw or B2B line,
:mod:`loancore.servicing.revolving_line`): a daily rate (or an annual rate with its day count), the
statement's due days and minimum payment, the late fee, the allocation policy and the mapping;
:func:`credit_line_product_from_toml` reads one.
"""

from __future__ import annotations

import enum
import tomllib
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from loancore.amortization import LoanTerms, Method, Reamortization
from loancore.checks import require_id
from loancore.daycount import DayCount
from loancore.errors import InvalidInput
from loancore.money import CURRENCY_MINOR_UNITS, Money, Rounding, at_scale, round_ratio
from loancore.postings import Role, SubjectMapping
from loancore.waterfall import CHINA_CONSUMER_FINANCE, CIVIL_CODE_561, PRESETS, Policy

__all__ = [
    "DUE_DAYS_MAX",
    "GRACE_DAYS_MAX",
    "CreditLineProduct",
    "GlGranularity",
    "InterestRecognition",
    "LateFee",
    "LoanProduct",
    "Penalty",
    "PrepaymentRules",
    "ProductConfigError",
    "RefundRules",
    "credit_line_product_from_toml",
    "product_from_toml",
]

GRACE_DAYS_MAX = 90
DUE_DAYS_MAX = 27
"""The most days a statement's due date may lie after the statement date."""
_LATE_DAYS_MAX = 27  # the first late day is then at most 28 days on: before the next statement
_ZERO = Decimal(0)
_ONE = Decimal(1)


class ProductConfigError(InvalidInput):
    """A product value is missing, of the wrong type or out of range; ``field`` is its TOML key."""


class InterestRecognition(str, enum.Enum):
    """Daily accrual (计提, income day by day) or recognition on the due date only."""

    DAILY = "daily"
    ON_DUE_DATE = "on_due_date"


class GlGranularity(str, enum.Enum):
    """How the end-of-day batch posts a product's day-close entries to the general ledger
    (TOML ``gl_granularity``): ``loan``, one entry per loan per event with a ``loan`` dimension;
    ``summary``, one entry per product, day and event kind per unit of work, its legs the
    per-subject sums, the loan-level detail kept in the loan sub-ledger (docs/end-of-day.md)."""

    LOAN = "loan"
    SUMMARY = "summary"


def _granularity(value: object) -> GlGranularity:
    try:
        return GlGranularity(value)
    except ValueError:
        allowed = [m.value for m in GlGranularity]
        raise ProductConfigError("gl_granularity", value, f"expected one of {allowed}") from None


def _fraction(field: str, value: Decimal, high: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not _ZERO <= value < high:
        raise ProductConfigError(field, value, f"expected a Decimal in [0, {high})")
    return value


@attrs.frozen(kw_only=True)
class Penalty:
    """Penalty interest (罚息) on overdue principal: ``multiple`` x the contract rate (1.3-1.5
    is usual) or an explicit ``rate_annual``; exactly one is set. ``compound`` also charges it on
    overdue interest (复利)."""

    multiple: Decimal | None = Decimal("1.5")
    rate_annual: Decimal | None = None
    compound: bool = False

    def __attrs_post_init__(self) -> None:
        if (self.multiple is None) == (self.rate_annual is None):
            raise ProductConfigError(
                "interest.penalty", (self.multiple, self.rate_annual), "set multiple or rate_annual"
            )
        if self.multiple is not None:
            _fraction("interest.penalty.multiple", self.multiple, Decimal(10))
        if self.rate_annual is not None:
            _fraction("interest.penalty.rate_annual", self.rate_annual, Decimal(10))

    def rate_for(self, contract_rate: Decimal) -> Decimal:
        """The annual penalty rate for a loan at ``contract_rate`` (a fraction)."""
        if self.rate_annual is not None:
            return self.rate_annual
        assert self.multiple is not None
        return contract_rate * self.multiple


@attrs.frozen(kw_only=True)
class LateFee:
    """滞纳金: charged once per installment when it passes its grace days unpaid: ``fixed``, or
    ``rate`` x the installment's unpaid principal and interest capped at ``cap``."""

    fixed: Money | None = None
    rate: Decimal | None = None
    cap: Money | None = None

    def __attrs_post_init__(self) -> None:
        if self.fixed is not None and self.rate is not None:
            raise ProductConfigError("charges.late_fee", self, "set fixed or rate, not both")
        if self.rate is not None:
            _fraction("charges.late_fee.rate", self.rate, _ONE)
        for name in ("fixed", "cap"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Money) or value.is_negative()):
                raise ProductConfigError(f"charges.late_fee.{name}", value, "expected Money >= 0")

    def amount_for(self, unpaid: int, *, rounding: Rounding) -> int:
        """The fee (minor units) on ``unpaid`` minor units overdue: ``fixed``, or ``rate`` x
        ``unpaid`` rounded once with ``rounding`` and capped at ``cap``; 0 when neither is set."""
        if self.fixed is not None:
            return self.fixed.minor_units
        if self.rate is None:
            return 0
        exact = Fraction(self.rate) * unpaid
        fee = round_ratio(exact.numerator, exact.denominator, rounding=rounding)
        return fee if self.cap is None else min(fee, self.cap.minor_units)


@attrs.frozen(kw_only=True)
class PrepaymentRules:
    """Whether and how a borrower may prepay: ``lock_in_days`` after disbursement, a fee of
    ``fee_rate`` x the principal prepaid, and the re-amortization of a partial prepayment."""

    allowed: bool = True
    lock_in_days: int = 0
    fee_rate: Decimal = _ZERO
    reamortization: Reamortization = Reamortization.KEEP_TERM

    def __attrs_post_init__(self) -> None:
        _fraction("prepayment.fee_rate", self.fee_rate, _ONE)
        if isinstance(self.lock_in_days, bool) or not 0 <= self.lock_in_days <= 3660:
            raise ProductConfigError("prepayment.lock_in_days", self.lock_in_days, "0..3660")


@attrs.frozen(kw_only=True)
class RefundRules:
    """A merchant refund: a partial one reduces principal ``keep_installment`` (from the last
    installments: the term shortens) or ``keep_term``. ``waive_interest``: a full refund cancels
    the interest and fees booked (else what accrued stays owed). ``return_discount``: the
    merchant gets its discount back pro rata (else it repays the full principal refunded)."""

    reamortization: Reamortization = Reamortization.KEEP_INSTALLMENT
    waive_interest: bool = True
    return_discount: bool = True


@attrs.frozen(kw_only=True)
class LoanProduct:
    """A versioned loan product (see the module docstring). Rates are fractions."""

    product_id: str = attrs.field(validator=lambda _s, _a, v: require_id("product_id", v))
    version: int
    currency: str
    method: Method = Method.EQUAL_INSTALLMENT
    annual_rate: Decimal
    rounding: Rounding
    day_count: DayCount = DayCount.ACT_360
    installment_multiple: Decimal | None = None
    management_fee_rate: Decimal = _ZERO  # 管理费 per period, of the original principal
    recognition: InterestRecognition = InterestRecognition.DAILY
    penalty: Penalty = Penalty()
    grace_days: int = 0
    origination_fee_rate: Decimal = _ZERO  # of the principal, due with the first installment
    late_fee: LateFee = LateFee()
    policy: Policy = CHINA_CONSUMER_FINANCE
    prepayment: PrepaymentRules = PrepaymentRules()
    refund: RefundRules = RefundRules()
    merchant_discount_rate: Decimal = _ZERO
    mapping: SubjectMapping = attrs.field(factory=SubjectMapping)
    gl_granularity: GlGranularity = attrs.field(default=GlGranularity.LOAN, converter=_granularity)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ProductConfigError("version", self.version, "expected an int >= 1")
        if self.currency not in CURRENCY_MINOR_UNITS:
            raise ProductConfigError("currency", self.currency, "unknown ISO 4217 code")
        _fraction("terms.annual_rate", self.annual_rate, Decimal(10))
        _fraction("terms.management_fee_rate", self.management_fee_rate, _ONE)
        _fraction("charges.origination_fee_rate", self.origination_fee_rate, _ONE)
        _fraction("merchant.discount_rate", self.merchant_discount_rate, _ONE)
        if isinstance(self.grace_days, bool) or not 0 <= self.grace_days <= GRACE_DAYS_MAX:
            raise ProductConfigError("interest.grace_days", self.grace_days, f"0..{GRACE_DAYS_MAX}")
        for name, money in (("fixed", self.late_fee.fixed), ("cap", self.late_fee.cap)):
            if money is not None and money.currency != self.currency:
                raise ProductConfigError(f"charges.late_fee.{name}", money, self.currency)

    @property
    def ref(self) -> tuple[str, int]:
        """``(product_id, version)``: what a loan keeps."""
        return (self.product_id, self.version)

    def terms(
        self, principal: Money, installments: int, start_date: Any, *, first_due_date: Any = None
    ) -> LoanTerms:
        """The calculator terms of a loan of ``principal`` over ``installments`` periods."""
        return LoanTerms(
            principal=principal.amount,
            currency=principal.currency,
            annual_rate=self.annual_rate,
            installments=installments,
            method=self.method,
            start_date=start_date,
            first_due_date=first_due_date,
            rounding=self.rounding,
            installment_multiple=self.installment_multiple,
            fee_rate_per_period=self.management_fee_rate,
        )


def _days(field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProductConfigError(field, value, f"expected an int in {low}..{high}")
    return value


@attrs.frozen(kw_only=True)
class CreditLineProduct:
    """A versioned revolving credit line product (随借随还; see the module docstring).

    Interest runs every day on the principal drawn: ``daily_rate`` (0.0005 = 万分之五 a day, on
    calendar days), or ``annual_rate`` with ``day_count``; exactly one of the two rates. The
    statement (账单) closes monthly on the account's statement day and is due ``due_days`` later;
    its minimum payment is ``minimum_payment_rate`` x the principal, at least
    ``minimum_payment_floor`` (never more than the principal), plus the previous minimum's
    principal left unpaid, plus all interest, penalty and fees billed. A minimum still unpaid
    ``grace_days`` after the due date costs the ``late_fee`` (its ``rate`` of the minimum unpaid,
    capped, or ``fixed``), and with ``penalty_daily_rate`` penalty interest (罚息) on the minimum
    still unpaid from that day until it is paid or the next statement closes. Repayments are
    spread by ``policy`` (interest first).
    """

    product_id: str = attrs.field(validator=lambda _s, _a, v: require_id("product_id", v))
    version: int
    currency: str
    daily_rate: Decimal | None = None
    annual_rate: Decimal | None = None
    day_count: DayCount | None = None
    rounding: Rounding
    due_days: int = 20
    grace_days: int = 0
    minimum_payment_rate: Decimal = Decimal("0.10")
    minimum_payment_floor: Money | None = None
    late_fee: LateFee = LateFee()
    penalty_daily_rate: Decimal | None = None
    policy: Policy = CIVIL_CODE_561
    mapping: SubjectMapping = attrs.field(factory=SubjectMapping)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ProductConfigError("version", self.version, "expected an int >= 1")
        if self.currency not in CURRENCY_MINOR_UNITS:
            raise ProductConfigError("currency", self.currency, "unknown ISO 4217 code")
        if (self.daily_rate is None) == (self.annual_rate is None):
            raise ProductConfigError("terms.daily_rate", self.daily_rate, "set it or annual_rate")
        if self.daily_rate is not None:
            _fraction("terms.daily_rate", self.daily_rate, _ONE)
            if self.day_count is not None:
                reason = "a daily rate runs on calendar days; day_count goes with annual_rate"
                raise ProductConfigError("terms.day_count", self.day_count, reason)
        if self.annual_rate is not None:
            _fraction("terms.annual_rate", self.annual_rate, Decimal(10))
            if not isinstance(self.day_count, DayCount):
                raise ProductConfigError("terms.day_count", self.day_count, "expected a DayCount")
        if not isinstance(self.rounding, Rounding):
            raise ProductConfigError("terms.rounding", self.rounding, "expected a Rounding")
        _days("statement.due_days", self.due_days, 1, DUE_DAYS_MAX)
        _days("statement.grace_days", self.grace_days, 0, GRACE_DAYS_MAX)
        if self.due_days + self.grace_days > _LATE_DAYS_MAX:
            reason = (
                f"due_days + grace_days at most {_LATE_DAYS_MAX}: a late fee before the next bill"
            )
            raise ProductConfigError("statement.due_days", self.due_days, reason)
        _fraction("statement.minimum_payment_rate", self.minimum_payment_rate, _ONE)
        if self.penalty_daily_rate is not None:
            _fraction("statement.penalty_daily_rate", self.penalty_daily_rate, _ONE)
        floor = self.minimum_payment_floor
        if floor is not None and (not isinstance(floor, Money) or floor.is_negative()):
            raise ProductConfigError("statement.minimum_payment_floor", floor, "Money >= 0")
        monies = (
            ("statement.minimum_payment_floor", floor),
            ("charges.late_fee.fixed", self.late_fee.fixed),
            ("charges.late_fee.cap", self.late_fee.cap),
        )
        for field, money in monies:
            if money is not None and money.currency != self.currency:
                raise ProductConfigError(field, money, self.currency)

    @property
    def ref(self) -> tuple[str, int]:
        """``(product_id, version)``: what an account keeps."""
        return (self.product_id, self.version)


# -- TOML -----------------------------------------------------------------------------------------


class _Table:
    """One TOML table read key by key; keys left unread are refused by :meth:`done`."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data, self.path, self.read = data, path, set[str]()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str) -> Any:
        self.read.add(name)
        return self.data.get(name)

    def table(self, name: str) -> _Table:
        value = self.raw(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ProductConfigError(self.key(name), value, "expected a table")
        return _Table(value, self.key(name))

    def text(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            raise ProductConfigError(self.key(name), value, "expected a string")
        return value

    def decimal(self, name: str, default: Decimal | None = None) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ProductConfigError(self.key(name), value, 'expected a decimal string ("0.18")')
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise ProductConfigError(self.key(name), value, "not a decimal number") from None
        if not result.is_finite():
            raise ProductConfigError(self.key(name), value, "not a finite decimal")
        return result

    def integer(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProductConfigError(self.key(name), value, "expected an integer")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ProductConfigError(self.key(name), value, "expected true or false")
        return value

    def choice(self, name: str, kind: type[enum.Enum], default: enum.Enum) -> Any:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = [m.value for m in kind]
            raise ProductConfigError(self.key(name), value, f"expected one of {allowed}") from None

    def money(self, name: str, currency: str) -> Money | None:
        amount = self.decimal(name)
        if amount is None:
            return None
        try:
            return Money(at_scale(amount, currency, field=self.key(name)), currency)
        except InvalidInput as error:
            raise ProductConfigError(self.key(name), amount, error.reason) from None

    def done(self) -> None:
        for name in sorted(set(self.data) - self.read):
            raise ProductConfigError(self.key(name), self.data[name], "unknown key")


def _penalty(table: _Table) -> Penalty:
    penalty = table.table("penalty")
    multiple = penalty.decimal("multiple")
    rate = penalty.decimal("rate_annual")
    if multiple is None and rate is None:
        multiple = Decimal("1.5")
    result = Penalty(multiple=multiple, rate_annual=rate, compound=table.boolean("compound", False))
    penalty.done()
    return result


def _late_fee(table: _Table, currency: str) -> LateFee:
    late = table.table("late_fee")
    fee = LateFee(
        fixed=late.money("fixed", currency),
        rate=late.decimal("rate"),
        cap=late.money("cap", currency),
    )
    late.done()
    return fee


def _policy(table: _Table) -> Policy:
    name = table.text("policy", CHINA_CONSUMER_FINANCE.name)
    if name not in PRESETS:
        raise ProductConfigError(table.key("policy"), name, f"expected one of {sorted(PRESETS)}")
    return PRESETS[name]


def _mapping(table: _Table) -> SubjectMapping:
    codes: dict[str, Any] = {}
    for role in Role:
        value = table.raw(role.value)
        if value is not None:
            codes[role.value] = value
    treatment = table.raw("discount_treatment")
    if treatment is not None:
        codes["discount_treatment"] = treatment
    try:
        return SubjectMapping(**codes)
    except InvalidInput as error:
        key = table.key(error.field.removeprefix("mapping."))
        raise ProductConfigError(key, error.value, error.reason) from None


def _sections(root: _Table, currency: str) -> dict[str, Any]:
    terms, interest, charges = root.table("terms"), root.table("interest"), root.table("charges")
    prepay, refund, merchant = (
        root.table("prepayment"),
        root.table("refund"),
        root.table("merchant"),
    )
    allocation, mapping = root.table("allocation"), root.table("mapping")
    fields: dict[str, Any] = {
        "method": terms.choice("method", Method, Method.EQUAL_INSTALLMENT),
        "annual_rate": terms.decimal("annual_rate"),
        "rounding": Rounding.parse(terms.text("rounding"), field="terms.rounding"),
        "day_count": DayCount.parse(terms.text("day_count", "ACT/360"), "terms.day_count"),
        "installment_multiple": terms.decimal("installment_multiple"),
        "management_fee_rate": terms.decimal("management_fee_rate", _ZERO),
        "recognition": interest.choice(
            "recognition", InterestRecognition, InterestRecognition.DAILY
        ),
        "grace_days": interest.integer("grace_days", 0),
        "penalty": _penalty(interest),
        "origination_fee_rate": charges.decimal("origination_fee_rate", _ZERO),
        "late_fee": _late_fee(charges, currency),
        "policy": _policy(allocation),
        "prepayment": PrepaymentRules(
            allowed=prepay.boolean("allowed", True),
            lock_in_days=prepay.integer("lock_in_days", 0),
            fee_rate=prepay.decimal("fee_rate", _ZERO) or _ZERO,
            reamortization=prepay.choice(
                "reamortization", Reamortization, Reamortization.KEEP_TERM
            ),
        ),
        "refund": RefundRules(
            reamortization=refund.choice(
                "reamortization", Reamortization, Reamortization.KEEP_INSTALLMENT
            ),
            waive_interest=refund.boolean("waive_interest", True),
            return_discount=refund.boolean("return_discount", True),
        ),
        "merchant_discount_rate": merchant.decimal("discount_rate", _ZERO),
        "mapping": _mapping(mapping),
    }
    for table in (terms, interest, charges, prepay, refund, merchant, allocation, mapping):
        table.done()
    if fields["annual_rate"] is None:
        raise ProductConfigError("terms.annual_rate", None, "required")
    return fields


def product_from_toml(text: str) -> LoanProduct:
    """The product described by TOML ``text`` (docs/servicing.md has an example).

    Rates and amounts are strings (``"0.18"``: TOML floats are binary and refused). Unknown keys
    are refused. Every error is a :class:`ProductConfigError` whose ``field`` is the TOML key.
    """
    if not isinstance(text, str):
        raise ProductConfigError("toml", text, "expected a str")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProductConfigError("toml", str(error), "not valid TOML") from None
    root = _Table(data, "")
    product_id = root.text("product_id")
    version = root.integer("version", 0)
    currency = root.text("currency")
    if currency not in CURRENCY_MINOR_UNITS:
        raise ProductConfigError("currency", currency, "unknown ISO 4217 code")
    fields = _sections(root, currency)
    fields["gl_granularity"] = root.choice("gl_granularity", GlGranularity, GlGranularity.LOAN)
    root.done()
    try:
        return LoanProduct(product_id=product_id, version=version, currency=currency, **fields)
    except ProductConfigError:
        raise
    except InvalidInput as error:
        raise ProductConfigError(error.field, error.value, error.reason) from None


def credit_line_product_from_toml(text: str) -> CreditLineProduct:
    """The credit line product described by TOML ``text`` (docs/servicing.md has an example).

    Tables ``[terms]`` (``daily_rate`` or ``annual_rate`` with ``day_count``, ``rounding``),
    ``[statement]`` (``due_days``, ``grace_days``, ``minimum_payment_rate``,
    ``minimum_payment_floor``, ``penalty_daily_rate``), ``[charges.late_fee]``, ``[allocation]`` and ``[mapping]``, as for
    :func:`product_from_toml`: strings for rates and amounts, unknown keys refused, every error a
    :class:`ProductConfigError` naming the TOML key.
    """
    if not isinstance(text, str):
        raise ProductConfigError("toml", text, "expected a str")
    try:
        root = _Table(tomllib.loads(text), "")
    except tomllib.TOMLDecodeError as error:
        raise ProductConfigError("toml", str(error), "not valid TOML") from None
    product_id, version = root.text("product_id"), root.integer("version", 0)
    currency = root.text("currency")
    if currency not in CURRENCY_MINOR_UNITS:
        raise ProductConfigError("currency", currency, "unknown ISO 4217 code")
    try:
        fields = _credit_line_fields(root, currency)
        root.done()
        return CreditLineProduct(
            product_id=product_id, version=version, currency=currency, **fields
        )
    except ProductConfigError:
        raise
    except InvalidInput as error:
        raise ProductConfigError(error.field, error.value, error.reason) from None


def _credit_line_fields(root: _Table, currency: str) -> dict[str, Any]:
    terms, statement, charges = root.table("terms"), root.table("statement"), root.table("charges")
    allocation, mapping = root.table("allocation"), root.table("mapping")
    day_count = terms.raw("day_count")
    fields: dict[str, Any] = {
        "daily_rate": terms.decimal("daily_rate"),
        "annual_rate": terms.decimal("annual_rate"),
        "day_count": None if day_count is None else DayCount.parse(day_count, "terms.day_count"),
        "rounding": Rounding.parse(terms.text("rounding"), field="terms.rounding"),
        "due_days": statement.integer("due_days", 20),
        "grace_days": statement.integer("grace_days", 0),
        "minimum_payment_rate": statement.decimal("minimum_payment_rate", Decimal("0.10")),
        "minimum_payment_floor": statement.money("minimum_payment_floor", currency),
        "penalty_daily_rate": statement.decimal("penalty_daily_rate"),
        "late_fee": _late_fee(charges, currency),
        "policy": _policy(allocation),
        "mapping": _mapping(mapping),
    }
    for table in (terms, statement, charges, allocation, mapping):
        table.done()
    return fields
