"""A bank's auto-debit result file through ``Lender.import_repayments`` against the same payments
through ``Lender.repay_many`` (the cost of the file: parsing, the loan-id look-up, the tally).

    repayment_file_import_per_s        a CSV of PAYMENTS rows (installments 1..2 of LOANS
                                       (3,000; ``LOANCORE_BENCH_REPAYMENT_FILE_LOANS``)
                                       12-installment loans, on their due dates) imported from
                                       its text, 1,000 a unit of work, on a SQLite file
    repayment_file_repay_many_per_s    the same payments, already Payment values, through
                                       ``repay_many`` 1,000 a call on an identical book
    repayment_file_vs_repay_many_ratio import time / repay_many time (same run)
    repayment_file_parse_per_s         rows parsed a second (``parse_repayment_file`` alone)

Run alone with ``python bench/bench_repayment_file.py``; no test asserts these figures.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from pathlib import Path

from book_kit import book_many, open_book

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.app import Lender, Payment, parse_repayment_file
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

LOANS = int(os.environ.get("LOANCORE_BENCH_REPAYMENT_FILE_LOANS", "3000"))
PAYMENTS = LOANS * 2
CHUNK = 1_000
LINES = 60  # 50 loans of 3,000.00 a 200,000.00 line
START = datetime.date(2026, 1, 15)


def _book(path: Path) -> Lender:
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    open_book(uow, CLINIC_PRODUCT_TOML, LINES, START)
    book_many(uow, [f"L{n:06d}" for n in range(LOANS)], lines=LINES, start=START, chunk=CHUNK)
    return Lender.open(engine)


def _file_texts(lender: Lender) -> list[str]:
    """One file a due date: installment k of every loan, paid in full on its due date."""
    loan = lender.loan("L000000")
    texts = []
    for inst in loan.installments[:2]:
        amount = loan.money(inst.outstanding()).amount
        rows = (f"L{n:06d},p{inst.number}-{n},{inst.due_date},{amount}\n" for n in range(LOANS))
        texts.append("loan_id,payment_id,paid_on,amount\n" + "".join(rows))
    return texts


def _repay_many(lender: Lender, payments: tuple[Payment, ...]) -> float:
    started = time.perf_counter()
    applied = sum(
        len(lender.repay_many(payments[i : i + CHUNK]).applied)
        for i in range(0, len(payments), CHUNK)
    )
    assert applied == len(payments), applied
    return time.perf_counter() - started


def _import(lender: Lender, text: str) -> float:
    started = time.perf_counter()
    result = lender.import_repayments(text, chunk_size=CHUNK)
    assert len(result.applied) == LOANS, result.summary()
    return time.perf_counter() - started


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        direct, imported = _book(Path(directory) / "a.sqlite"), _book(Path(directory) / "b.sqlite")
        direct_s = import_s = parse_s = 0.0
        for k, text in enumerate(_file_texts(direct)):  # the first file direct first, then not
            started = time.perf_counter()
            payments = parse_repayment_file(text).payments
            parse_s += time.perf_counter() - started
            if k == 0:
                direct_s += _repay_many(direct, payments)
                import_s += _import(imported, text)
            else:
                import_s += _import(imported, text)
                direct_s += _repay_many(direct, payments)
        day = datetime.date(2027, 1, 1)
        assert imported.trial_balance(day) == direct.trial_balance(day)
        direct.close()
        imported.close()
    return {
        "repayment_file_import_per_s": PAYMENTS / import_s,
        "repayment_file_repay_many_per_s": PAYMENTS / direct_s,
        "repayment_file_vs_repay_many_ratio": import_s / direct_s,
        "repayment_file_parse_per_s": PAYMENTS / parse_s,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:40} {value:12.3f}")
