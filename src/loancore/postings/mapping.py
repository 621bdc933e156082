"""A product's subject mapping: which subject (会计科目) each booked role posts to.

A posting template never names a subject code; it names a :class:`Role` (``principal``,
``interest_receivable``, ``merchant_payable`` ...) and the product's :class:`SubjectMapping`
turns the role into a code. Two products may book the same event to different subjects (a
joint-lending product to its own partner payable, a product on the 2006 rules to 6701 instead of
6702) without a second copy of the posting rule.

The default mapping uses the default chart (:func:`loancore.ledger.default_chart`, the 2006
application guide's financial-enterprise numbering with 6702 信用减值损失 from CAS 22 (2017)).
Penalty (罚息) and compound (复利) interest share 1132 应收利息 and 6011 利息收入 with contract
interest by default, as banks book them; a product that reports them apart maps them to
sub-accounts of its own chart. Each :class:`FeeKind` earns its own income subject, a sub-account
of 6021 手续费及佣金收入 (6021.01 origination .. 6021.04 prepayment); ``fee_income`` (6021.09)
takes the merchant's fees (a discount booked as fee income, a service fee kept at settlement) and
a fee waiver that names no kind.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from loancore.checks import require_id
from loancore.errors import InvalidInput
from loancore.ledger.subjects import Chart, SubjectKind

__all__ = [
    "ALLOWANCE_ROLE",
    "DEFAULT_MAPPING",
    "FEE_INCOME_ROLE",
    "INCOME_ROLE",
    "RECEIVABLE_ROLE",
    "ROLE_KINDS",
    "Component",
    "DiscountTreatment",
    "FeeKind",
    "Role",
    "Stage",
    "SubjectMapping",
    "SubjectMappingError",
]


class Role(str, enum.Enum):
    """What a posting line books; each value is the name of a :class:`SubjectMapping` field."""

    PRINCIPAL = "principal"
    INTEREST_ADJUSTMENT = "interest_adjustment"  # 利息调整: merchant discount to amortize
    INTEREST_ACCRUED = "interest_accrued"  # 应计利息: earned, not yet due
    INTEREST_RECEIVABLE = "interest_receivable"  # 应收利息: due, not yet paid
    PENALTY_RECEIVABLE = "penalty_receivable"  # 罚息 due
    COMPOUND_RECEIVABLE = "compound_receivable"  # 复利 due
    FEE_RECEIVABLE = "fee_receivable"  # origination, management (管理费), late fee (滞纳金)
    INTEREST_INCOME = "interest_income"
    PENALTY_INCOME = "penalty_income"
    COMPOUND_INCOME = "compound_income"
    FEE_INCOME = "fee_income"  # merchant discount or service fee, a waiver of no stated kind
    ORIGINATION_FEE_INCOME = "origination_fee_income"
    MANAGEMENT_FEE_INCOME = "management_fee_income"  # 管理费
    LATE_FEE_INCOME = "late_fee_income"  # 滞纳金
    PREPAYMENT_FEE_INCOME = "prepayment_fee_income"  # 提前还款手续费
    MERCHANT_PAYABLE = "merchant_payable"  # owed to the merchant until settlement (受托支付)
    BANK = "bank"
    CLEARING = "clearing"  # money received through a payment channel, not yet in the bank
    OVERPAYMENT = "overpayment"  # 溢缴款: the borrower's credit balance
    PARTNER_PAYABLE = "partner_payable"  # a joint-lending partner's share collected for it
    IMPAIRMENT_LOSS = "impairment_loss"
    ALLOWANCE_STAGE_1 = "allowance_stage_1"
    ALLOWANCE_STAGE_2 = "allowance_stage_2"
    ALLOWANCE_STAGE_3 = "allowance_stage_3"
    COMMISSION_EXPENSE = "commission_expense"  # 助贷: a traffic platform's commission, earned
    COMMISSION_PAYABLE = "commission_payable"  # the platform's commission owed until paid
    PARTNER_FUNDING = "partner_funding"  # 联合贷款: a partner's part of the principal it funded
    PARTNER_FUNDING_COST = "partner_funding_cost"  # the partner's part of what a loan earned


class Component(str, enum.Enum):
    """A part of what a borrower owes; persisted by value."""

    PRINCIPAL = "principal"
    INTEREST = "interest"
    PENALTY = "penalty"  # 罚息: interest on overdue principal
    COMPOUND = "compound"  # 复利: interest on overdue interest
    FEE = "fee"


class FeeKind(str, enum.Enum):
    """The fees a borrower may be charged; persisted by value. Each earns its own income role
    (:data:`FEE_INCOME_ROLE`)."""

    ORIGINATION = "origination"
    MANAGEMENT = "management"  # 管理费
    LATE = "late"  # 滞纳金
    PREPAYMENT = "prepayment"  # 提前还款手续费


class Stage(enum.IntEnum):
    """Expected-credit-loss stage of CAS 22 (2017); persisted by value."""

    ONE = 1
    TWO = 2
    THREE = 3


class DiscountTreatment(str, enum.Enum):
    """How a merchant discount (the part of the price the merchant gives up) is booked.

    ``FEE_INCOME``: fee income at once. ``INTEREST_ADJUSTMENT``: credited to 利息调整 and
    amortized into interest income over the loan's life (the effective-interest view of CAS 22).
    """

    FEE_INCOME = "fee_income"
    INTEREST_ADJUSTMENT = "interest_adjustment"


RECEIVABLE_ROLE: Mapping[Component, Role] = {
    Component.PRINCIPAL: Role.PRINCIPAL,
    Component.INTEREST: Role.INTEREST_RECEIVABLE,
    Component.PENALTY: Role.PENALTY_RECEIVABLE,
    Component.COMPOUND: Role.COMPOUND_RECEIVABLE,
    Component.FEE: Role.FEE_RECEIVABLE,
}
"""Where each component sits while it is owed."""

INCOME_ROLE: Mapping[Component, Role] = {
    Component.INTEREST: Role.INTEREST_INCOME,
    Component.PENALTY: Role.PENALTY_INCOME,
    Component.COMPOUND: Role.COMPOUND_INCOME,
    Component.FEE: Role.FEE_INCOME,
}
"""The income each component earns (principal earns none)."""

FEE_INCOME_ROLE: Mapping[FeeKind, Role] = {
    FeeKind.ORIGINATION: Role.ORIGINATION_FEE_INCOME,
    FeeKind.MANAGEMENT: Role.MANAGEMENT_FEE_INCOME,
    FeeKind.LATE: Role.LATE_FEE_INCOME,
    FeeKind.PREPAYMENT: Role.PREPAYMENT_FEE_INCOME,
}
"""The income each kind of fee earns; a fee of no stated kind earns ``Role.FEE_INCOME``."""

ALLOWANCE_ROLE: Mapping[Stage, Role] = {
    Stage.ONE: Role.ALLOWANCE_STAGE_1,
    Stage.TWO: Role.ALLOWANCE_STAGE_2,
    Stage.THREE: Role.ALLOWANCE_STAGE_3,
}

_ASSET = frozenset({SubjectKind.ASSET})
ROLE_KINDS: Mapping[Role, frozenset[SubjectKind]] = {
    **{role: _ASSET for role in RECEIVABLE_ROLE.values()},
    **{role: frozenset({SubjectKind.INCOME}) for role in INCOME_ROLE.values()},
    **{role: frozenset({SubjectKind.INCOME}) for role in FEE_INCOME_ROLE.values()},
    **{role: _ASSET for role in ALLOWANCE_ROLE.values()},  # contra assets, credit normal side
    Role.INTEREST_ADJUSTMENT: _ASSET,
    Role.INTEREST_ACCRUED: _ASSET,
    Role.MERCHANT_PAYABLE: frozenset({SubjectKind.LIABILITY}),
    Role.BANK: _ASSET,
    Role.CLEARING: frozenset({SubjectKind.COMMON, SubjectKind.ASSET}),
    Role.OVERPAYMENT: frozenset({SubjectKind.LIABILITY}),
    Role.PARTNER_PAYABLE: frozenset({SubjectKind.LIABILITY}),
    Role.IMPAIRMENT_LOSS: frozenset({SubjectKind.EXPENSE}),
    Role.COMMISSION_EXPENSE: frozenset({SubjectKind.EXPENSE}),
    Role.COMMISSION_PAYABLE: frozenset({SubjectKind.LIABILITY}),
    Role.PARTNER_FUNDING: frozenset({SubjectKind.LIABILITY}),
    Role.PARTNER_FUNDING_COST: frozenset({SubjectKind.EXPENSE}),
}
"""The subject kinds a role may map to: a fee income mapped to an asset is refused."""


class SubjectMappingError(InvalidInput):
    """A role of a mapping names a subject the chart does not have, a parent, or a wrong kind.

    ``role`` and ``code`` name the offending pair; ``field`` is ``"mapping.<role>"``.
    """

    def __init__(self, role: Role, code: str, reason: str) -> None:
        self.role = role
        self.code = code
        super().__init__(f"mapping.{role.value}", code, reason)


def _code(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_id(f"mapping.{attribute.name}", value)


def _code_field(default: str) -> str:
    return attrs.field(default=default, validator=_code)


def _treatment(value: object) -> DiscountTreatment:
    try:
        return DiscountTreatment(value)
    except ValueError:
        expected = f"one of {[t.value for t in DiscountTreatment]}"
        raise InvalidInput("mapping.discount_treatment", value, expected) from None


@attrs.frozen(kw_only=True)
class SubjectMapping:
    """A product's subject code for every :class:`Role`, and its merchant-discount treatment.

    ``SubjectMapping()`` is the default (see the module docstring); override roles by keyword:
    ``SubjectMapping(partner_payable="2241.03")``. :meth:`check` validates it against a chart.
    """

    principal: str = _code_field("1303.01")
    interest_adjustment: str = _code_field("1303.02")
    interest_accrued: str = _code_field("1303.03")
    interest_receivable: str = _code_field("1132")
    penalty_receivable: str = _code_field("1132")
    compound_receivable: str = _code_field("1132")
    fee_receivable: str = _code_field("1221")
    interest_income: str = _code_field("6011")
    penalty_income: str = _code_field("6011")
    compound_income: str = _code_field("6011")
    fee_income: str = _code_field("6021.09")
    origination_fee_income: str = _code_field("6021.01")
    management_fee_income: str = _code_field("6021.02")
    late_fee_income: str = _code_field("6021.03")
    prepayment_fee_income: str = _code_field("6021.04")
    merchant_payable: str = _code_field("2202")
    bank: str = _code_field("1002")
    clearing: str = _code_field("3001")
    overpayment: str = _code_field("2241.01")
    partner_payable: str = _code_field("2241.02")
    impairment_loss: str = _code_field("6702")
    allowance_stage_1: str = _code_field("1304.01")
    allowance_stage_2: str = _code_field("1304.02")
    allowance_stage_3: str = _code_field("1304.03")
    commission_expense: str = _code_field("6421")
    # A platform's commission (助贷服务费) is owed outside the lender's trade with merchants: a
    # sub-account of 2241 其他应付款, not 2202 应付账款, so 2202 holds merchants' payables only
    # and its total equals the sum over merchants (docs/settlement.md, "The entries of each step").
    commission_payable: str = _code_field("2241.03")
    partner_funding: str = _code_field("2241.04")  # 合作方出资款: owed back as it is collected
    partner_funding_cost: str = _code_field("6411")  # 利息支出: the partner's return on its funds
    discount_treatment: DiscountTreatment = attrs.field(
        default=DiscountTreatment.FEE_INCOME, converter=_treatment
    )

    def code(self, role: Role) -> str:
        """The subject code ``role`` posts to."""
        code: str = getattr(self, role.value)
        return code

    def codes(self) -> tuple[tuple[Role, str], ...]:
        """Every role with its code, in :class:`Role` order."""
        return tuple((role, self.code(role)) for role in Role)

    def check(self, chart: Chart) -> SubjectMapping:
        """``self`` if every role maps to a leaf subject of ``chart`` of an expected kind.

        Otherwise raises :class:`SubjectMappingError` naming the first offending role (in
        :class:`Role` order) and its code. A leaf, because a posting to a parent would hide which
        sub-account the amount belongs to. Whether a subject is open on a date is the posting
        rules' business, checked when the entry is booked.
        """
        for role, code in self.codes():
            subject = chart.find(code)
            if subject is None:
                raise SubjectMappingError(role, code, "no such subject in the chart")
            if not chart.is_leaf(code):
                leaves = ", ".join(child.code for child in chart.children(code))
                raise SubjectMappingError(role, code, f"not a leaf; map one of {leaves}")
            kinds = ROLE_KINDS[role]
            if subject.kind not in kinds:
                expected = " or ".join(sorted(kind.value for kind in kinds))
                reason = f"is a {subject.kind.value} subject; expected {expected}"
                raise SubjectMappingError(role, code, reason)
        return self


DEFAULT_MAPPING = SubjectMapping()
"""The default mapping over :func:`loancore.ledger.default_chart`."""
