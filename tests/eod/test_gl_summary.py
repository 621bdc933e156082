"""GL granularity per product: the same book closed under ``gl_granularity = "loan"`` and
``"summary"`` moves every subject by exactly the same amounts, with far fewer entries; both
reconcile (a summary product by product), a rerun of a day posts nothing, and a batch stopped
half-way and run again with other chunk boundaries posts each loan-day once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from eod_kit import (
    LATER,
    START,
    STORY_PRODUCT_TOML,
    book,
    cny,
    days,
    entries_of,
    make_engine,
    memos_of,
)

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import IdempotencyConflict
from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import ChunkProgress, apply_event, close_business_day, reconcile
from loancore.services.end_of_day import SUMMARY_KEY_PREFIX
from loancore.servicing import GlGranularity, ProductConfigError, Repay, product_from_toml
from loancore.testing.servicing import CLINIC_PRODUCT_TOML
from store_kit import dispose

PRODUCTS = ("story@1", "clinic-12@1")
LOANS = 12
LAST = START + timedelta(days=130)  # past 90 days late: non-accrual, stage 3, late fees


def with_granularity(toml_text: str, granularity: str) -> str:
    """The product TOML with ``gl_granularity`` set (a top-level key, before the tables)."""
    head, sep, tail = toml_text.partition('currency = "CNY"\n')
    assert sep, "the product TOML names its currency"
    return f'{head}{sep}gl_granularity = "{granularity}"\n{tail}'


def set_up(uow: UnitOfWork, granularity: str, clinic: str | None = None) -> None:
    """Both products with ``granularity``, or clinic-12 with ``clinic`` when given."""
    with uow:
        uow.loans.save_product(with_granularity(CLINIC_PRODUCT_TOML, clinic or granularity))
        uow.loans.save_product(with_granularity(STORY_PRODUCT_TOML, granularity))
        for n in (1, 2):
            grant = Grant(
                key=f"grant-LINE{n}",
                line_id=f"LINE{n}",
                borrower_id=f"C{n}",
                limit=cny("200000.00"),
                starts_on=date(2025, 1, 1),
                expires_on=LATER,
            )
            uow.quota.apply(grant, as_of=START)
        uow.ledger.save_chart(default_chart())
        uow.commit()


def book_loans(uow: UnitOfWork) -> None:
    for n in range(LOANS):
        product = "story" if n % 2 else "clinic-12"
        book(uow, f"L{n:03d}", principal=f"{6000 + 500 * n}.00", product=product, line=1 + n % 2)


def repayments(day: date) -> list[tuple[str, Repay]]:
    """Every third loan pays 1,000.00 on the 15th of each month (current or nearly so); the
    others never pay and go 90 days late. One payment (L003, 2026-03-15) arrives while the batch
    is three days behind for it: the inline catch-up closes those days per loan."""
    if day.day != 15 or day == START:
        return []
    return [
        (f"L{n:03d}", Repay(event_id=f"r{n}-{day:%Y%m%d}", as_of=day, amount=cny("1000.00")))
        for n in range(0, LOANS, 3)
    ]


GAP = (date(2026, 3, 12), date(2026, 3, 16))  # the batch does not run on these days


def run_book(uow: UnitOfWork, last: date = LAST, chunk_size: int = 500) -> None:
    """The business days from START to ``last``: each day's repayments, then its close (none on
    the GAP days: the next close catches every loan up, the repayment of the 15th brings its
    loan up first)."""
    for day in days(START + timedelta(days=1), last):
        for loan_id, event in repayments(day):
            apply_event(uow, loan_id, event)
        if not GAP[0] <= day <= GAP[1]:
            report = close_business_day(uow, day, chunk_size=chunk_size)
            assert not report.failed, report.failed


def trial_lines(uow: UnitOfWork) -> list[tuple[str, str, int, int]]:
    with uow:
        trial = uow.ledger.trial_balance(as_of=LATER)
    return [
        (
            line.subject_code,
            line.currency,
            line.debit_total.minor_units,
            line.credit_total.minor_units,
        )
        for line in trial.lines
    ]


def product_balances(uow: UnitOfWork) -> dict[tuple[str, str], int]:
    codes = [line[0] for line in trial_lines(uow)]
    with uow:
        return {
            (product, code): uow.ledger.balance(
                code, "CNY", as_of=LATER, dimensions={"product": product}
            ).minor_units
            for product in PRODUCTS
            for code in codes
        }


def loans_and_standings(uow: UnitOfWork) -> tuple[Any, Any]:
    with uow:
        ids = list(uow.loans.loan_ids(limit=1000))
        return uow.loans.load_many(ids), uow.loans.load_standings(ids)


Make = Callable[..., UnitOfWork]


@pytest.fixture
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """``make(kind, granularity)``: a book of ``kind`` whose two products have ``granularity``."""
    made: list[UnitOfWork] = []

    def build(kind: str, granularity: str, clinic: str | None = None) -> UnitOfWork:
        uow: UnitOfWork
        if kind == "memory":
            uow = MemoryUnitOfWork()
        else:
            url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
            uow = SqlUnitOfWork(make_engine(kind, tmp_path, url))
        made.append(uow)
        set_up(uow, granularity, clinic)
        book_loans(uow)
        return uow

    yield build
    for uow in made:
        dispose(uow)


def summary_entries(uow: UnitOfWork) -> list[str]:
    return [i for i in entries_of(uow) if i.startswith(f"{SUMMARY_KEY_PREFIX}:")]


def test_summary_book_moves_every_subject_as_the_loan_book_with_far_fewer_entries(
    kind: str, make: Make
) -> None:
    by_loan, summary = make(kind, "loan"), make(kind, "summary")
    for uow in (by_loan, summary):
        run_book(uow)
    assert trial_lines(summary) == trial_lines(by_loan)
    assert product_balances(summary) == product_balances(by_loan)
    assert memos_of(summary) == memos_of(by_loan)  # memo postings stay per loan
    assert memos_of(summary)  # the late loans went non-accrual
    assert loans_and_standings(summary) == loans_and_standings(by_loan)  # the sub-ledger
    entries_by_loan, entries_summary = entries_of(by_loan), entries_of(summary)
    assert summary_entries(summary) and not summary_entries(by_loan)
    assert len(entries_summary) * 3 < len(entries_by_loan)
    for uow in (by_loan, summary):
        result = reconcile(uow)
        assert result.clean, result.problems()
    assert set(reconcile(summary).products) == set(PRODUCTS)
    assert not reconcile(summary).loans and len(reconcile(by_loan).loans) == LOANS
    assert not reconcile(by_loan).products


def test_a_book_mixing_both_granularities_in_one_chunk_moves_and_reconciles_alike(
    make: Make,
) -> None:
    by_loan, mixed = make("sqlite", "loan"), make("sqlite", "summary", clinic="loan")
    for uow in (by_loan, mixed):
        run_book(uow, last=START + timedelta(days=100), chunk_size=7)
    assert trial_lines(mixed) == trial_lines(by_loan)
    assert product_balances(mixed) == product_balances(by_loan)
    result = reconcile(mixed)
    assert result.clean, result.problems()
    assert set(result.products) == {"story@1"}
    assert set(result.loans) == {f"L{n:03d}" for n in range(0, LOANS, 2)}  # clinic-12's
    with mixed:
        summed = {
            leg.dimension("product")
            for entry in mixed.ledger.entries()
            if entry.entry_id.startswith(f"{SUMMARY_KEY_PREFIX}:")
            for leg in entry.legs
        }
    assert summed == {"story@1"}


def test_a_summary_entry_holds_one_product_day_and_kind_with_the_product_dimension_only(
    make: Make,
) -> None:
    uow = make("memory", "summary")
    run_book(uow, last=START + timedelta(days=40))
    with uow:
        found = [e for e in uow.ledger.entries() if e.entry_id.startswith(SUMMARY_KEY_PREFIX)]
    seen: set[tuple[str, date, str]] = set()
    for entry in found:
        _prefix, day, kind, digest = entry.entry_id.split(":")
        assert day == f"{entry.accounting_date:%Y%m%d}" and len(digest) == 40
        assert entry.idempotency_key == entry.entry_id
        (product,) = {leg.dimensions for leg in entry.legs}
        assert product[0][0] == "product" and len(product) == 1
        key = (product[0][1], entry.accounting_date, kind)
        assert key not in seen  # one chunk a day: one entry per product, day and kind
        seen.add(key)
    kinds = {kind for _p, _d, kind in seen}
    assert {"interest.accrued.accrue", "interest.due.due", "provision.charged.stage1"} <= kinds
    with uow:  # loan-level entries outside the batch (repayments) stay per loan
        assert uow.ledger.find_by_key("repayment:r0-20260215") is not None


def test_rerunning_a_closed_day_posts_nothing(kind: str, make: Make) -> None:
    uow = make(kind, "summary")
    last = START + timedelta(days=35)
    run_book(uow, last=last)
    before = (entries_of(uow), memos_of(uow))
    report = close_business_day(uow, last)
    assert (report.loans_closed, report.entries, report.memo_postings) == (0, 0, 0)
    assert (entries_of(uow), memos_of(uow)) == before


def test_a_batch_stopped_after_a_chunk_and_rerun_in_other_chunks_posts_each_day_once(
    make: Make,
) -> None:
    whole, broken = make("memory", "summary"), make("memory", "summary")
    day = START + timedelta(days=45)  # every loan caught up 45 days in one go
    close_business_day(whole, day, chunk_size=5)

    class Stop(Exception):
        pass

    def stop_after_first(done: ChunkProgress) -> None:
        raise Stop(done.chunk)

    with pytest.raises(Stop):
        close_business_day(broken, day, chunk_size=5, progress=stop_after_first)
    report = close_business_day(broken, day, chunk_size=3)  # other boundaries
    assert report.loans_closed == LOANS - 5 and not report.failed
    assert trial_lines(broken) == trial_lines(whole)
    assert product_balances(broken) == product_balances(whole)
    assert loans_and_standings(broken) == loans_and_standings(whole)
    assert reconcile(broken).clean, reconcile(broken).problems()


_CHILD = """
import sys
from datetime import date
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.services import close_business_day

uow = SqlUnitOfWork(create_engine(sys.argv[1]))
report = close_business_day(
    uow,
    date.fromisoformat(sys.argv[2]),
    chunk_size=int(sys.argv[3]),
    progress=lambda done: print("chunk", done.chunk, flush=True),
)
print("done", report.loans_closed, len(report.failed), flush=True)
"""


def _close_in_child(path: Path, day: date, chunk_size: int, kill_after: int | None) -> str:
    args = [sys.executable, "-c", _CHILD, str(path), day.isoformat(), str(chunk_size)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    last = ""
    for line in child.stdout:  # bounded: one line a chunk
        last = line.strip()
        if kill_after is not None and last == f"chunk {kill_after}":
            child.kill()  # SIGKILL, inside the next chunk's unit of work
            break
    child.wait(timeout=120)
    return last


def test_a_summary_batch_killed_half_way_and_rerun_moves_the_ledger_as_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    paths = tmp_path / "whole.sqlite", tmp_path / "broken.sqlite"
    for path in paths:
        uow = SqlUnitOfWork(create_engine(path))
        set_up(uow, "summary")
        book_loans(uow)
        dispose(uow)
    day = START + timedelta(days=41)
    assert _close_in_child(paths[0], day, 2, None) == f"done {LOANS} 0"
    assert _close_in_child(paths[1], day, 2, kill_after=2) == "chunk 2"
    last = _close_in_child(paths[1], day, 3, None)  # the rerun draws other chunks
    closed = int(last.split()[1])
    assert last == f"done {closed} 0" and 0 < closed <= LOANS - 4
    whole, broken = (SqlUnitOfWork(create_engine(path)) for path in paths)
    assert trial_lines(broken) == trial_lines(whole)
    assert product_balances(broken) == product_balances(whole)
    assert loans_and_standings(broken) == loans_and_standings(whole)
    assert memos_of(broken) == memos_of(whole)
    assert reconcile(broken).clean, reconcile(broken).problems()
    for uow in (whole, broken):
        dispose(uow)


def test_reconcile_of_a_summary_product_finds_a_stray_amount_on_the_product(
    make: Make,
) -> None:
    uow = make("memory", "summary")
    run_book(uow, last=START + timedelta(days=20))
    assert reconcile(uow, "L001").clean
    with uow:
        accrual = next(
            e
            for e in uow.ledger.entries()
            if e.entry_id.startswith(f"{SUMMARY_KEY_PREFIX}:") and "accrue" in e.entry_id
        )
        product = accrual.legs[0].dimension("product")
        stray = JournalEntry(
            entry_id="stray",
            idempotency_key="stray",
            accounting_date=accrual.accounting_date,
            legs=tuple(
                Leg(leg.subject_code, leg.side, cny("0.01"), leg.dimensions) for leg in accrual.legs
            ),
        )
        uow.ledger.post([stray])
        uow.commit()
    whole = reconcile(uow)
    assert not whole.clean
    assert any(p.startswith(f"product {product}: ") for p in whole.problems())
    one = reconcile(uow, "L001" if product == "story@1" else "L000")
    assert not one.clean and set(one.products) == {product} and not one.loans


def test_gl_granularity_is_read_from_the_product_toml_and_kept_in_its_version() -> None:
    assert product_from_toml(STORY_PRODUCT_TOML).gl_granularity is GlGranularity.LOAN
    summary = product_from_toml(with_granularity(STORY_PRODUCT_TOML, "summary"))
    assert summary.gl_granularity is GlGranularity.SUMMARY
    with pytest.raises(ProductConfigError) as refused:
        product_from_toml(with_granularity(STORY_PRODUCT_TOML, "daily"))
    assert refused.value.field == "gl_granularity"
    uow = MemoryUnitOfWork()
    with uow:
        uow.loans.save_product(STORY_PRODUCT_TOML)
        with pytest.raises(IdempotencyConflict):  # a version is immutable: a new one is needed
            uow.loans.save_product(with_granularity(STORY_PRODUCT_TOML, "summary"))
        bumped = with_granularity(STORY_PRODUCT_TOML, "summary").replace(
            "version = 1", "version = 2"
        )
        assert uow.loans.save_product(bumped).gl_granularity is GlGranularity.SUMMARY
