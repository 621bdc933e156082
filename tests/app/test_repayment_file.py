"""The auto-debit result file's parser (loancore.app.repayment_file): exact amounts, failed rows,
the header rules, and every bad row refused with ``row N: <column>`` and the value, before
anything is applied. No database: the parser takes text."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.app import DebitStatus, FileRow, Payment, parse_repayment_file
from loancore.checks import DATE_MAX, DATE_MIN
from loancore.errors import InvalidInput, UnknownCurrency
from loancore.money import Money
from loancore.testing.strategies import moneys

HEADER = "loan_id,payment_id,paid_on,amount"


def cny(text: str) -> Money:
    return Money(text, "CNY")


def pay(loan_id: str, payment_id: str, paid_on: str, amount: str) -> Payment:
    return Payment(
        loan_id=loan_id, payment_id=payment_id, paid_on=date.fromisoformat(paid_on),
        amount=cny(amount),
    )  # fmt: skip


def refusal(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        parse_repayment_file(text)
    return error.value


def test_amounts_parse_exactly_at_the_currency_scale() -> None:
    text = f"{HEADER}\nL-1,P1,2026-04-02,1100.16\nL-2,P2,2026-04-03,7\nL-1,P3,2026-04-04,0.10\n"
    parsed = parse_repayment_file(text)
    assert parsed.payments == (
        pay("L-1", "P1", "2026-04-02", "1100.16"),
        pay("L-2", "P2", "2026-04-03", "7.00"),
        pay("L-1", "P3", "2026-04-04", "0.10"),
    )
    amounts = [p.amount.amount for p in parsed.payments]
    assert amounts == [Decimal("1100.16"), Decimal("7.00"), Decimal("0.10")]
    assert [a.as_tuple().exponent for a in amounts] == [-2, -2, -2]
    assert [r.row for r in parsed.rows] == [2, 3, 4] and parsed.failed == ()


def test_failed_rows_are_listed_never_paid_and_empty_optional_cells_take_the_default() -> None:
    text = (
        "status,currency,amount,paid_on,payment_id,loan_id\n"  # any column order
        "success,CNY,10.00,2026-04-02,P1,L-1\n"
        "failed,,20.00,2026-04-02,P2,L-2\n"
        ",,30.00,2026-04-02,P3,L-3\n"
    )
    parsed = parse_repayment_file(text)
    assert parsed.payments == (
        pay("L-1", "P1", "2026-04-02", "10.00"),
        pay("L-3", "P3", "2026-04-02", "30.00"),
    )
    assert parsed.failed == (
        FileRow(row=3, payment=pay("L-2", "P2", "2026-04-02", "20.00"), status=DebitStatus.FAILED),
    )


def test_a_spreadsheet_byte_order_mark_and_blank_lines_are_harmless() -> None:
    text = f"\ufeff{HEADER}\r\nL-1,P1,2026-04-02,1.00\r\n\r\nL-1,P2,2026-04-03,2.00\r\n"
    parsed = parse_repayment_file(text)
    assert [r.row for r in parsed.rows] == [2, 4]  # the blank line is row 3
    assert parse_repayment_file(io.StringIO(text, newline="")) == parsed  # lines, as a file


BAD_CELLS = [
    ("amount", "1100.165", "has more decimals than CNY allows"),
    ("amount", "1,100.16", "plain ASCII digits"),
    ("amount", "1e3", "plain ASCII digits"),
    ("amount", " 5.00", "plain ASCII digits"),
    ("amount", "NaN", "plain ASCII digits"),
    ("amount", "-5.00", "positive"),
    ("amount", "0.00", "positive"),
    ("amount", "", "plain ASCII digits"),
    ("paid_on", "2026/04/02", "YYYY-MM-DD"),
    ("paid_on", "2026-02-30", "YYYY-MM-DD"),
    ("paid_on", "20260402", "YYYY-MM-DD"),
    ("paid_on", "2026-W14-4", "YYYY-MM-DD"),
    ("paid_on", "1899-12-31", "expected a date from"),
    ("loan_id", "", "non-empty identifier"),
    ("payment_id", "", "non-empty identifier"),
    ("payment_id", "P" * 201, "at most 200 characters"),
    ("status", "SUCCESS", "success or failed"),
    ("currency", "USD", "expected CNY"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_CELLS)
def test_a_bad_cell_names_its_row_column_and_value(column: str, value: str, reason: str) -> None:
    good = {"loan_id": "L-1", "payment_id": "P1", "paid_on": "2026-04-02", "amount": "1.00",
            "status": "success", "currency": "CNY"}  # fmt: skip
    bad = {**good, "payment_id": "P2", column: value}
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(good), lineterminator="\n")
    writer.writeheader()
    writer.writerows([good, good | {"payment_id": "P0"}, bad])
    error = refusal(out.getvalue())
    assert error.field == f"row 4: {column}"
    assert error.value == value and reason in error.reason


def test_a_duplicate_payment_id_names_both_rows() -> None:
    text = f"{HEADER}\nL-1,P1,2026-04-02,1.00\nL-2,P2,2026-04-02,1.00\nL-3,P1,2026-04-03,2.00\n"
    error = refusal(text)
    assert (error.field, error.value, error.reason) == ("row 4: payment_id", "P1", "repeats row 2")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f"{HEADER},branch,memo", "unknown column(s) ['branch', 'memo']"),
        ("loan_id,payment_id,amount", "missing required column(s) ['paid_on']"),
        (f"{HEADER},loan_id", "repeated column(s) ['loan_id']"),
        ("Loan_ID,payment_id,paid_on,amount", "unknown column(s) ['Loan_ID']"),
        ("", "missing required column(s) ['loan_id', 'payment_id', 'paid_on', 'amount']"),
    ],
)
def test_the_header_is_checked(header: str, reason: str) -> None:
    error = refusal(f"{header}\nL-1,P1,2026-04-02,1.00\n" if header else "")
    assert error.field == "header" and error.reason == reason


def test_a_row_with_another_number_of_cells_or_broken_quoting_is_refused_by_row() -> None:
    extra = refusal(f"{HEADER}\nL-1,P1,2026-04-02,1.00\nL-2,P2,2026-04-02,1,00\n")
    assert (extra.field, extra.reason) == ("row 3", "expected 4 cells, found 5")
    short = refusal(f"{HEADER}\nL-1,P1,2026-04-02\n")
    assert (short.field, short.reason) == ("row 2", "expected 4 cells, found 3")
    quoting = refusal(f'{HEADER}\nL-1,P1,2026-04-02,1.00\nL-2,"P2,2026-04-02,1.00\n')
    assert quoting.field == "row 3" and "not valid CSV" in quoting.reason


def test_an_unknown_book_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        parse_repayment_file(f"{HEADER}\n", currency="XYZ")


def test_a_book_in_another_currency_parses_at_that_scale() -> None:
    parsed = parse_repayment_file(
        f"{HEADER},currency\nL-1,P1,2026-04-02,1500,JPY\n", currency="JPY"
    )
    assert parsed.payments[0].amount == Money("1500", "JPY")
    with pytest.raises(InvalidInput) as error:
        parse_repayment_file(f"{HEADER}\nL-1,P1,2026-04-02,1500.5\n", currency="JPY")
    assert error.value.field == "row 2: amount" and "JPY allows (0)" in error.value.reason
    cny_row = refusal(f"{HEADER},currency\nL-1,P1,2026-04-02,1500,JPY\n")  # a CNY book
    assert (cny_row.field, cny_row.value) == ("row 2: currency", "JPY")


IDS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
              min_size=1, max_size=30)  # fmt: skip
ROWS = st.lists(
    st.tuples(
        IDS,
        moneys(currency="CNY", min_value=Decimal("0.01")),
        st.dates(min_value=DATE_MIN, max_value=DATE_MAX),
        st.sampled_from(["success", "failed", ""]),
        st.sampled_from(["CNY", ""]),
    ),
    max_size=20,
)


@given(rows=ROWS, order=st.permutations(["loan_id", "payment_id", "paid_on", "amount",
                                         "status", "currency"]))  # fmt: skip
def test_any_payments_written_as_csv_parse_back_to_the_same_payments(
    rows: list[tuple[str, Money, date, str, str]], order: list[str]
) -> None:
    expected = [
        FileRow(
            row=number,
            payment=Payment(
                loan_id=loan_id, payment_id=f"S{number}", amount=amount, paid_on=paid_on
            ),
            status=DebitStatus.FAILED if status == "failed" else DebitStatus.SUCCESS,
        )
        for number, (loan_id, amount, paid_on, status, _currency) in enumerate(rows, start=2)
    ]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=order)
    writer.writeheader()
    for row, (_loan, amount, _day, status, currency) in zip(expected, rows, strict=True):
        p = row.payment
        writer.writerow({"loan_id": p.loan_id, "payment_id": p.payment_id,
                         "paid_on": p.paid_on.isoformat(), "amount": str(amount.amount),
                         "status": status, "currency": currency})  # fmt: skip
    parsed = parse_repayment_file(out.getvalue())
    assert parsed.rows == tuple(expected)
    assert parsed.payments == tuple(r.payment for r in expected if r.status is DebitStatus.SUCCESS)
