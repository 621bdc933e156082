"""Each report's figures on a tiny book, against values worked out by hand.

The ledger: a 10,000.00 loan disbursed to a merchant (Dr 1303.01 / Cr 2202), 150.00 interest
accrued (Dr 1132 / Cr 6011), 20.00 interest expense paid from the bank (Dr 6411 / Cr 1002), the
merchant paid 5,000.00 through clearing (Dr 2202 / Cr 3001).

The loans: two 12,000.00 loans booked 2026-01-15 under the clinic product (18%, no grace);
A pays its first installment on 2026-02-15 and nothing more, B never pays.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from loancore.delinquency import DelinquencyPolicy, RiskClass, dpd
from loancore.delinquency.daily import sold_loan, written_off_loan
from loancore.ledger import TrialBalance, default_chart
from loancore.ledger.entries import MemoDirection, MemoPosting, MemoRegister
from loancore.ledger.reports import trial_balance_of
from loancore.money import Money
from loancore.reports import (
    aging,
    balance_sheet,
    classification,
    customer_bill,
    income_statement,
    month_ends,
    position_on,
    roll_rates,
    vintage,
    written_off_register,
)
from loancore.servicing import Disburse, Loan, Repay, apply, book_loan
from loancore.testing.servicing import clinic_product

CHART = default_chart()
PRODUCT = clinic_product()
START = date(2026, 1, 15)
AS_OF = date(2026, 4, 1)


def trial(as_of: date = date(2026, 3, 31)) -> TrialBalance:
    return trial_balance_of(
        as_of,
        [
            ("1303.01", "CNY", 1_000_000, 0),
            ("2202", "CNY", 500_000, 1_000_000),
            ("1132", "CNY", 15_000, 0),
            ("6011", "CNY", 0, 15_000),
            ("6411", "CNY", 2_000, 0),
            ("1002", "CNY", 0, 2_000),
            ("3001", "CNY", 0, 500_000),
        ],
    )


def test_balance_sheet_ties_assets_to_liabilities_equity_and_profit() -> None:
    sheet = balance_sheet(trial(), CHART, "CNY")
    assets = {line.subject_code: line.amount_minor for line in sheet.assets}
    liabilities = {line.subject_code: line.amount_minor for line in sheet.liabilities}
    # 1002 is overdrawn by 20.00: an asset line of -20.00; 3001 holds a credit: a liability
    assert assets == {"1002": -2_000, "1132": 15_000, "1303": 1_000_000}
    assert liabilities == {"2202": 500_000, "3001": 500_000}
    assert sheet.profit_minor == 13_000  # 150.00 income less 20.00 expense
    assert sheet.assets_minor == 1_013_000 == sheet.liabilities_minor + sheet.equity_minor
    assert sheet.balanced


def test_income_statement_is_income_less_expenses_between_two_dates() -> None:
    whole = income_statement(trial(), CHART, "CNY")
    assert [(line.subject_code, line.amount_minor) for line in whole.income] == [("6011", 15_000)]
    assert [(line.subject_code, line.amount_minor) for line in whole.expenses] == [("6411", 2_000)]
    assert whole.profit_minor == 13_000
    earlier = trial_balance_of(
        date(2026, 2, 28), [("1132", "CNY", 5_000, 0), ("6011", "CNY", 0, 5_000)]
    )
    period = income_statement(trial(), CHART, "CNY", since=earlier)
    assert period.income_minor == 10_000 and period.profit_minor == 8_000


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def booked(loan_id: str, customer: str) -> Loan:
    outcome = book_loan(
        PRODUCT, event_id=f"book-{loan_id}", loan_id=loan_id, hold_id=f"H-{loan_id}",
        principal=cny("12000.00"), installments=12, start_date=START, payee="merchant",
        dimensions={"merchant": "M1", "customer": customer},
    )  # fmt: skip
    return apply(outcome.loan, PRODUCT, Disburse(event_id=f"pay-{loan_id}", as_of=START)).loan


def book() -> tuple[Loan, Loan]:
    a = booked("A", "C1")
    first = a.installments[0]
    amount = a.money(first.principal.due + first.interest.due)
    a = apply(a, PRODUCT, Repay(event_id="A-1", as_of=date(2026, 2, 15), amount=amount)).loan
    return a, booked("B", "C2")


def test_positions_rebuilt_from_history_agree_with_the_delinquency_core() -> None:
    a, b = book()
    assert position_on(a, AS_OF).dpd == dpd(a, AS_OF, 0) == 17  # installment 2 due 15 Mar
    assert position_on(b, AS_OF).dpd == dpd(b, AS_OF, 0) == 45  # installment 1 due 15 Feb
    # on 28 Feb A was current (paid 15 Feb), B 13 days late
    assert position_on(a, date(2026, 2, 28)).dpd == 0
    assert position_on(b, date(2026, 2, 28)).dpd == 13
    assert position_on(a, date(2026, 1, 10)).open is False  # before booking
    paid = a.installments[0].principal.paid
    assert position_on(a, AS_OF).principal_minor == 1_200_000 - paid
    assert position_on(a, date(2026, 2, 14)).principal_minor == 1_200_000


def test_aging_puts_each_loan_in_its_bucket_with_its_principal() -> None:
    a, b = book()
    rows = {row.bucket: (row.count, row.principal_minor) for row in aging([a, b], AS_OF)}
    assert rows["M1"] == (1, a.principal_outstanding())
    assert rows["M2"] == (1, 1_200_000)
    assert rows["M0"] == (0, 0) and sum(count for count, _ in rows.values()) == 2


def test_classification_counts_loans_by_class() -> None:
    a, b = book()
    rows = {
        row.risk_class: (row.count, row.principal_minor) for row in classification([a, b], AS_OF)
    }
    # RISK_2023: any days past due is at least 关注 (special mention); 90+ would be 次级
    assert rows[RiskClass.SPECIAL_MENTION] == (2, a.principal_outstanding() + 1_200_000)
    assert rows[RiskClass.NORMAL] == (0, 0)
    lenient = DelinquencyPolicy(grace_days=20)
    counts = {r.risk_class: r.count for r in classification([a, b], AS_OF, lenient)}
    assert counts[RiskClass.NORMAL] == 1  # A's 17 days are within the grace


def test_vintage_is_the_share_of_the_cohort_past_30_days_by_month_on_book() -> None:
    a, b = book()
    table = vintage([a, b], AS_OF)
    (row,) = table.rows
    assert (row.cohort, row.loans, row.disbursed_minor) == ("2026-01", 2, 2_400_000)
    # Jan 31: none late; Feb 28: B 13 days; Mar 31: B 44 days (> 30); Apr 1: B 45 days
    assert row.rates == (Decimal(0), Decimal(0), Decimal("0.5"), Decimal("0.5"))


def test_roll_rates_count_moves_between_month_ends() -> None:
    a, b = book()
    ends = month_ends(START, date(2026, 3, 31))
    assert ends == (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31))
    matrix = roll_rates([a, b], ends)
    counts = dict(zip(matrix.rows, matrix.counts, strict=True))
    m0, m1, m2 = (matrix.columns.index(label) for label in ("M0", "M1", "M2"))
    # A: M0 -> M0 -> M1; B: M0 -> M1 -> M2
    assert counts["M0"][m0] == 1 and counts["M0"][m1] == 2 and counts["M1"][m2] == 1
    assert sum(map(sum, matrix.counts)) == 4
    assert matrix.rates()[0][m1] == Decimal("0.6667")


def test_bill_shows_overdue_next_due_and_history() -> None:
    a, _b = book()
    bill = customer_bill("C1", [a], AS_OF)
    (line,) = bill.lines
    second, third = a.installments[1], a.installments[2]
    assert line.installments_paid == 1 and line.overdue_minor == second.outstanding()
    assert (line.next_due, line.next_due_minor) == (third.due_date, third.outstanding())
    assert bill.due_minor == second.outstanding() + third.outstanding()
    assert [h.kind for h in bill.history] == ["booked", "disbursed", "repayment"]


def memo(
    posting_id: str, register: MemoRegister, direction: MemoDirection, text: str
) -> MemoPosting:
    return MemoPosting(
        posting_id=posting_id, idempotency_key=posting_id, register=register,
        accounting_date=date(2026, 9, 1), direction=direction, amount=cny(text),
    )  # fmt: skip


def test_written_off_register_counts_each_kind_and_sums_the_register_alone() -> None:
    a, b = book()
    gone_a = written_off_loan(a, as_of=date(2026, 9, 1))
    sold_b = sold_loan(b, as_of=date(2026, 9, 1))
    memos = [
        memo("w", MemoRegister.WRITTEN_OFF_LOANS, MemoDirection.INCREASE, "11500.00"),
        memo("r", MemoRegister.WRITTEN_OFF_LOANS, MemoDirection.DECREASE, "1000.00"),
        memo("i", MemoRegister.OFF_BALANCE_INTEREST, MemoDirection.INCREASE, "99.00"),
    ]
    register = written_off_register([gone_a, sold_b, booked("C", "C3")], memos)
    assert (register.written_off_loans, register.sold_loans) == (1, 1)
    assert register.written_off_principal_minor == a.principal_outstanding()
    assert register.sold_principal_minor == 1_200_000
    assert (register.register_booked_minor, register.register_recovered_minor) == (
        1_150_000,
        100_000,
    )
    assert register.register_balance_minor == 1_050_000
