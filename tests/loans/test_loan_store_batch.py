"""A batch's loans read and written at once (``load_many`` / ``update_many``) on every store:
they come back as ``load`` gives them, the write is all or nothing, a stale or missing loan is
refused naming the first one, and ``apply_batch`` over them reruns on a concurrent update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import attrs
import pytest
from loans_kit import assert_clean, cny, state
from test_story import book

from loancore.adapters.memory.loans import LOANS_BATCH_MAX
from loancore.errors import ConcurrentUpdate, InvalidInput, NotFound
from loancore.ports import UnitOfWork
from loancore.services import BatchResult, apply_batch
from loancore.servicing import Loan, Repay

DUE = date(2026, 2, 15)


def _loans(uow: UnitOfWork, count: int) -> list[Loan]:
    booked = book(uow, "L0").loan
    with uow:
        for n in range(1, count):
            uow.loans.add(attrs.evolve(booked, loan_id=f"L{n}"), customer_id="C1")
        uow.commit()
    return [attrs.evolve(booked, loan_id=f"L{n}") for n in range(count)]


def test_load_many_gives_what_load_gives_and_refuses_a_missing_loan(uow: UnitOfWork) -> None:
    loans = _loans(uow, 3)
    with uow:
        found = uow.loans.load_many(["L2", "L0", "L2"])
        assert found == {"L2": uow.loans.load("L2"), "L0": uow.loans.load("L0")}
        assert found["L2"] == loans[2]
        assert uow.loans.load_many([]) == {}
        with pytest.raises(NotFound, match="L9"):
            uow.loans.load_many(["L1", "L9", "L8"])
        with pytest.raises(InvalidInput, match="loan_ids"):
            uow.loans.load_many("L1")
        with pytest.raises(InvalidInput, match="loan_ids"):
            uow.loans.load_many(["L1"] * (LOANS_BATCH_MAX + 1))


def test_load_many_reads_more_loans_than_one_select_binds(uow: UnitOfWork) -> None:
    loans = _loans(uow, 501)  # the SQL store binds at most 500 ids a SELECT
    with uow:
        found = uow.loans.load_many([loan.loan_id for loan in reversed(loans)])
    assert found == {loan.loan_id: loan for loan in loans}


def test_versions_gives_each_stored_version_without_the_loans(uow: UnitOfWork) -> None:
    loans = _loans(uow, 502)  # more ids than one SELECT binds on SQL
    newer = attrs.evolve(loans[1], version=loans[1].version + 1, credit=7)
    with uow:
        uow.loans.update(newer, expected_version=loans[1].version)
        uow.commit()
    with uow:
        found = uow.loans.versions([loan.loan_id for loan in reversed(loans)] + ["L1"])
        assert found == {loan.loan_id: loan.version + (loan.loan_id == "L1") for loan in loans}
        assert uow.loans.versions([]) == {}
        with pytest.raises(NotFound, match="L999"):
            uow.loans.versions(["L1", "L999"])
        with pytest.raises(InvalidInput, match="loan_ids"):
            uow.loans.versions("L1")


def test_update_many_writes_every_loan_or_none(uow: UnitOfWork) -> None:
    loans = _loans(uow, 3)
    newer = [attrs.evolve(loan, version=loan.version + 1, credit=7) for loan in loans]
    with uow:
        uow.loans.update_many([(newer[0], loans[0].version), (newer[2], loans[2].version)])
        uow.loans.update_many([])
        uow.commit()
    with uow:
        assert uow.loans.load_many(["L0", "L1", "L2"]) == {
            "L0": newer[0],
            "L1": loans[1],
            "L2": newer[2],
        }
    before = state(uow)
    with uow:  # L2 is no longer at the version this writer loaded: nothing is written
        with pytest.raises(ConcurrentUpdate, match="L2"):
            uow.loans.update_many(
                [
                    (attrs.evolve(newer[1], credit=9), loans[1].version),
                    (attrs.evolve(newer[2], credit=9), loans[2].version),
                ]
            )
        assert uow.loans.load("L1") == loans[1]
        with pytest.raises(NotFound, match="L9"):
            uow.loans.update_many(
                [(newer[1], loans[1].version), (attrs.evolve(loans[0], loan_id="L9"), 0)]
            )
        assert uow.loans.load("L1") == loans[1]
        uow.commit()
    assert state(uow) == before


def test_update_many_refuses_a_loan_given_twice_or_too_many(uow: UnitOfWork) -> None:
    loans = _loans(uow, 1)
    with uow:
        with pytest.raises(InvalidInput, match="twice"):
            uow.loans.update_many([(loans[0], 0), (loans[0], 0)])
        with pytest.raises(InvalidInput, match="updates"):
            uow.loans.update_many([(loans[0], 0)] * (LOANS_BATCH_MAX + 1))
        with pytest.raises(InvalidInput, match="expected_version"):
            uow.loans.update_many([(loans[0], "0")])  # type: ignore[list-item]


@pytest.mark.postgres
def test_concurrent_batches_over_the_same_loans_apply_every_event_once(
    make: Callable[..., UnitOfWork],
) -> None:
    uow = make("postgres", pool_size=4)
    for n in range(3):
        book(uow, f"L{n}", principal="1000.00")
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(thread: int) -> None:
        items = [
            (f"L{n}", Repay(event_id=f"t{thread}-{n}", as_of=DUE, amount=cny("10.00")))
            for n in range(3)
        ]
        barrier.wait()
        try:
            results[thread] = apply_batch(uow, items, attempts_max=10)
        except ConcurrentUpdate as conflict:  # pragma: no cover - reported by the assert below
            results[thread] = conflict

    threads = [threading.Thread(target=run, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, BatchResult) and len(r.applied) == 3 for r in results), results
    with uow:
        loans = uow.loans.load_many(["L0", "L1", "L2"])
    for loan in loans.values():
        assert sorted(t.event_id for t in loan.history if t.event_id.startswith("t")) == [
            f"t0-{loan.loan_id[1:]}",
            f"t1-{loan.loan_id[1:]}",
        ]
    assert_clean(uow)
