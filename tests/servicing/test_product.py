"""Products load from TOML; a bad value names its TOML key."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from loancore.amortization import Reamortization
from loancore.money import Money
from loancore.servicing import InterestRecognition, ProductConfigError, product_from_toml

DOCS = Path(__file__).resolve().parents[2] / "docs" / "servicing.md"


def example() -> str:
    match = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None
    return match.group(1)


def test_docs_example_loads() -> None:
    product = product_from_toml(example())
    assert product.ref == ("clinic-12", 1)
    assert product.annual_rate == Decimal("0.18")
    assert product.recognition is InterestRecognition.DAILY
    assert product.grace_days == 3
    assert product.penalty.rate_for(product.annual_rate) == Decimal("0.270")
    assert product.penalty.compound
    assert product.late_fee.cap == Money(Decimal("50.00"), "CNY")
    assert product.prepayment.reamortization is Reamortization.KEEP_TERM
    assert product.merchant_discount_rate == Decimal("0.05")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('annual_rate = "0.18"', "annual_rate = 0.18", "terms.annual_rate"),
        ('multiple = "1.5"', 'multiple = "x"', "interest.penalty.multiple"),
        ("grace_days = 3", "grace_days = 999", "interest.grace_days"),
        ('policy = "china-consumer-finance"', 'policy = "nope"', "allocation.policy"),
        ('fee_rate = "0.01"', 'fee_rate = "0.01"\nfee_ratio = "1"', "prepayment.fee_ratio"),
        ('discount_treatment = "fee_income"', 'bank = ""', "mapping.bank"),
        ('cap = "50.00"', 'cap = "50.001"', "charges.late_fee.cap"),
    ],
)
def test_bad_value_names_its_toml_key(old: str, new: str, field: str) -> None:
    text = example().replace(old, new)
    with pytest.raises(ProductConfigError) as error:
        product_from_toml(text)
    assert error.value.field == field
