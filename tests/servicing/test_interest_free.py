"""Interest-free (免息) plans the merchant subsidises: the lender's yield is visible in the ledger.

The borrower pays no interest; the lender pays the clinic 6% less than the principal. With the
``interest_adjustment`` treatment the ledger carries the loan at what the lender actually paid
out (1303 贷款 net of 1303.02 利息调整) and earns the subsidy as interest income month by month,
so the yield can be read off the ledger alone; booked as fee income it is all income on day one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from loancore.ledger import Side
from loancore.money import Money
from loancore.postings import DiscountTreatment, SubjectMapping
from loancore.servicing import Disburse, LoanStatus, Repay
from loancore.testing.servicing import Harness, clinic_product
from loancore.tvm import irr

START = date(2026, 1, 15)
FAR = date(2999, 12, 31)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def free_plan(treatment: DiscountTreatment) -> Harness:
    product = clinic_product(
        annual_rate=Decimal(0),
        merchant_discount_rate=Decimal("0.06"),
        mapping=SubjectMapping(discount_treatment=treatment),
    )
    harness = Harness.booked(product)
    harness.apply(Disburse(event_id="pay", as_of=START))
    return harness


def balance(harness: Harness, code: str, as_of: date = FAR) -> Money:
    return harness.store.balance(code, "CNY", as_of=as_of, dimensions={"loan": "L1"})


def test_the_lenders_yield_on_an_interest_free_plan_is_interest_income_in_the_ledger() -> None:
    harness = free_plan(DiscountTreatment.INTEREST_ADJUSTMENT)
    # carried at the cash paid out, not the face value the borrower owes
    assert balance(harness, "1303.01") == cny("12000.00")
    assert balance(harness, "1303") == cny("11280.00") == balance(harness, "2202")
    dates = [inst.due_date for inst in harness.loan.installments]
    for k, day in enumerate(dates, start=1):
        outcome = harness.apply(Repay(event_id=f"r{k}", as_of=day, amount=cny("1000.00")))
        assert not [e for e in outcome.entries if e.entry_id.startswith("interest.accrued")]
        # each month 60.00 of the subsidy is earned and the carrying amount follows
        assert balance(harness, "6011") == cny("60.00") * k
        assert balance(harness, "1303") == cny("11280.00") - cny("940.00") * k
    assert harness.loan.status is LoanStatus.PAID_OFF
    assert balance(harness, "1132") == cny("0.00")  # the borrower was never charged interest
    assert balance(harness, "1303") == cny("0.00")
    # the yield from the ledger alone: cash out to the clinic, cash in through the channel
    paid_out = balance(harness, "2202", START)  # credit-normal, shown positive
    received = [
        (entry.accounting_date, leg.amount)
        for entry in harness.store.entries()
        if entry.entry_id.startswith("repayment:")
        for leg in entry.legs
        if leg.side is Side.DEBIT
    ]
    assert [day for day, _amount in received] == dates
    flows = [-paid_out.amount] + [amount.amount for _day, amount in received]
    monthly = irr(flows)
    assert monthly == irr([Decimal(-11280)] + [Decimal(1000)] * 12)
    assert Decimal("0.0096") < monthly < Decimal("0.0097")  # 0.965% a month, 11.6% a year
    total = sum((amount for _day, amount in received), cny("0.00"))
    assert balance(harness, "6011") == total - paid_out == cny("720.00")


@pytest.mark.parametrize("treatment", list(DiscountTreatment))
def test_a_subsidy_booked_as_fee_income_is_earned_on_day_one_instead(
    treatment: DiscountTreatment,
) -> None:
    harness = free_plan(treatment)
    interest, fees = balance(harness, "6011"), balance(harness, "6021")
    if treatment is DiscountTreatment.FEE_INCOME:
        assert (interest, fees) == (cny("0.00"), cny("720.00"))
        assert balance(harness, "1303") == cny("12000.00")  # at face value: no yield to read
    else:
        assert (interest, fees) == (cny("0.00"), cny("0.00"))  # nothing earned before a month
