"""The settlement hook inside servicing's units of work: refunds applied in a batch become
deductions once, a merchant without terms is left to the application, and a platform's
commission stays off 2202 so that 2202 is exactly the sum of the merchants' payables."""

from __future__ import annotations

import datetime
from decimal import Decimal

import stored_kit

from loancore.ledger import default_chart
from loancore.money import Money, Rounding
from loancore.ports import UnitOfWork
from loancore.postings import DEFAULT_MAPPING
from loancore.services import apply_batch, book_order
from loancore.services import settlement as svc
from loancore.servicing import MerchantRefund
from loancore.settlement import (
    CommissionBasis,
    CommissionState,
    CommissionTerms,
    LoanActivity,
    LoanActivityKind,
    MerchantTerms,
    ServiceFee,
    SettlementSchedule,
    accrue_commissions,
    commission_accrual_entries,
)

D = datetime.date
FAR = D(2030, 12, 31)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def terms(merchant_id: str) -> MerchantTerms:
    fee = ServiceFee(rate=Decimal("0.006"), rounding=Rounding.HALF_UP, fee_min=cny("0.00"))
    return MerchantTerms(
        merchant_id=merchant_id, schedule=SettlementSchedule.t_plus(1), fee=fee,
        cutoff=None, payee_account=f"6222{merchant_id}",
    )  # fmt: skip


def book(uow: UnitOfWork, loan_id: str, merchant_id: str, principal: str) -> None:
    book_order(
        uow, order_id=f"order-{loan_id}", loan_id=loan_id, customer_id="C1", line_id="LINE",
        product_id="clinic-12", product_version=1, principal=cny(principal), installments=12,
        start_date=D(2025, 10, 13), merchant_id=merchant_id,
    )  # fmt: skip


def test_refunds_in_a_batch_become_deductions_once_and_a_merchant_without_terms_gets_none(
    uow: UnitOfWork,
) -> None:
    stored_kit.set_up_servicing(uow)
    svc.save_merchant_terms(uow, "up", terms("M1"))
    book(uow, "L1", "M1", "2000.00")
    book(uow, "L2", "M1", "1000.00")
    book(uow, "L3", "M9", "1000.00")
    items = [
        ("L1", MerchantRefund(event_id="rf1", as_of=D(2025, 10, 14), amount=cny("500.00"))),
        ("L2", MerchantRefund(event_id="rf2", as_of=D(2025, 10, 14), amount=cny("1000.00"))),
        ("L3", MerchantRefund(event_id="rf3", as_of=D(2025, 10, 14), amount=cny("200.00"))),
    ]
    assert apply_batch(uow, items).applied == ("rf1", "rf2", "rf3")
    assert apply_batch(uow, items).replayed == ("rf1", "rf2", "rf3")
    with uow:  # captures 1,900 + 950, refunds back 475 + 950: pending, once each
        assert uow.settlement.merchant_payable("M1", "CNY") == cny("1425.00")
        pending = uow.settlement.pending("up")
    assert [(d.deduction_id, d.order_id, str(d.amount.amount)) for d in pending.deductions] == [
        ("rf1", "order-L1", "475.00"), ("rf2", "order-L2", "950.00"),
    ]  # fmt: skip
    assert [c.captured_at for c in pending.captures] == [datetime.datetime(2025, 10, 13)] * 2
    assert svc.payable_matches_ledger(uow, ["M1"], as_of=FAR) == ()


def test_commission_payable_is_2241_03_and_2202_is_the_sum_of_the_merchants() -> None:
    assert default_chart().get(DEFAULT_MAPPING.commission_payable).name_zh == "应付助贷服务费"
    DEFAULT_MAPPING.check(default_chart())
    platform = CommissionTerms(
        platform_id="P1", basis=CommissionBasis.PRINCIPAL_DISBURSED, rate="0.02",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    activity = LoanActivity(
        activity_id="a1", loan_id="L1", kind=LoanActivityKind.DISBURSED, on=D(2025, 10, 13),
        amount=cny("2000.00"),
    )  # fmt: skip
    (accrual,), _state = accrue_commissions(platform, [activity], CommissionState())
    (entry,) = commission_accrual_entries(accrual)
    credit = [leg for leg in entry.legs if leg.side.value == "credit"]
    assert [(leg.subject_code, str(leg.amount.amount)) for leg in credit] == [("2241.03", "40.00")]
    assert all(leg.subject_code != "2202" for leg in entry.legs)


def test_2202_total_equals_the_merchants_payables_with_commission_booked(uow: UnitOfWork) -> None:
    stored_kit.set_up_servicing(uow)
    for merchant_id in ("M1", "M2"):
        svc.save_merchant_terms(uow, "up", terms(merchant_id))
    book(uow, "L1", "M1", "2000.00")
    book(uow, "L2", "M2", "3000.00")
    platform = CommissionTerms(
        platform_id="P1", basis=CommissionBasis.PRINCIPAL_DISBURSED, rate="0.02",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    activities = [
        LoanActivity(activity_id=f"a{n}", loan_id=f"L{n}", kind=LoanActivityKind.DISBURSED,
                     on=D(2025, 10, 13), amount=cny(amount))
        for n, amount in ((1, "2000.00"), (2, "3000.00"))
    ]  # fmt: skip
    accruals, _state = accrue_commissions(platform, activities, CommissionState())
    with uow:
        uow.ledger.post([e for a in accruals for e in commission_accrual_entries(a)])
        uow.commit()
    with uow:
        total = uow.ledger.balance("2202", "CNY", as_of=FAR)
        merchants = sum((uow.settlement.merchant_payable(m, "CNY") for m in ("M1", "M2")), cny("0"))
        commission = uow.ledger.balance("2241.03", "CNY", as_of=FAR, dimensions={"partner": "P1"})
    assert total == merchants == cny("4750.00") and commission == cny("100.00")
