"""Payout files out, result files in: matching, failures retried, mismatches, malformed files."""

from __future__ import annotations

import datetime

import pytest
from settlement_support import at, t1

from loancore.calendar import BusinessCalendar
from loancore.postings import DEFAULT_MAPPING
from loancore.settlement import (
    Capture,
    ChannelFileError,
    MismatchKind,
    PayoutStatus,
    Retry,
    SettlementRun,
    parse_result_csv,
    payout_csv,
    reconcile,
    run_settlement,
)
from loancore.testing.settlement import cny

D = datetime.date
TERMS = {m: t1(m) for m in ("M1", "M2", "M3")}
HEADER = "batch_id,line_id,amount,status,channel_ref,reason\n"


def first_run(cn: BusinessCalendar) -> SettlementRun:
    orders = [
        Capture(order_id=f"O{m}", merchant_id=m, amount=cny(fen), captured_at=at(2025, 9, 30))
        for m, fen in (("M1", 100_000), ("M2", 50_000), ("M3", 20_000))
    ]
    return run_settlement(D(2025, 10, 9), channel="up", calendar=cn, terms=TERMS, captures=orders)


def test_payout_file_lists_every_instruction_with_documented_columns(cn: BusinessCalendar) -> None:
    text = payout_csv(first_run(cn).batch)
    assert text.splitlines() == [
        "batch_id,line_id,merchant_id,payee_account,amount,currency,value_date",
        "up:2025-10-09,up:2025-10-09:M1,M1,6222M1,994.00,CNY,2025-10-09",
        "up:2025-10-09,up:2025-10-09:M2,M2,6222M2,497.00,CNY,2025-10-09",
        "up:2025-10-09,up:2025-10-09:M3,M3,6222M3,198.80,CNY,2025-10-09",
    ]


def test_confirmed_lines_post_to_bank_and_failed_lines_are_retried(cn: BusinessCalendar) -> None:
    run = first_run(cn)
    text = HEADER + (
        "up:2025-10-09,up:2025-10-09:M1,994.00,SUCCESS,R1,\n"
        "up:2025-10-09,up:2025-10-09:M2,497.00,failed,R2,account closed\n"
    )
    result = reconcile(run.batch, parse_result_csv(text), booked_on=D(2025, 10, 10))
    assert [i.merchant_id for i in result.confirmed] == ["M1"]
    assert [i.merchant_id for i in result.failed] == ["M2"]
    assert [i.merchant_id for i in result.outstanding] == ["M3"]
    assert result.mismatches == ()
    confirm, fail = result.entries
    m = DEFAULT_MAPPING
    assert [(leg.subject_code, leg.signed_minor) for leg in confirm.legs] == [
        (m.clearing, 99_400), (m.bank, -99_400),
    ]  # fmt: skip
    assert [(leg.subject_code, leg.signed_minor) for leg in fail.legs] == [
        (m.clearing, 49_700), (m.merchant_payable, -49_700),
    ]  # fmt: skip
    assert confirm.idempotency_key == "payout.confirmed:up:2025-10-09:M1"
    assert result.retries == (
        Retry(line_id="up:2025-10-09:M2", merchant_id="M2", amount=cny(49_700)),
    )
    # The next run pays the failed amount again, with M2's new captures.
    new = [
        Capture(order_id="N1", merchant_id="M2", amount=cny(10_000), captured_at=at(2025, 10, 9))
    ]
    retry = run_settlement(
        D(2025, 10, 10), channel="up", calendar=cn, terms=TERMS, captures=new,
        retries=result.retries,
    )  # fmt: skip
    (line,) = retry.batch.lines
    assert line.retried_line_ids == ("up:2025-10-09:M2",)
    assert line.payment == cny(49_700 + 10_000 - 60)
    # Re-importing the same file books the same keys: a store books it once.
    again = reconcile(run.batch, parse_result_csv(text), booked_on=D(2025, 10, 10))
    assert again == result


def test_mismatched_amount_unknown_and_duplicate_lines_are_reported_and_post_nothing(
    cn: BusinessCalendar,
) -> None:
    run = first_run(cn)
    text = HEADER + (
        "up:2025-10-09,up:2025-10-09:M1,994.01,SUCCESS,,\n"
        "up:2025-10-09,up:2025-10-09:M9,10.00,SUCCESS,,\n"
        "up:2025-10-09,up:2025-10-09:M2,497.00,SUCCESS,,\n"
        "up:2025-10-09,up:2025-10-09:M2,497.00,SUCCESS,,\n"
        "up:2025-10-08,up:2025-10-09:M3,198.80,SUCCESS,,\n"
    )
    result = reconcile(run.batch, parse_result_csv(text), booked_on=D(2025, 10, 10))
    assert [(m.kind, m.line_number) for m in result.mismatches] == [
        (MismatchKind.AMOUNT, 2),
        (MismatchKind.UNKNOWN_LINE, 3),
        (MismatchKind.DUPLICATE_LINE, 4),
        (MismatchKind.DUPLICATE_LINE, 5),
        (MismatchKind.WRONG_BATCH, 6),
    ]
    assert "994.01" in result.mismatches[0].detail
    assert result.entries == () and result.confirmed == () and result.retries == ()
    assert [i.merchant_id for i in result.outstanding] == ["M3"]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("", 1, "header"),
        ("batch_id,line_id,amount\n", 1, "header"),
        ("batch_id,line_id,amount,status,amount\n", 1, "header"),
        (HEADER + "b,l,1.00,SUCCESS,,\nb,l2,abc,SUCCESS,,\n", 3, "amount"),
        (HEADER + "b,l,1.001,SUCCESS,,\n", 2, "amount"),
        (HEADER + "b,l,-1.00,SUCCESS,,\n", 2, "amount"),
        (HEADER + "b,l,1.00,PAID,,\n", 2, "status"),
        (HEADER + "b,,1.00,SUCCESS,,\n", 2, "line_id"),
        (HEADER + "b,l,1.00,SUCCESS\n", 2, "row"),
        (HEADER + '\nb,l,1.00,SUCCESS,"x\n', 3, "row"),
    ],
)
def test_malformed_file_names_the_line_and_column(text: str, line: int, column: str) -> None:
    with pytest.raises(ChannelFileError) as raised:
        parse_result_csv(text)
    assert (raised.value.line_number, raised.value.column) == (line, column)
    assert raised.value.field == f"line {line}.{column}"


def test_result_file_accepts_bom_blank_lines_any_column_order_and_extra_columns() -> None:
    text = "\ufeffstatus,amount,note,line_id,batch_id\n\nSUCCESS,1.50,x,L1,B\n\n"
    (row,) = parse_result_csv(text)
    assert (row.line_number, row.batch_id, row.line_id) == (3, "B", "L1")
    assert (row.amount, row.status, row.channel_ref) == (cny(150), PayoutStatus.SUCCESS, "")


def test_result_file_must_be_text() -> None:
    with pytest.raises(ValueError, match="text"):
        parse_result_csv(b"batch_id")  # type: ignore[arg-type]


def test_a_line_settled_by_an_earlier_file_is_a_mismatch_and_posts_nothing(
    cn: BusinessCalendar,
) -> None:
    run = first_run(cn)
    text = HEADER + "up:2025-10-09,up:2025-10-09:M1,994.00,FAILED,R9,late bounce\n"
    result = reconcile(
        run.batch, parse_result_csv(text), booked_on=D(2025, 10, 12),
        settled=["up:2025-10-09:M1", "up:2025-10-09:M2"],
    )  # fmt: skip
    assert [(m.kind, m.line_id) for m in result.mismatches] == [
        (MismatchKind.ALREADY_SETTLED, "up:2025-10-09:M1")
    ]
    assert result.entries == () and result.retries == ()
    assert [i.merchant_id for i in result.outstanding] == ["M3"]
