"""Posting templates: one function per business event, returning balanced journal entries.

A template lists the event's lines as (role, side, amount); :func:`_book` is the one place that
turns lines into a :class:`~loancore.ledger.JournalEntry`: it resolves each role through the
product's :class:`~loancore.postings.mapping.SubjectMapping`, merges lines that land on the same
subject and side, drops zero lines (a zero component books no leg), checks the balance
(:class:`~loancore.errors.InvariantViolation` otherwise: a template bug, never a caller's) and
derives the entry id and idempotency key from the event's own id, ``"<template>:<event_id>"``,
so replaying an event replays the same keys and the ledger books it once. An event whose amounts
are all zero books nothing (an empty tuple). Every leg carries the event's dimensions.

docs/accounting.md shows every template's debit and credit subjects under the default mapping;
a test regenerates that table from these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loancore.errors import InvalidInput, InvariantViolation
from loancore.ledger.entries import JournalEntry, Leg, MemoDirection, MemoPosting, MemoRegister
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.postings.events import (
    Cancellation,
    CardDisbursement,
    ClearingSettled,
    CommissionAccrued,
    CommissionClawedBack,
    CommissionPaid,
    CreditApplied,
    Event,
    FeeCharged,
    InterestAccrued,
    InterestAdjustmentAmortized,
    InterestDue,
    JointCollected,
    JointFunded,
    JointLoss,
    JointRecovered,
    LoanSold,
    MerchantDisbursement,
    MerchantSettlement,
    OverpaymentRefunded,
    PartnerPaid,
    PayoutConfirmed,
    PayoutFailed,
    PayoutInstructed,
    ProvisionCharged,
    ProvisionReleased,
    RecoveredAfterWriteOff,
    RepaymentReceived,
    Waiver,
    WrittenOff,
)
from loancore.postings.mapping import (
    ALLOWANCE_ROLE,
    DEFAULT_MAPPING,
    FEE_INCOME_ROLE,
    INCOME_ROLE,
    RECEIVABLE_ROLE,
    Component,
    DiscountTreatment,
    Role,
    Stage,
    SubjectMapping,
)

__all__ = [
    "TEMPLATES",
    "Line",
    "cancellation",
    "card_disbursement",
    "clearing_settled",
    "commission_accrued",
    "commission_clawed_back",
    "commission_paid",
    "credit_applied",
    "entries_for",
    "fee_charged",
    "interest_accrued",
    "interest_adjustment_amortized",
    "interest_due",
    "joint_collected",
    "joint_funded",
    "joint_loss",
    "joint_recovered",
    "loan_sold",
    "memo_postings_for",
    "merchant_disbursement",
    "merchant_settlement",
    "overpayment_refunded",
    "partner_paid",
    "payout_confirmed",
    "payout_failed",
    "payout_instructed",
    "provision_charged",
    "provision_released",
    "recovered_after_write_off",
    "repayment_received",
    "waiver",
    "written_off",
]

Line = tuple[Role, Side, Money]
"""One line of a template: ``amount`` on ``side`` of the subject the mapping gives ``role``."""

Entries = tuple[JournalEntry, ...]


def _dr(role: Role, amount: Money) -> Line:
    return (role, Side.DEBIT, amount)


def _cr(role: Role, amount: Money) -> Line:
    return (role, Side.CREDIT, amount)


_CODES: dict[int, tuple[SubjectMapping, dict[Role, str]]] = {}
"""Each mapping's code per role (:meth:`SubjectMapping.code`), by the mapping's identity: a
product's mapping books every event of its loans. An entry holds its mapping, so the id is not
reused while the entry lives. Emptied when it reaches :data:`_CODES_MAX`."""

_CODES_MAX = 1_024


def _codes(mapping: SubjectMapping) -> dict[Role, str]:
    known = _CODES.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    codes = {role: mapping.code(role) for role in Role}
    if len(_CODES) >= _CODES_MAX:
        _CODES.clear()
    _CODES[id(mapping)] = (mapping, codes)
    return codes


def _book(template: str, event: Event, mapping: SubjectMapping, memo: str, *lines: Line) -> Entries:
    """The one builder of template entries (see the module docstring).

    The legs and the entry are built from values already checked (the mapping's codes, the
    event's id, date, dimensions and Money amounts, the template's own name and memo), so they
    are not checked again (:meth:`Leg._of_checked`, :meth:`JournalEntry._of_checked`)."""
    codes = _codes(mapping)
    merged: dict[tuple[str, Side], Money] = {}
    for role, side, amount in lines:
        key = (codes[role], side)
        known = merged.get(key)
        if known is None or known.is_zero():
            merged[key] = amount
        elif not amount.is_zero():  # adding zero leaves the amount as it is
            merged[key] = known + amount
    dimensions = event.dimensions
    legs = tuple(
        Leg._of_checked(code, side, amount, dimensions)
        for (code, side), amount in merged.items()
        if amount.is_positive()
    )
    if not legs:
        return ()
    for currency in {leg.currency for leg in legs}:
        if sum(leg.signed_minor for leg in legs if leg.currency == currency) != 0:
            raise InvariantViolation(f"template {template} built an unbalanced entry: {legs}")
    entry = JournalEntry._of_checked(
        f"{template}:{event.event_id}", event.accounting_date, legs, memo
    )
    return (entry,)


def merchant_disbursement(
    event: MerchantDisbursement, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """受托支付: Dr principal; Cr merchant payable (principal less discount), Cr the discount to
    fee income or to 利息调整 as the product's discount treatment says."""
    discount = (
        Role.FEE_INCOME
        if mapping.discount_treatment is DiscountTreatment.FEE_INCOME
        else Role.INTEREST_ADJUSTMENT
    )
    return _book(
        "disbursement.merchant",
        event,
        mapping,
        "放款 受托支付 loan paid to the merchant",
        _dr(Role.PRINCIPAL, event.principal),
        _cr(Role.MERCHANT_PAYABLE, event.principal - event.merchant_discount),
        _cr(discount, event.merchant_discount),
    )


def card_disbursement(
    event: CardDisbursement, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """Loan paid to the borrower's card: Dr principal, Cr bank."""
    return _book(
        "disbursement.card",
        event,
        mapping,
        "放款 loan paid to the borrower's card",
        _dr(Role.PRINCIPAL, event.principal),
        _cr(Role.BANK, event.principal),
    )


def merchant_settlement(
    event: MerchantSettlement, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """Merchant paid, service fee kept: Dr merchant payable; Cr bank (net), Cr fee income."""
    return _book(
        "settlement.merchant",
        event,
        mapping,
        "商户结算 merchant settled, service fee kept",
        _dr(Role.MERCHANT_PAYABLE, event.payable),
        _cr(Role.BANK, event.payable - event.service_fee),
        _cr(Role.FEE_INCOME, event.service_fee),
    )


def interest_accrued(event: InterestAccrued, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """计提利息: Dr accrued interest (contract interest) or the receivable (penalty, compound);
    Cr the component's income."""
    component = event.component
    asset = Role.INTEREST_ACCRUED if component is Component.INTEREST else RECEIVABLE_ROLE[component]
    return _book(
        "interest.accrued",
        event,
        mapping,
        f"计提利息 {component.value} accrued",
        _dr(asset, event.amount),
        _cr(INCOME_ROLE[component], event.amount),
    )


def interest_due(event: InterestDue, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """Accrued interest falls due: Dr interest receivable, Cr accrued interest."""
    return _book(
        "interest.due",
        event,
        mapping,
        "利息到期 interest due",
        _dr(Role.INTEREST_RECEIVABLE, event.amount),
        _cr(Role.INTEREST_ACCRUED, event.amount),
    )


def interest_adjustment_amortized(
    event: InterestAdjustmentAmortized, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """利息调整摊销: Dr interest adjustment, Cr interest income."""
    return _book(
        "interest.adjustment",
        event,
        mapping,
        "利息调整摊销 merchant discount amortized",
        _dr(Role.INTEREST_ADJUSTMENT, event.amount),
        _cr(Role.INTEREST_INCOME, event.amount),
    )


def fee_charged(event: FeeCharged, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """A fee charged: Dr fee receivable, Cr the fee kind's own income."""
    return _book(
        "fee.charged",
        event,
        mapping,
        f"收费 {event.fee_kind.value} fee charged",
        _dr(Role.FEE_RECEIVABLE, event.amount),
        _cr(FEE_INCOME_ROLE[event.fee_kind], event.amount),
    )


def repayment_received(
    event: RepaymentReceived, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """还款: Dr clearing (cash received); Cr each component's receivable, the partner's share,
    and what is left over to the borrower's credit balance (溢缴款)."""
    return _book(
        "repayment",
        event,
        mapping,
        "还款 repayment received",
        _dr(Role.CLEARING, event.received),
        _cr(Role.PRINCIPAL, event.principal),
        _cr(Role.INTEREST_RECEIVABLE, event.interest),
        _cr(Role.PENALTY_RECEIVABLE, event.penalty),
        _cr(Role.COMPOUND_RECEIVABLE, event.compound),
        _cr(Role.FEE_RECEIVABLE, event.fee),
        _cr(Role.PARTNER_PAYABLE, event.partner_share),
        _cr(Role.OVERPAYMENT, event.overpayment),
    )


def clearing_settled(event: ClearingSettled, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """The channel pays out what it collected: Dr bank, Cr clearing."""
    return _book(
        "clearing.settled",
        event,
        mapping,
        "清算到账 channel settled to the bank",
        _dr(Role.BANK, event.amount),
        _cr(Role.CLEARING, event.amount),
    )


def overpayment_refunded(
    event: OverpaymentRefunded, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """溢缴款退还: Dr overpayment, Cr bank."""
    return _book(
        "overpayment.refunded",
        event,
        mapping,
        "溢缴款退还 overpayment refunded",
        _dr(Role.OVERPAYMENT, event.amount),
        _cr(Role.BANK, event.amount),
    )


def partner_paid(event: PartnerPaid, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """The partner's collected share paid over: Dr partner payable, Cr bank."""
    return _book(
        "partner.paid",
        event,
        mapping,
        "合作方分润划付 partner share paid",
        _dr(Role.PARTNER_PAYABLE, event.amount),
        _cr(Role.BANK, event.amount),
    )


def waiver(event: Waiver, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """减免: Dr the component's income (a fee's kind's own income when the waiver names the
    kind), Cr its receivable."""
    component, kind = event.component, event.fee_kind
    income = INCOME_ROLE[component] if kind is None else FEE_INCOME_ROLE[kind]
    return _book(
        f"waiver.{component.value}",
        event,
        mapping,
        f"减免 {component.value if kind is None else kind.value} waived",
        _dr(income, event.amount),
        _cr(RECEIVABLE_ROLE[component], event.amount),
    )


def provision_charged(
    event: ProvisionCharged, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """计提减值准备: Dr impairment loss, Cr the stage's loan-loss allowance."""
    return _book(
        "provision.charged",
        event,
        mapping,
        f"计提贷款损失准备 stage {int(event.stage)}",
        _dr(Role.IMPAIRMENT_LOSS, event.amount),
        _cr(ALLOWANCE_ROLE[event.stage], event.amount),
    )


def provision_released(
    event: ProvisionReleased, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """减值准备转回: Dr the stage's allowance, Cr impairment loss."""
    return _book(
        "provision.released",
        event,
        mapping,
        f"转回贷款损失准备 stage {int(event.stage)}",
        _dr(ALLOWANCE_ROLE[event.stage], event.amount),
        _cr(Role.IMPAIRMENT_LOSS, event.amount),
    )


_WRITTEN_OFF_PARTS = (
    Component.PRINCIPAL,
    Component.INTEREST,
    Component.PENALTY,
    Component.COMPOUND,
    Component.FEE,
)


def _written_off_total(event: WrittenOff) -> Money:
    return sum((getattr(event, c.value) for c in _WRITTEN_OFF_PARTS), Money.zero(event.currency))


def written_off(event: WrittenOff, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """核销: Dr the stage-3 allowance (the total); Cr each component's receivable."""
    parts = tuple((c, getattr(event, c.value)) for c in _WRITTEN_OFF_PARTS)
    total = _written_off_total(event)
    return _book(
        "write_off",
        event,
        mapping,
        "核销 loan written off against the allowance",
        _dr(ALLOWANCE_ROLE[Stage.THREE], total),
        *(_cr(RECEIVABLE_ROLE[c], amount) for c, amount in parts),
    )


def recovered_after_write_off(
    event: RecoveredAfterWriteOff, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """核销后收回: Dr clearing, Cr the stage-3 allowance."""
    return _book(
        "recovery",
        event,
        mapping,
        "核销后收回 recovered after write-off",
        _dr(Role.CLEARING, event.amount),
        _cr(ALLOWANCE_ROLE[Stage.THREE], event.amount),
    )


def credit_applied(event: CreditApplied, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """溢缴款抵扣: Dr overpayment (the total); Cr each component's receivable."""
    parts = tuple((c, getattr(event, c.value)) for c in _WRITTEN_OFF_PARTS)
    total = sum((amount for _c, amount in parts), Money.zero(event.currency))
    return _book(
        "credit.applied",
        event,
        mapping,
        "溢缴款抵扣 credit balance applied",
        _dr(Role.OVERPAYMENT, total),
        *(_cr(RECEIVABLE_ROLE[c], amount) for c, amount in parts),
    )


def cancellation(event: Cancellation, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """取消: the cancelled event's entries with every leg on the other side, on the
    cancellation's date; ids and keys are the cancelled entries' with ``.back`` appended."""
    return tuple(
        JournalEntry(
            entry_id=f"{entry.entry_id}.back",
            idempotency_key=f"{entry.idempotency_key}.back",
            accounting_date=event.accounting_date,
            legs=tuple(leg.mirrored() for leg in entry.legs),
            memo=f"取消 cancelled: {entry.memo}",
        )
        for entry in entries_for(event.cancelled, mapping)
    )


def payout_instructed(
    event: PayoutInstructed, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """商户结算指令: Dr merchant payable (amount + fee); Cr clearing (amount, on its way through
    the channel), Cr fee income (the service fee kept)."""
    return _book(
        "payout.instructed",
        event,
        mapping,
        "商户结算指令 payout instructed, service fee kept",
        _dr(Role.MERCHANT_PAYABLE, event.amount + event.service_fee),
        _cr(Role.CLEARING, event.amount),
        _cr(Role.FEE_INCOME, event.service_fee),
    )


def payout_confirmed(event: PayoutConfirmed, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """商户结算到账: the channel paid the merchant: Dr clearing, Cr bank."""
    return _book(
        "payout.confirmed",
        event,
        mapping,
        "商户结算到账 payout confirmed by the channel",
        _dr(Role.CLEARING, event.amount),
        _cr(Role.BANK, event.amount),
    )


def payout_failed(event: PayoutFailed, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """商户结算失败: Dr clearing, Cr merchant payable (owed again, paid by a later run)."""
    return _book(
        "payout.failed",
        event,
        mapping,
        "商户结算失败 payout failed, back to payable",
        _dr(Role.CLEARING, event.amount),
        _cr(Role.MERCHANT_PAYABLE, event.amount),
    )


def commission_accrued(
    event: CommissionAccrued, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """助贷佣金计提: Dr commission expense, Cr commission payable."""
    return _book(
        "commission.accrued",
        event,
        mapping,
        "助贷佣金计提 platform commission accrued",
        _dr(Role.COMMISSION_EXPENSE, event.amount),
        _cr(Role.COMMISSION_PAYABLE, event.amount),
    )


def commission_clawed_back(
    event: CommissionClawedBack, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """助贷佣金追回: Dr commission payable, Cr commission expense (a refunded loan)."""
    return _book(
        "commission.clawed_back",
        event,
        mapping,
        "助贷佣金追回 platform commission clawed back",
        _dr(Role.COMMISSION_PAYABLE, event.amount),
        _cr(Role.COMMISSION_EXPENSE, event.amount),
    )


def commission_paid(event: CommissionPaid, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """助贷佣金支付: Dr commission payable, Cr bank."""
    return _book(
        "commission.paid",
        event,
        mapping,
        "助贷佣金支付 platform commission paid",
        _dr(Role.COMMISSION_PAYABLE, event.amount),
        _cr(Role.BANK, event.amount),
    )


TEMPLATES: Mapping[type[Event], Callable[[Any, SubjectMapping], Entries]] = {
    MerchantDisbursement: merchant_disbursement,
    CardDisbursement: card_disbursement,
    MerchantSettlement: merchant_settlement,
    InterestAccrued: interest_accrued,
    InterestDue: interest_due,
    InterestAdjustmentAmortized: interest_adjustment_amortized,
    FeeCharged: fee_charged,
    RepaymentReceived: repayment_received,
    ClearingSettled: clearing_settled,
    OverpaymentRefunded: overpayment_refunded,
    PartnerPaid: partner_paid,
    Waiver: waiver,
    ProvisionCharged: provision_charged,
    ProvisionReleased: provision_released,
    WrittenOff: written_off,
    RecoveredAfterWriteOff: recovered_after_write_off,
    CreditApplied: credit_applied,
    Cancellation: cancellation,
    PayoutInstructed: payout_instructed,
    PayoutConfirmed: payout_confirmed,
    PayoutFailed: payout_failed,
    CommissionAccrued: commission_accrued,
    CommissionClawedBack: commission_clawed_back,
    CommissionPaid: commission_paid,
    LoanSold: lambda event, mapping: loan_sold(event, mapping),  # appended below
    JointFunded: lambda event, mapping: joint_funded(event, mapping),
    JointCollected: lambda event, mapping: joint_collected(event, mapping),
    JointLoss: lambda event, mapping: joint_loss(event, mapping),
    JointRecovered: lambda event, mapping: joint_recovered(event, mapping),
}
"""Each event type with its template, in the order docs/accounting.md lists them."""


def entries_for(event: Event, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """The entries ``event``'s template books under ``mapping`` (dispatch on the event's type)."""
    template = TEMPLATES.get(type(event))
    if template is None:
        raise InvalidInput("event", event, "no posting template for this type")
    return template(event, mapping)


def memo_postings_for(event: Event) -> tuple[MemoPosting, ...]:
    """The off-balance register postings that go with ``event``'s entries (表外登记).

    A write-off registers the total written off in 已核销贷款 (``WRITTEN_OFF_LOANS``), which the
    lender still pursues; a recovery takes the amount recovered off it (the ledger refuses a
    decrease below the register's balance for the loan). Other events register nothing. Ids and
    keys are ``memo.<template>:<event id>``, like the entries'.
    """
    if isinstance(event, WrittenOff):
        template, direction, amount = "write_off", MemoDirection.INCREASE, _written_off_total(event)
    elif isinstance(event, RecoveredAfterWriteOff):
        template, direction, amount = "recovery", MemoDirection.DECREASE, event.amount
    else:
        return ()
    if not amount.is_positive():
        return ()
    derived = f"memo.{template}:{event.event_id}"
    posting = MemoPosting(
        posting_id=derived,
        idempotency_key=derived,
        register=MemoRegister.WRITTEN_OFF_LOANS,
        accounting_date=event.accounting_date,
        direction=direction,
        amount=amount,
        dimensions=event.dimensions,
        memo=f"已核销贷款 {direction.value}",
    )
    return (posting,)


def loan_sold(event: LoanSold, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """不良资产转让: Dr bank (the price), Dr the stage's allowance (the loan's allowance); Cr each
    component's receivable; the difference to impairment loss (a loss debited, a gain credited)."""
    parts = tuple((c, getattr(event, c.value)) for c in _WRITTEN_OFF_PARTS)
    difference = event.difference
    loss = -difference if difference.is_negative() else Money.zero(event.currency)
    gain = difference if difference.is_positive() else Money.zero(event.currency)
    return _book(
        "loan.sold",
        event,
        mapping,
        "不良资产转让 loan sold",
        _dr(Role.BANK, event.price),
        _dr(ALLOWANCE_ROLE[event.stage], event.allowance),
        _dr(Role.IMPAIRMENT_LOSS, loss),
        *(_cr(RECEIVABLE_ROLE[c], amount) for c, amount in parts),
        _cr(Role.IMPAIRMENT_LOSS, gain),
    )


def joint_funded(event: JointFunded, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """联合贷款出资: the partner's part of the principal received: Dr bank, Cr partner funding."""
    return _book(
        "joint.funded",
        event,
        mapping,
        "联合贷款出资 partner funded its part",
        _dr(Role.BANK, event.amount),
        _cr(Role.PARTNER_FUNDING, event.amount),
    )


def joint_collected(event: JointCollected, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """联合贷款分润: the partner's parts of a collection: Dr partner funding (principal), Dr the
    partner's funding cost (its part of interest, penalty, compound, fees); Cr partner payable."""
    return _book(
        "joint.collected",
        event,
        mapping,
        "联合贷款分润 partner's part of a collection",
        _dr(Role.PARTNER_FUNDING, event.principal),
        _dr(Role.PARTNER_FUNDING_COST, event.income),
        _cr(Role.PARTNER_PAYABLE, event.principal + event.income),
    )


def joint_loss(event: JointLoss, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """联合贷款损失分担: the partner's part of the principal written off: Dr partner funding,
    Cr credit impairment loss (the lender's loss is smaller by the partner's part)."""
    return _book(
        "joint.loss",
        event,
        mapping,
        "联合贷款损失分担 partner's part of the principal written off",
        _dr(Role.PARTNER_FUNDING, event.principal),
        _cr(Role.IMPAIRMENT_LOSS, event.principal),
    )


def joint_recovered(event: JointRecovered, mapping: SubjectMapping = DEFAULT_MAPPING) -> Entries:
    """联合贷款核销后收回分担: the partner's part of cash recovered on a loss (a recovery after
    write-off, or a bad loan's sale price): Dr credit impairment loss (the lender's recovery
    reached 6702 whole: Cr 1304.03, then released), Cr partner payable (owed to the partner)."""
    return _book(
        "joint.recovered",
        event,
        mapping,
        "联合贷款收回分担 partner's part of a recovery",
        _dr(Role.IMPAIRMENT_LOSS, event.amount),
        _cr(Role.PARTNER_PAYABLE, event.amount),
    )
