"""Random lifecycles of one loan: the ledger filtered by the loan always equals the loan, cash
in equals allocated plus credit, principal is conserved (checked after every step)."""

from decimal import Decimal

from hypothesis import HealthCheck, settings

from loancore.money import Money
from loancore.postings import DiscountTreatment, SubjectMapping
from loancore.servicing import LateFee, Penalty, PrepaymentRules, RefundRules
from loancore.testing.servicing import ServicingMachine, clinic_product
from loancore.waterfall import CIVIL_CODE_561

SETTINGS = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class CreditMachine(ServicingMachine):
    """Money beyond what is due kept as credit (art. 561 policy), compound interest, a late fee
    and a merchant discount amortized through 利息调整."""

    product = clinic_product(
        grace_days=0,
        policy=CIVIL_CODE_561,
        penalty=Penalty(multiple=Decimal("1.3"), compound=True),
        late_fee=LateFee(rate=Decimal("0.05"), cap=Money(Decimal(50), "CNY")),
        merchant_discount_rate=Decimal("0.06"),
        management_fee_rate=Decimal("0.002"),
        mapping=SubjectMapping(discount_treatment=DiscountTreatment.INTEREST_ADJUSTMENT),
    )


ServicingMachine.TestCase.settings = SETTINGS
CreditMachine.TestCase.settings = SETTINGS
test_random_lifecycles_keep_ledger_equal_to_loan = ServicingMachine.TestCase
test_random_lifecycles_with_credit_and_discount_keep_ledger_equal_to_loan = CreditMachine.TestCase


class FreePlanMachine(ServicingMachine):
    """An interest-free equal-principal plan the merchant subsidises (利息调整), recognised on
    due dates, prepayments keeping the installment."""

    product = clinic_product(
        annual_rate=Decimal(0),
        method="equal_principal",
        recognition="on_due_date",
        merchant_discount_rate=Decimal("0.08"),
        origination_fee_rate=Decimal("0.01"),
        prepayment=PrepaymentRules(fee_rate=Decimal("0.02"), reamortization="keep_installment"),
        refund=RefundRules(waive_interest=False, return_discount=False),
        mapping=SubjectMapping(discount_treatment=DiscountTreatment.INTEREST_ADJUSTMENT),
    )


FreePlanMachine.TestCase.settings = SETTINGS
test_random_interest_free_lifecycles_keep_ledger_equal_to_loan = FreePlanMachine.TestCase
