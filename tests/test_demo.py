"""``loancore demo``'s portfolio: the same seed gives the same book, and the book is sound (the
trial balance balances, every loan and quota line reconciles with the ledger, each merchant's
payable agrees between the settlement store and the ledger)."""

from __future__ import annotations

import functools
from pathlib import Path

import attrs
import pytest

from loancore.adapters.process_batch import ProcessBatch
from loancore.app import Lender
from loancore.demo import DemoConfig, DemoResult, open_demo_engine, reopen_demo_engine, simulate
from loancore.errors import InvalidInput
from loancore.reports import written_off_register
from loancore.services import payable_matches_ledger, reconcile
from loancore.services.end_of_day import SUMMARY_KEY_PREFIX
from loancore.servicing import LoanStatus

SMALL = DemoConfig(customers=40, merchants=4, months=5, seed=11)


def run(tmp_path: Path, name: str, config: DemoConfig = SMALL) -> tuple[Lender, DemoResult]:
    return simulate(open_demo_engine(tmp_path / name), config)


def test_the_same_seed_gives_the_same_book_and_it_balances_and_reconciles(tmp_path: Path) -> None:
    first, result = run(tmp_path, "one.sqlite")
    second, again = run(tmp_path, "two.sqlite")
    try:
        assert result == again
        assert result.orders > 20 and result.payments > 20
        end = result.end
        trial = first.trial_balance(end)
        assert trial == second.trial_balance(end) and trial.is_balanced()
        assert [loan.loan_id for loan in first.loans()] == [loan.loan_id for loan in second.loans()]
        reconciliation = first.reconcile()
        assert reconciliation.clean, reconciliation.problems()
        merchants = sorted({dict(loan.dimensions)["merchant"] for loan in first.loans()})
        assert payable_matches_ledger(first.uow, merchants, as_of=end) == ()
    finally:
        first.close()
        second.close()


def test_another_seed_gives_another_book(tmp_path: Path) -> None:
    first, result = run(tmp_path, "one.sqlite")
    other, different = run(
        tmp_path, "two.sqlite", DemoConfig(customers=40, merchants=4, months=5, seed=12)
    )
    try:
        assert first.trial_balance(result.end) != other.trial_balance(different.end)
    finally:
        first.close()
        other.close()


@pytest.mark.parametrize(
    ("field", "value"), [("customers", 0), ("months", 21), ("merchants", 1000), ("seed", -1)]
)
def test_out_of_range_settings_are_refused_naming_the_field(field: str, value: int) -> None:
    with pytest.raises(InvalidInput, match=field):
        settings: dict[str, object] = {field: value}
        DemoConfig(**settings)  # type: ignore[arg-type]  # a wrong value on purpose


LONG = DemoConfig(customers=150, merchants=4, months=14, seed=7)
"""Long enough for defaulted loans to pass 180 days overdue and leave the books."""


def test_defaulted_loans_are_written_off_or_sold_and_the_books_still_reconcile(
    tmp_path: Path,
) -> None:
    lender, result = run(tmp_path, "long.sqlite", LONG)
    try:
        assert result.written_off > 0 and result.sold > 0
        loans = lender.loans()
        gone = [loan for loan in loans if loan.status in (LoanStatus.WRITTEN_OFF, LoanStatus.SOLD)]
        assert len(gone) == result.written_off + result.sold
        assert all(loan.principal_written_off() > 0 for loan in gone)
        trial = lender.trial_balance(result.end)
        assert trial.is_balanced()
        reconciliation = reconcile(lender.uow)
        assert reconciliation.clean, reconciliation.problems()
        register = written_off_register(loans, lender.written_off_memos())
        assert register.written_off_loans == result.written_off
        assert register.register_booked_minor >= register.written_off_principal_minor
        assert (register.register_recovered_minor > 0) == (result.recovered > 0)
        standings = lender.standings([loan.loan_id for loan in gone])
        assert all(standings[loan.loan_id].allowance == (0, 0, 0) for loan in gone)
    finally:
        lender.close()


def _loan_figures(lender: Lender) -> list[tuple[object, ...]]:
    """Every loan's status and each installment's parts (booked, paid, written off), without the
    document version, which counts writes and so depends on how often the batch ran."""
    return [
        (
            loan.loan_id,
            loan.status,
            tuple(
                (
                    inst.number,
                    inst.interest_accrued,
                    inst.principal,
                    inst.interest,
                    inst.fee,
                    inst.penalty,
                    inst.compound,
                )
                for inst in loan.installments
            ),
        )
        for loan in lender.loans()
    ]


def _standing_figures(lender: Lender) -> list[tuple[object, ...]]:
    ids = [loan.loan_id for loan in lender.loans()]
    standings = lender.standings(ids)
    return [
        (i, s.closed_through, s.dpd, s.interest_suspended, s.allowance, s.history)
        for i, s in sorted(standings.items())
    ]


@pytest.mark.parametrize("cadence", ["week", "month"])
def test_closing_at_a_cadence_gives_the_same_book_as_closing_every_day(
    tmp_path: Path, cadence: str
) -> None:
    """The end-of-day batch run every day, or every Sunday / month end with the events closing
    their loans' days in between (inline catch-up) and the batch closing the rest in memory:
    the same trial balance, the same loans to the fen, the same standings (DPD, classification
    history, allowance per stage). SMALL's borrowers never hit a line frozen on a day one
    cadence has closed and the other not (CADENCES), so the events are the same too."""
    daily, result = run(tmp_path, "day.sqlite", attrs.evolve(SMALL, close_every="day"))
    other, again = run(tmp_path, f"{cadence}.sqlite", attrs.evolve(SMALL, close_every=cadence))
    try:
        assert result == again
        end = result.end
        trial = daily.trial_balance(end)
        assert trial.is_balanced() and trial == other.trial_balance(end)
        assert _loan_figures(daily) == _loan_figures(other)
        assert _standing_figures(daily) == _standing_figures(other)
        assert other.reconcile().clean
    finally:
        daily.close()
        other.close()


def test_an_unknown_cadence_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="close_every"):
        DemoConfig(close_every="fortnight")


def _posted(lender: Lender) -> tuple[list[object], dict[tuple[object, ...], object]]:
    """The loan-level entries, and what the summary entries posted: each day's amount by
    subject, side and dimensions (a summary entry sums one chunk's loans, so how many there are
    depends on the chunks; what they post does not)."""
    with lender.uow:
        entries = sorted(lender.uow.ledger.entries(), key=lambda entry: entry.entry_id)
    summed: dict[tuple[object, ...], object] = {}
    for entry in entries:
        if entry.entry_id.startswith(SUMMARY_KEY_PREFIX):
            for leg in entry.legs:
                key = (entry.accounting_date, leg.subject_code, leg.side, leg.dimensions)
                summed[key] = summed[key] + leg.amount if key in summed else leg.amount
    loan_level = [e for e in entries if not e.entry_id.startswith(SUMMARY_KEY_PREFIX)]
    return loan_level, summed


def test_worker_processes_close_the_days_into_the_same_book(tmp_path: Path) -> None:
    """The demo's days closed by two worker processes (ProcessBatch, as ``loancore demo``
    does on a machine of two cores or more): the book of the days closed in this process, entry
    for entry at loan level, to the fen by day, subject and product in the summary entries."""
    alone, result = run(tmp_path, "alone.sqlite")
    path = tmp_path / "workers.sqlite"
    with ProcessBatch(functools.partial(reopen_demo_engine, path), workers=2) as processes:
        workers, again = simulate(open_demo_engine(path), SMALL, processes=processes)
    try:
        assert result == again
        loan_level, summed = _posted(workers)
        assert summed and (loan_level, summed) == _posted(alone)
        assert workers.trial_balance(result.end) == alone.trial_balance(result.end)
        assert _loan_figures(workers) == _loan_figures(alone)
        assert _standing_figures(workers) == _standing_figures(alone)
        assert workers.reconcile().clean
    finally:
        alone.close()
        workers.close()
