"""Posting templates: every event books balanced entries the ledger accepts, from one rule each.

The invariants (hypothesis): any valid event's entries balance per currency and pass the
ledger's own posting rules; a repayment's split conserves the cash received; a zero component
books no leg; replaying an event replays the same keys. docs/accounting.md's template and mapping
tables are regenerated here from the templates, so the page cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.errors import FloatNotAllowed, InvalidInput
from loancore.ledger import (
    JournalEntry,
    Leg,
    MemoRegister,
    Side,
    Subject,
    chart_from_csv,
    check_entry,
    default_chart,
)
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    EVENT_ID_LENGTH_MAX,
    FEE_INCOME_ROLE,
    ROLE_KINDS,
    TEMPLATES,
    Cancellation,
    CardDisbursement,
    ClearingSettled,
    CommissionAccrued,
    CommissionClawedBack,
    CommissionPaid,
    Component,
    CreditApplied,
    DiscountTreatment,
    Event,
    FeeCharged,
    FeeKind,
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
    Role,
    Stage,
    SubjectMapping,
    SubjectMappingError,
    Waiver,
    WrittenOff,
    entries_for,
    memo_postings_for,
    merchant_settlement,
    repayment_received,
)
from loancore.services import Ledger
from loancore.testing.strategies import posting_events, subject_mappings

CHART = default_chart()
DAY = date(2026, 10, 30)
DIMS = {
    "loan": "L-1",
    "customer": "C-1",
    "merchant": "M-1",
    "partner": "P-1",
    "product": "med-aesthetic",
}
PAGE = Path(__file__).resolve().parents[1] / "docs" / "accounting.md"


def cny(text: str) -> Money:
    return Money(text, "CNY")


def common(event_id: str = "ev-1") -> dict[str, Any]:
    return {"event_id": event_id, "accounting_date": DAY, "dimensions": DIMS}


# -- strategies --------------------------------------------------------------------------------


_REPAYMENT_PARTS = ("principal", "interest", "penalty", "compound", "fee", "partner_share")
events = posting_events
mappings = subject_mappings


# -- invariants --------------------------------------------------------------------------------


@given(events(), mappings())
def test_every_template_entry_balances_per_currency_and_passes_the_ledger_rules(
    event: Event, mapping: SubjectMapping
) -> None:
    for entry in entries_for(event, mapping):
        for currency in entry.currencies():
            assert sum(leg.signed_minor for leg in entry.legs if leg.currency == currency) == 0
        assert check_entry(entry, chart=CHART, closed_through=None) == ()
        assert all(leg.dimensions == event.dimensions for leg in entry.legs)
        assert entry.accounting_date == event.accounting_date


@given(events(), mappings())
def test_zero_amounts_book_no_zero_legs(event: Event, mapping: SubjectMapping) -> None:
    entries = entries_for(event, mapping)
    assert all(leg.amount.is_positive() for entry in entries for leg in entry.legs)
    amounts = [amount for _name, amount in event.amounts()]
    assert (entries == ()) == all(amount.is_zero() for amount in amounts)


@given(events(), mappings())
def test_replaying_an_event_replays_the_same_entries_and_keys(
    event: Event, mapping: SubjectMapping
) -> None:
    first, again = entries_for(event, mapping), entries_for(event, mapping)
    assert first == again
    for entry in first:
        suffix = ".back" if isinstance(event, Cancellation) else ""
        assert entry.idempotency_key.endswith(f":{event.event_id}{suffix}")
        assert entry.entry_id == entry.idempotency_key
        assert len(entry.idempotency_key) <= 200


@given(events(), mappings())
def test_template_entries_equal_the_ones_the_checked_constructors_build(
    event: Event, mapping: SubjectMapping
) -> None:
    """The templates build legs and entries from values already checked, without checking them
    again: what they build is what the public constructors, checks and all, build."""
    for entry in entries_for(event, mapping):
        legs = tuple(
            Leg(leg.subject_code, leg.side, leg.amount, leg.dimensions) for leg in entry.legs
        )
        checked = JournalEntry(
            entry_id=entry.entry_id,
            idempotency_key=entry.idempotency_key,
            accounting_date=entry.accounting_date,
            legs=legs,
            memo=entry.memo,
        )
        assert entry == checked
        assert entry.value_date == checked.value_date
        assert entry.reverses is checked.reverses
        assert [leg.signed_minor for leg in entry.legs] == [leg.signed_minor for leg in legs]
        assert [type(leg.side) for leg in entry.legs] == [Side] * len(legs)


@given(events())
def test_repayment_split_conserves_the_cash_received(event: Event) -> None:
    if not isinstance(event, RepaymentReceived):
        return
    (entry,) = repayment_received(event)
    debits = [leg for leg in entry.legs if leg.side is Side.DEBIT]
    credits = [leg for leg in entry.legs if leg.side is Side.CREDIT]
    assert [(leg.subject_code, leg.amount) for leg in debits] == [("3001", event.received)]
    assert sum(leg.amount.minor_units for leg in credits) == event.received.minor_units
    overpayment = sum(leg.amount.minor_units for leg in credits if leg.subject_code == "2241.01")
    assert overpayment == event.overpayment.minor_units


_DISTINCT = SubjectMapping(penalty_receivable="1011", compound_receivable="1012").check(CHART)
_PART_ROLES = {
    "principal": Role.PRINCIPAL,
    "interest": Role.INTEREST_RECEIVABLE,
    "penalty": Role.PENALTY_RECEIVABLE,
    "compound": Role.COMPOUND_RECEIVABLE,
    "fee": Role.FEE_RECEIVABLE,
    "partner_share": Role.PARTNER_PAYABLE,
}


@given(st.lists(st.integers(0, 10**9), min_size=6, max_size=6), st.integers(0, 10**9))
def test_each_repayment_component_lands_on_its_own_subject_and_only_if_nonzero(
    parts_minor: list[int], extra_minor: int
) -> None:
    parts = {name: Money.from_minor(m, "CNY") for name, m in zip(_REPAYMENT_PARTS, parts_minor)}
    received = Money.from_minor(sum(parts_minor) + extra_minor + 1, "CNY")
    event = RepaymentReceived(**common(), received=received, **parts)
    (entry,) = repayment_received(event, _DISTINCT)
    credited = {leg.subject_code: leg.amount for leg in entry.legs if leg.side is Side.CREDIT}
    expected = {_DISTINCT.code(_PART_ROLES[name]): p for name, p in parts.items()}
    expected[_DISTINCT.overpayment] = event.overpayment
    assert credited == {code: p for code, p in expected.items() if p.is_positive()}


# -- examples a finance person can check by hand -------------------------------------------------


def legs_of(entries: tuple[JournalEntry, ...]) -> list[tuple[str, str, str]]:
    return [
        (leg.side.value[:2], leg.subject_code, str(leg.amount.amount))
        for entry in entries
        for leg in entry.legs
    ]


def test_merchant_settlement_keeps_the_service_fee() -> None:
    event = MerchantSettlement(**common(), payable=cny("12000.00"), service_fee=cny("360.00"))
    assert legs_of(merchant_settlement(event)) == [
        ("de", "2202", "12000.00"),
        ("cr", "1002", "11640.00"),
        ("cr", "6021.09", "360.00"),
    ]


@pytest.mark.parametrize(
    ("treatment", "discount_subject"),
    [(DiscountTreatment.FEE_INCOME, "6021.09"), (DiscountTreatment.INTEREST_ADJUSTMENT, "1303.02")],
)
def test_merchant_discount_is_booked_as_the_product_says(
    treatment: DiscountTreatment, discount_subject: str
) -> None:
    event = MerchantDisbursement(
        **common(), principal=cny("12000.00"), merchant_discount=cny("360.00")
    )
    entries = entries_for(event, SubjectMapping(discount_treatment=treatment))
    assert legs_of(entries) == [
        ("de", "1303.01", "12000.00"),
        ("cr", "2202", "11640.00"),
        ("cr", discount_subject, "360.00"),
    ]
    assert entries[0].idempotency_key == "disbursement.merchant:ev-1"


def test_contract_interest_accrues_then_falls_due_while_penalty_is_receivable_at_once() -> None:
    accrued = InterestAccrued(**common(), component="interest", amount=cny("1.50"))
    penalty = InterestAccrued(**common(), component="penalty", amount=cny("0.30"))
    due = InterestDue(**common(), amount=cny("1.50"))
    assert legs_of(entries_for(accrued)) == [("de", "1303.03", "1.50"), ("cr", "6011", "1.50")]
    assert legs_of(entries_for(penalty)) == [("de", "1132", "0.30"), ("cr", "6011", "0.30")]
    assert legs_of(entries_for(due)) == [("de", "1132", "1.50"), ("cr", "1303.03", "1.50")]


def test_write_off_debits_the_stage_3_allowance_with_the_total() -> None:
    event = WrittenOff(**common(), principal=cny("900.00"), interest=cny("50.00"), fee=cny("10.00"))
    assert legs_of(entries_for(event)) == [
        ("de", "1304.03", "960.00"),
        ("cr", "1303.01", "900.00"),
        ("cr", "1132", "50.00"),
        ("cr", "1221", "10.00"),
    ]


def test_a_mapping_override_moves_only_its_role() -> None:
    event = PartnerPaid(**common(), amount=cny("10.00"))
    mapping = SubjectMapping(partner_payable="2241")
    assert legs_of(entries_for(event, mapping)) == [
        ("de", "2241", "10.00"),
        ("cr", "1002", "10.00"),
    ]


def test_booking_an_event_twice_books_it_once() -> None:
    ledger = Ledger(MemoryLedgerStore(CHART))
    event = MerchantDisbursement(**common(), principal=cny("3000.00"))
    ledger.post(*entries_for(event))
    ledger.post(*entries_for(event))
    assert ledger.balance("1303", "CNY", as_of=DAY) == cny("3000.00")
    assert ledger.balance("2202", "CNY", as_of=DAY) == cny("3000.00")


def test_a_loan_lifecycle_leaves_every_subject_where_the_events_say() -> None:
    """Disburse, settle, charge, repay part, provide, write off the rest, recover some: the
    balances by loan follow, and the written-off register holds what is still pursued."""
    ledger = Ledger(MemoryLedgerStore(CHART))
    c = common
    events: list[Event] = [
        MerchantDisbursement(**c("d"), principal=cny("1000.00"), merchant_discount=cny("30.00")),
        MerchantSettlement(**c("s"), payable=cny("970.00")),
        InterestAccrued(**c("a"), component="interest", amount=cny("15.00")),
        InterestDue(**c("a"), amount=cny("15.00")),
        FeeCharged(**c("f"), fee_kind="late", amount=cny("5.00")),
        RepaymentReceived(
            **c("r"), received=cny("120.00"), principal=cny("100.00"), interest=cny("15.00")
        ),
        ClearingSettled(**c("r"), amount=cny("120.00")),
        ProvisionCharged(**c("p"), stage=3, amount=cny("905.00")),
        WrittenOff(**c("w"), principal=cny("900.00"), fee=cny("5.00")),
        RecoveredAfterWriteOff(**c("x"), amount=cny("50.00")),
    ]
    for _round in range(2):  # the second round replays every key and books nothing
        for event in events:
            ledger.post(*entries_for(event))
            ledger.post_memo(*memo_postings_for(event))

    def balance(code: str) -> Money:
        return ledger.balance(code, "CNY", as_of=DAY, dimensions={"loan": "L-1"})

    assert balance("1303") == cny("0.00")  # principal written off, nothing accrued
    assert balance("1132") == cny("0.00") and balance("1221") == cny("0.00")
    assert balance("2202") == cny("0.00")  # the clinic is paid
    assert balance("2241.01") == cny("5.00")  # 120 received, 115 applied
    assert balance("1304.03") == cny("50.00")  # the recovery, until the next provision run
    assert balance("6011") == cny("15.00") and balance("6021") == cny("35.00")  # the roll-up
    assert balance("6021.09") == cny("30.00") and balance("6021.03") == cny("5.00")
    assert balance("6702") == cny("905.00")
    assert balance("3001") == cny("50.00")  # the recovery, not yet paid into the bank
    pursued = ledger.memo_balance(
        MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=DAY, dimensions={"loan": "L-1"}
    )
    assert pursued == cny("855.00")
    assert ledger.audit() == []


def test_only_write_offs_and_recoveries_touch_the_written_off_register() -> None:
    assert memo_postings_for(InterestDue(**common(), amount=cny("1.00"))) == ()
    assert memo_postings_for(WrittenOff(**common(), principal=cny("0.00"))) == ()
    (posting,) = memo_postings_for(WrittenOff(**common(), principal=cny("1.00"), fee=cny("2.00")))
    assert posting.amount == cny("3.00") and posting.idempotency_key == "memo.write_off:ev-1"


def test_an_event_without_a_template_is_refused() -> None:
    with pytest.raises(InvalidInput, match="event"):
        entries_for(Event(**common()))


# -- the mapping ------------------------------------------------------------------------------


def test_default_mapping_fits_the_default_chart() -> None:
    assert DEFAULT_MAPPING.check(CHART) is DEFAULT_MAPPING


def test_every_role_is_a_mapping_field_and_has_its_kinds() -> None:
    codes = {field.name for field in attrs.fields(SubjectMapping)} - {"discount_treatment"}
    assert codes == {role.value for role in Role}
    assert set(ROLE_KINDS) == set(Role)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"fee_income": "6099"}, "no such subject"),
        ({"allowance_stage_3": "1304"}, "not a leaf; map one of 1304.01, 1304.02, 1304.03"),
        ({"fee_income": "1002"}, "is a asset subject; expected income"),
        ({"clearing": "2202"}, "expected asset or common"),
    ],
)
def test_a_mapping_that_does_not_fit_the_chart_names_the_role_and_code(
    override: dict[str, str], reason: str
) -> None:
    ((role, code),) = override.items()
    with pytest.raises(SubjectMappingError, match=re.escape(reason)) as caught:
        SubjectMapping(**override).check(CHART)  # type: ignore[arg-type]
    assert caught.value.role is Role(role)
    assert caught.value.code == code
    assert caught.value.field == f"mapping.{role}"


def test_a_mapping_fits_a_chart_of_its_own() -> None:
    chart = chart_from_csv(
        "code,name_zh,name_en,kind,parent_code\n"
        "6011,利息收入,Interest income,income,\n"
        "6011.09,罚息收入,Penalty interest income,income,6011\n"
    )
    mapping = SubjectMapping(penalty_income="6011.09")
    with pytest.raises(SubjectMappingError, match="principal"):
        mapping.check(chart)  # the rest of the default codes are missing from this chart
    full = CHART.with_subjects(*chart.subjects)
    with pytest.raises(SubjectMappingError, match="interest_income"):
        DEFAULT_MAPPING.check(full)  # 6011 now has a sub-account: it is no longer a leaf
    assert SubjectMapping(
        interest_income="6011.09", penalty_income="6011.09", compound_income="6011.09"
    ).check(full)


def test_a_mapping_code_must_be_an_identifier() -> None:
    with pytest.raises(InvalidInput, match="mapping.bank"):
        SubjectMapping(bank="")
    with pytest.raises(InvalidInput, match="discount_treatment"):
        SubjectMapping(discount_treatment="later")  # type: ignore[arg-type]


# -- events refuse bad input, naming the field ---------------------------------------------------


def refusal(build: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        build()
    return caught.value


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: InterestDue(**common(), amount=cny("-1.00")), "amount"),
        (lambda: InterestDue(**common(), amount="1.00"), "amount"),
        (lambda: CardDisbursement(**common(), principal=cny("0.00")), "principal"),
        (
            lambda: MerchantDisbursement(
                **common(), principal=cny("1.00"), merchant_discount=Money("1.00", "USD")
            ),
            "merchant_discount",
        ),
        (
            lambda: MerchantDisbursement(
                **common(), principal=cny("1.00"), merchant_discount=cny("2.00")
            ),
            "merchant_discount",
        ),
        (
            lambda: MerchantSettlement(**common(), payable=cny("1.00"), service_fee=cny("1.01")),
            "service_fee",
        ),
        (
            lambda: RepaymentReceived(**common(), received=cny("1.00"), principal=cny("1.01")),
            "received",
        ),
        (lambda: Waiver(**common(), component="principal", amount=cny("1.00")), "component"),
        (lambda: InterestAccrued(**common(), component="fee", amount=cny("1.00")), "component"),
        (lambda: FeeCharged(**common(), fee_kind="annual", amount=cny("1.00")), "fee_kind"),
        (lambda: ProvisionCharged(**common(), stage=4, amount=cny("1.00")), "stage"),
        (
            lambda: InterestDue(
                event_id="x" * (EVENT_ID_LENGTH_MAX + 1),
                accounting_date=DAY,
                dimensions=DIMS,
                amount=cny("1.00"),
            ),
            "event_id",
        ),
        (
            lambda: InterestDue(
                event_id="e", accounting_date=datetime(2026, 1, 1), dimensions=DIMS, amount=cny("1")
            ),
            "accounting_date",
        ),
        (
            lambda: InterestDue(
                event_id="e", accounting_date=DAY, dimensions={"merchant": "M"}, amount=cny("1")
            ),
            "dimensions.loan",
        ),
        (
            lambda: MerchantSettlement(
                event_id="e", accounting_date=DAY, dimensions={"loan": "L"}, payable=cny("1")
            ),
            "dimensions.merchant",
        ),
        (
            lambda: InterestDue(
                event_id="e", accounting_date=DAY, dimensions={"branch": "B"}, amount=cny("1")
            ),
            "dimensions.branch",
        ),
        (
            lambda: InterestDue(
                event_id="e", accounting_date=DAY, dimensions={"loan": "L\x00"}, amount=cny("1")
            ),
            "dimensions.loan",
        ),
    ],
)
def test_bad_event_input_is_refused_naming_the_field(
    build: Callable[[], object], field: str
) -> None:
    assert refusal(build).field == field


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(FloatNotAllowed):
        InterestDue(**common(), amount=Money(1.5, "CNY"))  # type: ignore[arg-type]


def test_clearing_needs_no_loan_and_omitted_parts_are_zero_in_the_event_currency() -> None:
    event = ClearingSettled(event_id="c", accounting_date=DAY, amount=cny("5.00"))
    assert legs_of(entries_for(event)) == [("de", "1002", "5.00"), ("cr", "3001", "5.00")]
    repaid = RepaymentReceived(**common(), received=Money("7", "JPY"))
    assert repaid.fee == Money("0", "JPY") and repaid.overpayment == Money("7", "JPY")
    assert repaid.amounts()[0] == ("received", Money("7", "JPY"))
    assert RepaymentReceived(**common(), received=cny("1.00")).currency == "CNY"
    assert Decimal(0) == WrittenOff(**common(), principal=cny("1.00")).fee.amount


# -- docs/accounting.md is generated from the templates ------------------------------------------

_FULL = {name: cny("1.00") for name in _REPAYMENT_PARTS}
_FEE_LABELS = (
    ("origination", FeeKind.ORIGINATION),
    ("管理费 management", FeeKind.MANAGEMENT),
    ("滞纳金 late", FeeKind.LATE),
    ("提前还款 prepayment", FeeKind.PREPAYMENT),
)

DOC_SAMPLES: list[tuple[str, Event, SubjectMapping]] = [
    (
        "Loan paid to the merchant (受托支付), merchant discount as fee income",
        MerchantDisbursement(**common(), principal=cny("9.00"), merchant_discount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Loan paid to the merchant (受托支付), merchant discount as 利息调整 to amortize",
        MerchantDisbursement(**common(), principal=cny("9.00"), merchant_discount=cny("1.00")),
        SubjectMapping(discount_treatment=DiscountTreatment.INTEREST_ADJUSTMENT),
    ),
    (
        "Loan paid to the borrower's card",
        CardDisbursement(**common(), principal=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Merchant settled, service fee kept",
        MerchantSettlement(**common(), payable=cny("9.00"), service_fee=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    *(
        (
            f"{label} accrued (计提)",
            InterestAccrued(**common(), component=component, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for label, component in (
            ("Contract interest", Component.INTEREST),
            ("Penalty interest (罚息)", Component.PENALTY),
            ("Compound interest (复利)", Component.COMPOUND),
        )
    ),
    ("Accrued interest falls due", InterestDue(**common(), amount=cny("1.00")), DEFAULT_MAPPING),
    (
        "利息调整 amortized into interest income",
        InterestAdjustmentAmortized(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    *(
        (
            f"Fee charged: {label}",
            FeeCharged(**common(), fee_kind=kind, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for label, kind in _FEE_LABELS
    ),
    (
        (
            "Repayment received and split: principal, interest, penalty, compound, fee, "
            "partner's share, overpayment"
        ),
        RepaymentReceived(**common(), received=cny("7.00"), **_FULL),
        DEFAULT_MAPPING,
    ),
    (
        "Payment channel pays into the bank",
        ClearingSettled(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    ("Overpayment refunded", OverpaymentRefunded(**common(), amount=cny("1.00")), DEFAULT_MAPPING),
    ("Partner's share paid over", PartnerPaid(**common(), amount=cny("1.00")), DEFAULT_MAPPING),
    *(
        (
            f"{label} waived (减免)",
            Waiver(**common(), component=component, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for label, component in (
            ("Interest", Component.INTEREST),
            ("Penalty interest", Component.PENALTY),
            ("Compound interest", Component.COMPOUND),
            ("Fee (no kind named)", Component.FEE),
        )
    ),
    *(
        (
            f"Fee waived (减免): {label}",
            Waiver(**common(), component=Component.FEE, fee_kind=kind, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for label, kind in _FEE_LABELS
    ),
    *(
        (
            f"Provision charged, stage {int(stage)}",
            ProvisionCharged(**common(), stage=stage, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for stage in Stage
    ),
    *(
        (
            f"Provision released, stage {int(stage)}",
            ProvisionReleased(**common(), stage=stage, amount=cny("1.00")),
            DEFAULT_MAPPING,
        )
        for stage in Stage
    ),
    (
        "Written off (核销): principal, interest, penalty, compound, fee",
        WrittenOff(**common(), **{k: v for k, v in _FULL.items() if k != "partner_share"}),
        DEFAULT_MAPPING,
    ),
    (
        "Recovered after write-off",
        RecoveredAfterWriteOff(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Credit balance (溢缴款) applied: principal, interest, penalty, compound, fee",
        CreditApplied(**common(), **{k: v for k, v in _FULL.items() if k != "partner_share"}),
        DEFAULT_MAPPING,
    ),
    (
        "Cancellation (取消) of a merchant disbursement (merchant refund): every leg reversed",
        Cancellation.of(
            MerchantDisbursement(**common(), principal=cny("9.00"), merchant_discount=cny("1.00")),
            DAY,
        ),
        DEFAULT_MAPPING,
    ),
    (
        "Merchant payout instructed to the channel, service fee kept",
        PayoutInstructed(**common(), amount=cny("9.00"), service_fee=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Merchant payout confirmed by the channel",
        PayoutConfirmed(**common(), amount=cny("9.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Merchant payout failed: owed to the merchant again",
        PayoutFailed(**common(), amount=cny("9.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Platform commission (助贷) accrued",
        CommissionAccrued(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Platform commission clawed back (refunded loan)",
        CommissionClawedBack(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Platform commission paid",
        CommissionPaid(**common(), amount=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Loan sold (不良资产转让) at a loss: price, allowance, loss; principal, interest, fee",
        LoanSold(
            **common(),
            price=cny("3.00"),
            allowance=cny("2.00"),
            principal=cny("5.00"),
            interest=cny("1.00"),
            fee=cny("1.00"),
        ),
        DEFAULT_MAPPING,
    ),
    (
        "Loan sold (不良资产转让) at a gain: price, allowance; principal; gain",
        LoanSold(**common(), price=cny("3.00"), allowance=cny("8.00"), principal=cny("10.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Joint loan (联合贷款): a partner funds its part of the principal",
        JointFunded(**common(), amount=cny("3.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Joint loan: the partner's parts of a collection (principal; interest and fees)",
        JointCollected(**common(), principal=cny("3.00"), income=cny("1.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Joint loan: the partner's part of the principal written off",
        JointLoss(**common(), principal=cny("3.00")),
        DEFAULT_MAPPING,
    ),
    (
        "Joint loan: the partner's part of cash recovered on a loss (after write-off, or a sale)",
        JointRecovered(**common(), amount=cny("3.00")),
        DEFAULT_MAPPING,
    ),
]


def subject_label(code: str) -> str:
    """``1303.01 贷款—本金``: the code and the Chinese names from the root down."""
    names = [CHART.get(c).name_zh for c in reversed((code, *CHART.ancestors(code)))]
    return f"{code} {'—'.join(names)}"


def template_rows() -> list[str]:
    rows = []
    for label, event, mapping in DOC_SAMPLES:
        (entry,) = entries_for(event, mapping)
        sides = {
            side: "; ".join(
                subject_label(leg.subject_code) for leg in entry.legs if leg.side is side
            )
            for side in Side
        }
        template = entry.entry_id.split(":")[0]
        if isinstance(event, Cancellation):
            template += ":<id>.back"
        rows.append(f"| {label} | `{template}` | {sides[Side.DEBIT]} | {sides[Side.CREDIT]} |")
    return rows


def mapping_rows() -> list[str]:
    return [f"| `{role.value}` | {subject_label(code)} |" for role, code in DEFAULT_MAPPING.codes()]


def page_rows(heading: str) -> list[str]:
    """The body rows of the first table under ``heading`` (header and rule left out)."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    lines = text[start + 1 :].splitlines()[1:]
    table: list[str] = []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table or line.startswith("#"):
            break
    return table[2:]


def test_every_template_has_a_row_in_the_docs() -> None:
    documented = {type(event) for _label, event, _mapping in DOC_SAMPLES}
    assert documented == set(TEMPLATES)


def test_accounting_page_lists_exactly_the_templates_subjects() -> None:
    expected = template_rows()
    assert page_rows("## Posting templates: event -> debit / credit") == expected, "\n".join(
        expected
    )


def test_accounting_page_lists_exactly_the_default_mapping() -> None:
    expected = mapping_rows()
    assert page_rows("## The default subject mapping") == expected, "\n".join(expected)


# -- the templates servicing books through: credit applied, prepayment fee, cancellation ---------


@given(posting_events(), subject_mappings())
def test_a_cancellation_nets_the_cancelled_entries_to_zero_subject_by_subject(
    event: Event, mapping: SubjectMapping
) -> None:
    if isinstance(event, Cancellation):
        event = event.cancelled
    booked = entries_for(event, mapping)
    back = entries_for(Cancellation.of(event, date(2026, 11, 2)), mapping)
    assert [e.entry_id + ".back" for e in booked] == [e.entry_id for e in back]
    net: dict[tuple[str, str], int] = {}
    for entry in (*booked, *back):
        for leg in entry.legs:
            key = (leg.subject_code, leg.currency)
            net[key] = net.get(key, 0) + leg.signed_minor
    assert set(net.values()) <= {0}
    assert all(e.accounting_date == date(2026, 11, 2) for e in back)


@given(st.lists(st.integers(0, 10**9), min_size=5, max_size=5))
def test_credit_applied_takes_from_the_credit_balance_what_the_receivables_lose(
    parts_minor: list[int],
) -> None:
    names = ("principal", "interest", "penalty", "compound", "fee")
    parts = {name: Money.from_minor(m, "CNY") for name, m in zip(names, parts_minor, strict=True)}
    entries = entries_for(CreditApplied(**common(), **parts))
    if not any(parts_minor):
        assert entries == ()
        return
    (entry,) = entries
    assert entry.entry_id == "credit.applied:ev-1"
    debits = [leg for leg in entry.legs if leg.side is Side.DEBIT]
    assert [(leg.subject_code, leg.amount.minor_units) for leg in debits] == [
        (DEFAULT_MAPPING.code(Role.OVERPAYMENT), sum(parts_minor))
    ]


def test_a_prepayment_fee_is_a_fee_charged_with_its_own_kind() -> None:
    (entry,) = entries_for(FeeCharged(**common(), fee_kind=FeeKind.PREPAYMENT, amount=cny("91.98")))
    assert entry.entry_id == "fee.charged:ev-1"
    assert [(leg.subject_code, leg.side) for leg in entry.legs] == [
        ("1221", Side.DEBIT),
        ("6021.04", Side.CREDIT),
    ]
    assert [kind.value for kind in FeeKind][-1] == "prepayment"  # persisted: appended last


@pytest.mark.parametrize("kind", list(FeeKind))
def test_each_fee_kind_earns_its_own_income_subject(kind: FeeKind) -> None:
    """A fee books to its kind's role; the roles are distinct leaves under 6021 by default."""
    (entry,) = entries_for(FeeCharged(**common(), fee_kind=kind, amount=cny("3.00")))
    credit = next(leg for leg in entry.legs if leg.side is Side.CREDIT)
    assert credit.subject_code == DEFAULT_MAPPING.code(FEE_INCOME_ROLE[kind])
    assert CHART.ancestors(credit.subject_code) == ("6021",)
    codes = {DEFAULT_MAPPING.code(role) for role in (*FEE_INCOME_ROLE.values(), Role.FEE_INCOME)}
    assert len(codes) == len(FeeKind) + 1  # every kind and the merchant's fees apart
    (waived,) = entries_for(Waiver(**common(), component="fee", fee_kind=kind, amount=cny("3.00")))
    debit = next(leg for leg in waived.legs if leg.side is Side.DEBIT)
    assert debit.subject_code == credit.subject_code  # a waiver reverses the same income


def test_a_product_maps_a_fee_kind_to_its_own_subject() -> None:
    chart = CHART.with_subjects(
        Subject("6021.05", "违约金", "Late charges", "income", parent_code="6021")
    )
    mapping = SubjectMapping(late_fee_income="6021.05").check(chart)
    (entry,) = entries_for(FeeCharged(**common(), fee_kind="late", amount=cny("3.00")), mapping)
    assert [leg.subject_code for leg in entry.legs] == ["1221", "6021.05"]
    (other,) = entries_for(
        FeeCharged(**common(), fee_kind="management", amount=cny("3.00")), mapping
    )
    assert [leg.subject_code for leg in other.legs] == ["1221", "6021.02"]


def test_a_fee_waiver_without_a_kind_reverses_the_general_fee_income() -> None:
    (entry,) = entries_for(Waiver(**common(), component="fee", amount=cny("3.00")))
    assert [leg.subject_code for leg in entry.legs] == ["6021.09", "1221"]
    with pytest.raises(InvalidInput, match="fee_kind"):
        Waiver(**common(), component="interest", fee_kind="late", amount=cny("3.00"))


def test_a_cancellation_refuses_another_events_id_or_a_cancellation() -> None:
    disbursed = CardDisbursement(**common(), principal=cny("1.00"))
    with pytest.raises(InvalidInput, match="event_id"):
        Cancellation(**common("other"), cancelled=disbursed)
    with pytest.raises(InvalidInput, match="cancelled"):
        Cancellation.of(Cancellation.of(disbursed, DAY), DAY)


# -- the settlement templates: payouts and a platform's commission --------------------------------


def test_a_payout_instructed_then_confirmed_moves_the_payable_to_the_bank_through_clearing() -> (
    None
):
    instructed = PayoutInstructed(**common(), amount=cny("99.40"), service_fee=cny("0.60"))
    confirmed = PayoutConfirmed(**common(), amount=cny("99.40"))
    assert legs_of(entries_for(instructed)) == [
        ("de", "2202", "100.00"), ("cr", "3001", "99.40"), ("cr", "6021.09", "0.60"),
    ]  # fmt: skip
    assert legs_of(entries_for(confirmed)) == [("de", "3001", "99.40"), ("cr", "1002", "99.40")]
    assert entries_for(instructed)[0].idempotency_key == "payout.instructed:ev-1"


def test_a_failed_payout_returns_to_the_merchant_payable() -> None:
    failed = PayoutFailed(**common(), amount=cny("99.40"))
    assert legs_of(entries_for(failed)) == [("de", "3001", "99.40"), ("cr", "2202", "99.40")]


def test_a_payout_of_fees_only_books_the_fee_and_nothing_to_clearing() -> None:
    fees_only = PayoutInstructed(**common(), amount=cny("0.00"), service_fee=cny("3.00"))
    assert legs_of(entries_for(fees_only)) == [("de", "2202", "3.00"), ("cr", "6021.09", "3.00")]
    assert entries_for(PayoutInstructed(**common(), amount=cny("0.00"))) == ()


def test_commission_accrued_clawed_back_and_paid_net_the_payable_to_what_was_paid() -> None:
    books = Ledger(MemoryLedgerStore(CHART))
    events = [
        CommissionAccrued(**common("a1"), amount=cny("30.00")),
        CommissionAccrued(**common("a2"), amount=cny("20.00")),
        CommissionClawedBack(**common("b1"), amount=cny("20.00")),
        CommissionPaid(**common("p1"), amount=cny("30.00")),
    ]
    for event in events:
        books.post(*entries_for(event))
    partner = {"partner": "P-1"}
    assert books.balance("6421", "CNY", as_of=DAY, dimensions=partner) == cny("30.00")
    assert books.balance("2202", "CNY", as_of=DAY, dimensions=partner) == cny("0.00")


def test_settlement_events_require_their_dimensions() -> None:
    with pytest.raises(InvalidInput, match="dimensions.merchant"):
        PayoutConfirmed(
            event_id="e", accounting_date=DAY, dimensions={"loan": "L"}, amount=cny("1")
        )
    with pytest.raises(InvalidInput, match="dimensions.partner"):
        CommissionAccrued(
            event_id="e", accounting_date=DAY, dimensions={"loan": "L"}, amount=cny("1")
        )
