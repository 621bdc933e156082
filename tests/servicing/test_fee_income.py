"""Each charge earns its own income subject (issue 11): origination, management (管理费), late
(滞纳金) and prepayment fees book to their own leaves of 6021 by default, and a product moves any
of them in its ``[mapping]`` table."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from loancore.errors import InvalidInput
from loancore.ledger import default_chart
from loancore.money import Money
from loancore.postings import FeeKind
from loancore.servicing import (
    Accrue,
    ChargeFee,
    Disburse,
    LateFee,
    PayOff,
    PrepaymentRules,
    Waive,
    payoff_amount,
    product_from_toml,
)
from loancore.testing.servicing import Harness, clinic_product
from loancore.waterfall import FINERACT_EARLY_REPAYMENT, Component

DOCS = Path(__file__).resolve().parents[2] / "docs" / "servicing.md"
START = date(2026, 1, 15)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def credits(harness: Harness) -> dict[str, str]:
    """Per fee entry of the loan, the subject its income was credited to."""
    return {
        entry.entry_id: leg.subject_code
        for outcome in harness.outcomes
        for entry in outcome.entries
        if entry.entry_id.startswith("fee.charged")
        for leg in entry.legs
        if leg.side.value == "credit"
    }


def test_every_fee_of_a_loan_books_to_its_own_income_subject() -> None:
    product = clinic_product(
        origination_fee_rate=Decimal("0.01"),
        management_fee_rate=Decimal("0.002"),
        late_fee=LateFee(fixed=cny("30.00")),
        prepayment=PrepaymentRules(fee_rate=Decimal("0.01")),
    )
    harness = Harness.booked(product, payee="card")
    harness.apply(Disburse(event_id="pay", as_of=START, card="card-A"))
    harness.apply(Accrue(event_id="a1", as_of=date(2026, 2, 20)))  # due 02-15, unpaid: late
    harness.apply(ChargeFee(event_id="c1", as_of=date(2026, 2, 21), amount=cny("5.00")))
    quote = payoff_amount(harness.loan, product, date(2026, 2, 22))
    harness.apply(PayOff(event_id="off", as_of=date(2026, 2, 22), amount=quote))
    assert credits(harness) == {
        "fee.charged:pay.origination": "6021.01",
        "fee.charged:a1.mgmt": "6021.02",
        "fee.charged:a1.late": "6021.03",
        "fee.charged:c1": "6021.03",  # ChargeFee's kind is late unless it says otherwise
        "fee.charged:off": "6021.04",
    }
    chart = default_chart()
    assert {chart.get(code).parent_code for code in credits(harness).values()} == {"6021"}


def test_a_product_moves_a_fee_to_its_own_subject_in_its_toml_mapping() -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    toml = example.group(1).replace(
        '[mapping]\ndiscount_treatment = "fee_income"',
        '[mapping]\ndiscount_treatment = "fee_income"\nlate_fee_income = "6051"',
    )
    product = product_from_toml(toml)
    assert product.mapping.late_fee_income == "6051"  # 其他业务收入, a leaf income subject
    assert product.mapping.check(default_chart()) is product.mapping
    harness = Harness.booked(
        clinic_product(late_fee=LateFee(fixed=cny("30.00")), mapping=product.mapping)
    )
    harness.apply(Disburse(event_id="pay", as_of=START))
    harness.apply(Accrue(event_id="a1", as_of=date(2026, 2, 20)))
    assert credits(harness)["fee.charged:a1.late"] == "6051"
    waived = harness.apply(
        Waive(
            event_id="w1",
            as_of=date(2026, 2, 21),
            component=Component.FEE,
            amount=cny("30.00"),
            fee_kind=FeeKind.LATE,
        )
    )
    (entry,) = [e for e in waived.entries if e.entry_id.startswith("waiver.fee")]
    assert [(leg.subject_code, leg.side.value) for leg in entry.legs] == [
        ("6051", "debit"),
        ("1221", "credit"),
    ]


def test_only_a_fee_waiver_names_a_fee_kind() -> None:
    with pytest.raises(InvalidInput) as refused:
        Waive(
            event_id="w",
            as_of=START,
            component=Component.INTEREST,
            amount=cny("1.00"),
            fee_kind=FeeKind.LATE,
        )
    assert refused.value.field == "fee_kind"


def test_a_fee_booked_on_an_installment_not_yet_due_can_be_waived_under_any_policy() -> None:
    # Fineract's early-repayment strategy pays only principal in advance; a waiver must still
    # reach the fee booked on the installment not yet due (it used to be refused as InvalidInput).
    harness = Harness.booked(clinic_product(policy=FINERACT_EARLY_REPAYMENT), payee="card")
    harness.apply(Disburse(event_id="pay", as_of=START, card="card-A"))
    harness.apply(ChargeFee(event_id="c1", as_of=date(2026, 1, 20), amount=cny("5.00")))
    waived = harness.apply(
        Waive(event_id="w1", as_of=date(2026, 1, 21), component=Component.FEE, amount=cny("5.00"))
    )
    legs = {
        entry.entry_id: [(leg.subject_code, leg.side.value, leg.amount) for leg in entry.legs]
        for entry in waived.entries
    }
    assert legs["waiver.fee:w1.waive.fee"] == [
        ("6021.09", "debit", cny("5.00")),
        ("1221", "credit", cny("5.00")),
    ]
    assert sum(i.part(Component.FEE).receivable for i in harness.loan.installments) == 0
