"""Importing an auto-debit result file on a real book (SQLite and PostgreSQL): the ledger moves
exactly as the same payments through ``repay_many`` move it, an unknown loan is refused without
sinking its chunk, a rerun replays, a bad row applies nothing; and ``loancore repay`` over a
SQLite book prints the summary, writes the refused rows and fails in one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loancore.adapters.process_batch import ProcessBatch
from loancore.adapters.sql import create_engine
from loancore.app import Lender, OrderRequest, Payment, RepaymentImport, parse_repayment_file
from loancore.cli.application import app
from loancore.credit import CreditApplication
from loancore.errors import InvalidInput, RejectionCode
from loancore.money import Money
from loancore.servicing import LoanStatus

DAY = date(2026, 3, 2)  # the loans start; their first installment is due 2026-04-02
DUE = date(2026, 4, 2)
LATER = date(2026, 12, 31)
RUNNER = CliRunner()


def cny(text: str) -> Money:
    return Money(text, "CNY")


def book(lender: Lender) -> dict[str, Money]:
    """Three loans of C-WHITE; L-O3 paid off, L-O2's first installment paid by ``BANK-0``.
    Returns each loan's first installment (principal and interest)."""
    lender.apply_for_credit(CreditApplication(
        application_id="A1", customer_id="C-WHITE", requested_limit=cny("20000.00"), score=300,
        applied_on=DAY,
    ))  # fmt: skip
    first: dict[str, Money] = {}
    for order_id, amount in (("O1", "6000.00"), ("O2", "3000.00"), ("O3", "1000.00")):
        lender.place_order(OrderRequest(
            order_id=order_id, customer_id="C-WHITE", merchant_id="M1", amount=cny(amount),
            product_id="clinic-12", installments=12, placed_on=DAY,
        ))  # fmt: skip
        loan = lender.confirm_order(order_id, DAY).loan
        one = loan.installments[0]
        first[loan.loan_id] = loan.money(one.principal.due + one.interest.due)
    lender.pay_off("L-O3", "PAYOFF-3", date(2026, 3, 20))
    lender.repay(Payment(loan_id="L-O2", payment_id="BANK-0", amount=first["L-O2"], paid_on=DUE))
    return first


def file_text(first: dict[str, Money]) -> str:
    return (
        "loan_id,payment_id,paid_on,amount,status\n"
        f"L-O1,BANK-1,2026-04-02,{first['L-O1'].amount},success\n"  # applied
        f"L-O2,BANK-0,2026-04-02,{first['L-O2'].amount},success\n"  # booked before: replayed
        "L-O3,BANK-3,2026-04-02,100.00,success\n"  # paid off: LOAN_NOT_ACTIVE
        "L-NOPE,BANK-4,2026-04-02,50.00,success\n"  # no such loan: LOAN_UNKNOWN
        "L-O1,BANK-5,2026-04-02,200.00,failed\n"  # the bank could not debit it
        "L-O2,BANK-6,2026-04-03,300.00,\n"  # applied (a day later, toward what comes due next)
    )


def kind_of(lender: Lender) -> str:
    return "postgres" if lender.engine.dialect.name == "postgresql" else "sqlite"


@pytest.mark.parametrize("chunk_size", [1, 2, 1000])
def test_an_import_books_exactly_what_repay_many_books_and_reports_each_row(
    lender: Lender, make_lender: Callable[[str], Lender], chunk_size: int
) -> None:
    imported, reference = lender, make_lender(kind_of(lender))
    first = book(imported)
    assert book(reference) == first
    text = file_text(first)

    result = imported.import_repayments(text, chunk_size=chunk_size)

    assert result.applied == ("BANK-1", "BANK-6") and result.replayed == ("BANK-0",)
    assert [(r.row, r.payment.payment_id, r.code) for r in result.refused] == [
        (4, "BANK-3", RejectionCode.LOAN_NOT_ACTIVE),
        (5, "BANK-4", RejectionCode.LOAN_UNKNOWN),
    ]
    assert result.refused[1].detail == "loan L-NOPE not found"
    assert [(r.row, r.payment.payment_id) for r in result.failed] == [(6, "BANK-5")]
    assert result.amount_applied == first["L-O1"] + cny("300.00")
    assert result.refused_by_code() == {"LOAN_NOT_ACTIVE": 1, "LOAN_UNKNOWN": 1}
    assert result.chunks == {1: 4, 2: 3, 1000: 1}[chunk_size]  # 5 debits; L-NOPE alone: no batch

    # the same payments through repay_many, less the unknown loan's (which would sink it)
    stored = [p for p in parse_repayment_file(text).payments if p.loan_id != "L-NOPE"]
    direct = reference.repay_many(stored)
    assert direct.applied == result.applied and direct.replayed == result.replayed
    assert imported.trial_balance(LATER) == reference.trial_balance(LATER)
    assert imported.loans() == reference.loans()

    loan = imported.loan("L-O1")
    assert loan.installments[0].outstanding() == 0 and loan.transaction("BANK-5") is None
    assert imported.loan("L-O3").status is LoanStatus.PAID_OFF
    assert imported.reconcile().clean


def test_a_file_of_several_days_is_applied_in_date_order(lender: Lender) -> None:
    # The file lists L-O1's debit of 04-05 before its debit of 04-02: in file order the earlier
    # one would be refused (EVENT_BEFORE_LAST, servicing never back-dates); in date order both
    # are booked, and a day's debits keep the file's order.
    first = book(lender)
    text = (
        "loan_id,payment_id,paid_on,amount\n"
        "L-O1,LATE,2026-04-05,100.00\n"
        f"L-O1,ON-TIME,2026-04-02,{first['L-O1'].amount}\n"
        "L-O2,SAME-DAY-1,2026-04-05,10.00\n"
        "L-O2,SAME-DAY-2,2026-04-05,20.00\n"
    )
    result = lender.import_repayments(text, chunk_size=2)
    assert result.applied == ("LATE", "ON-TIME", "SAME-DAY-1", "SAME-DAY-2")  # the file's rows
    assert result.refused == ()
    assert [t.event_id for t in lender.loan("L-O1").history][-2:] == ["ON-TIME", "LATE"]
    assert [t.event_id for t in lender.loan("L-O2").history][-2:] == ["SAME-DAY-1", "SAME-DAY-2"]


def test_importing_the_same_file_again_replays_everything_and_books_nothing(lender: Lender) -> None:
    text = file_text(book(lender))
    lender.import_repayments(text)
    before = lender.trial_balance(LATER), lender.loans()

    again = lender.import_repayments(text)

    assert again.applied == () and again.amount_applied == cny("0.00")
    assert again.replayed == ("BANK-1", "BANK-0", "BANK-6")
    assert [r.code for r in again.refused] == [
        RejectionCode.LOAN_NOT_ACTIVE, RejectionCode.LOAN_UNKNOWN
    ]  # fmt: skip
    assert (lender.trial_balance(LATER), lender.loans()) == before


def test_one_malformed_row_applies_nothing_and_names_the_row(lender: Lender) -> None:
    text = file_text(book(lender)) + "L-O1,BANK-7,2026-04-03,12.345,success\n"
    before = lender.trial_balance(LATER), lender.loans()
    with pytest.raises(InvalidInput) as error:
        lender.import_repayments(text)
    assert (error.value.field, error.value.value) == ("row 8: amount", "12.345")
    assert (lender.trial_balance(LATER), lender.loans()) == before


def test_the_chunk_size_is_checked(make_lender: Callable[[str], Lender]) -> None:
    lender = make_lender("sqlite")
    for size in (0, 10_001, True):
        with pytest.raises(InvalidInput) as error:
            lender.import_repayments("loan_id,payment_id,paid_on,amount\n", chunk_size=size)
        assert error.value.field == "chunk_size"


def test_known_loans_reads_which_ids_are_stored(make_lender: Callable[[str], Lender]) -> None:
    lender = make_lender("sqlite")
    book(lender)
    assert lender.known_loans(["L-O2", "L-NOPE", "L-O1", "L-O2"]) == {"L-O1", "L-O2"}
    assert lender.known_loans([]) == frozenset()


# -- loancore repay ----------------------------------------------------------------------------


def sqlite_book(make_lender: Callable[[str], Lender], tmp_path: Path) -> tuple[str, str]:
    """A SQLite book (the path) and its file's text, the lender closed."""
    lender = make_lender("sqlite")
    text = file_text(book(lender))
    db = lender.engine.url.database
    assert db is not None
    lender.close()
    return db, text


def test_repay_prints_one_summary_line_writes_the_refused_and_a_rerun_replays(
    make_lender: Callable[[str], Lender], tmp_path: Path
) -> None:
    db, text = sqlite_book(make_lender, tmp_path)
    file, refused = tmp_path / "debits.csv", tmp_path / "refused.csv"
    file.write_text(text, encoding="utf-8")
    first_due = parse_repayment_file(text).payments[0].amount
    args = ["repay", str(file), "--db", db, "--chunk-size", "2", "--refused", str(refused)]

    result = RUNNER.invoke(app, args)

    assert result.exit_code == 0, result.stderr
    applied = first_due + cny("300.00")
    assert result.stdout == (
        f"repayment file {file}: applied 2 ({applied}), replayed 1, refused 2 "
        "(LOAN_NOT_ACTIVE 1, LOAN_UNKNOWN 1), failed in file 1\n"
    )
    lines = refused.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,loan_id,payment_id,paid_on,amount,currency,code,detail"
    assert lines[1].startswith("4,L-O3,BANK-3,2026-04-02,100.00,CNY,LOAN_NOT_ACTIVE,")
    assert lines[2] == "5,L-NOPE,BANK-4,2026-04-02,50.00,CNY,LOAN_UNKNOWN,loan L-NOPE not found"
    assert len(lines) == 3

    again = RUNNER.invoke(app, args)
    assert again.exit_code == 0, again.stderr
    assert again.stdout == (
        f"repayment file {file}: applied 0 (0.00 CNY), replayed 3, refused 2 "
        "(LOAN_NOT_ACTIVE 1, LOAN_UNKNOWN 1), failed in file 1\n"
    )


def test_repay_errors_are_one_line_and_apply_nothing(
    make_lender: Callable[[str], Lender], tmp_path: Path
) -> None:
    db, text = sqlite_book(make_lender, tmp_path)
    bad, latin, missing = tmp_path / "bad.csv", tmp_path / "latin.csv", tmp_path / "missing.csv"
    bad.write_text(text + "L-O1,BANK-1,2026-04-03,1.00,success\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(text, encoding="utf-8")
    latin.write_bytes("loan_id,payment_id,paid_on,amount\nL-O1,扣款-1,2026-04-02,1.00\n"
                      .encode("gb18030"))  # fmt: skip
    cases = [
        ([str(bad)], 2, "loancore: error: row 8: payment_id: repeats row 2 (got 'BANK-1')"),
        ([str(latin)], 2, "loancore: error: file: not UTF-8 text"),
        ([str(missing)], 1, f"loancore: error: No such file or directory: {missing}"),
        ([str(bad), "--chunk-size", "x"], 2, "loancore: error: chunk_size:"),
        ([str(good), "--db", str(tmp_path / "none.sqlite")], 2, "loancore: error: db:"),
        ([str(good), "--chunk-size", "0"], 2, "loancore: error: chunk_size: expected 1 to"),
    ]
    for args, status, line in cases:
        result = RUNNER.invoke(app, ["repay", *args, *([] if "--db" in args else ["--db", db])])
        assert result.exit_code == status, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(line), args
        assert result.stdout == "" and "Traceback" not in result.output
    lender = Lender.open(db)
    try:
        assert lender.loan("L-O1").transaction("BANK-1") is None  # the bad file applied nothing
    finally:
        lender.close()


def test_a_payment_id_booked_by_another_loan_is_refused_alone_and_the_rest_is_booked(
    lender: Lender, make_lender: Callable[[str], Lender]
) -> None:
    reference = make_lender(kind_of(lender))
    first = book(lender)
    book(reference)
    text = (
        "loan_id,payment_id,paid_on,amount\n"
        f"L-O1,BANK-1,2026-04-02,{first['L-O1'].amount}\n"
        "L-O1,BANK-0,2026-04-02,5.00\n"  # BANK-0 is L-O2's payment: the ledger's key is taken
        "L-O2,BANK-6,2026-04-03,300.00\n"
    )

    result = lender.import_repayments(text)

    assert result.applied == ("BANK-1", "BANK-6") and result.replayed == ()
    (refused,) = result.refused
    assert (refused.row, refused.code) == (3, RejectionCode.PAYMENT_ID_TAKEN)
    assert refused.detail.startswith("payment id BANK-0 is booked by another loan (")
    assert result.chunks == 2  # the chunk raised; halved: [BANK-1] booked, [BANK-6] booked
    good = [p for p in parse_repayment_file(text).payments if p.payment_id != "BANK-0"]
    reference.repay_many(good)
    assert lender.trial_balance(LATER) == reference.trial_balance(LATER)
    assert lender.loans() == reference.loans()


def _on_workers(lender: Lender) -> ProcessBatch:
    path = lender.engine.url.database
    assert path is not None
    lender.processes = ProcessBatch(functools.partial(create_engine, path), workers=2)
    return lender.processes


def _summary(result: RepaymentImport) -> tuple[object, ...]:
    return (
        sorted(result.applied),
        sorted(result.replayed),
        [(r.row, r.payment.payment_id, r.code, r.detail) for r in result.refused],
        [(r.row, r.payment.payment_id) for r in result.failed],
        result.amount_applied,
    )


@pytest.mark.parametrize("file", ["the day's file", "a payment id of another loan"])
def test_an_import_on_worker_processes_books_what_one_process_books(
    make_lender: Callable[[str], Lender], file: str
) -> None:
    """``Lender.processes`` set: the payments go to two worker processes, one stream of loans
    each; a refusal there (a payment id booked by another loan: the ledger's key is taken) sends
    the import back to this process, the payments booked meanwhile replayed. Either way the
    import reports and books what the import in one process does."""
    workers, alone = make_lender("sqlite"), make_lender("sqlite")
    first = book(workers)
    book(alone)
    text = file_text(first)
    if file != "the day's file":  # BANK-0 is L-O2's payment: on L-O1 the ledger's key is taken
        text = text.replace(
            f"L-O2,BANK-0,2026-04-02,{first['L-O2'].amount}", "L-O1,BANK-0,2026-04-02,5.00"
        )
    with _on_workers(workers):
        result = workers.import_repayments(text)
    expected = alone.import_repayments(text)
    assert _summary(result) == _summary(expected)
    assert result.applied and result.refused
    taken = [r for r in result.refused if r.code is RejectionCode.PAYMENT_ID_TAKEN]
    assert len(taken) == (file != "the day's file")
    assert workers.trial_balance(LATER) == alone.trial_balance(LATER)
    assert workers.loans() == alone.loans()
    assert workers.reconcile().clean


def test_repay_on_worker_processes_prints_what_one_process_prints(
    make_lender: Callable[[str], Lender], tmp_path: Path
) -> None:
    outputs = []
    for workers in ("2", "0"):
        db, text = sqlite_book(make_lender, tmp_path)
        file = tmp_path / f"debits-{workers}.csv"
        file.write_text(text, encoding="utf-8")
        result = RUNNER.invoke(app, ["repay", str(file), "--db", db, "--workers", workers])
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout.replace(str(file), "FILE"))
    assert outputs[0] == outputs[1] and "applied 2" in outputs[0]


def test_the_facade_codes_keep_their_numbers() -> None:
    assert {c.name: int(c) for c in RejectionCode if 700 <= c < 800} == {
        "APPLICATION_NOT_IN_REVIEW": 700,
        "CREDIT_NOT_APPROVED": 701,
        "ORDER_NOT_HELD": 702,
        "LOAN_UNKNOWN": 703,
        "PAYMENT_ID_TAKEN": 704,
    }
