"""``reconcile`` reads what it needs: one loan's check reads the loans of its line's borrower,
not the book; the whole book is walked a chunk of loans at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest
from loans_kit import DAY, LATER, cny

from loancore.adapters.memory.loans import MemoryLoanStore
from loancore.adapters.sql.loans import SqlLoanStore
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import apply_event, book_order, reconcile
from loancore.services import servicing as services
from loancore.servicing import Repay

STORES = {"memory": MemoryLoanStore, "sqlite": SqlLoanStore}


def _grant(uow: UnitOfWork, line_id: str, borrower_id: str) -> None:
    with uow:
        grant = Grant(
            key=f"grant-{line_id}",
            line_id=line_id,
            borrower_id=borrower_id,
            limit=cny("50000.00"),
            starts_on=date(2025, 1, 1),
            expires_on=LATER,
        )
        uow.quota.apply(grant, as_of=DAY)
        uow.commit()


def _book(uow: UnitOfWork, loan_id: str, customer_id: str, line_id: str) -> None:
    book_order(
        uow,
        order_id=f"order-{loan_id}",
        loan_id=loan_id,
        customer_id=customer_id,
        line_id=line_id,
        product_id="clinic-12",
        product_version=1,
        principal=cny("1200.00"),
        installments=12,
        start_date=DAY,
        merchant_id="M1",
    )


def _spy(monkeypatch: pytest.MonkeyPatch, store: type) -> list[tuple[str, ...]]:
    """Every loan id the store's ``load`` / ``load_many`` is asked for, one tuple per call."""
    reads: list[tuple[str, ...]] = []
    load, load_many = store.load, store.load_many

    def spied_load(self: Any, loan_id: str) -> Any:
        reads.append((loan_id,))
        return load(self, loan_id)

    def spied_load_many(self: Any, loan_ids: Sequence[str]) -> Any:
        reads.append(tuple(loan_ids))
        return load_many(self, loan_ids)

    monkeypatch.setattr(store, "load", spied_load)
    monkeypatch.setattr(store, "load_many", spied_load_many)
    return reads


@pytest.mark.parametrize("kind", list(STORES))
def test_one_loan_reconciles_against_its_borrowers_loans_only(
    kind: str, make: Callable[..., UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = make(kind)
    _grant(uow, "LINE-2", "C2")
    for n in range(4):
        _book(uow, f"A{n}", "C1", "LINE")
        _book(uow, f"B{n}", "C2", "LINE-2")
    apply_event(uow, "A1", Repay(event_id="r", as_of=date(2026, 2, 15), amount=cny("100.00")))
    reads = _spy(monkeypatch, STORES[kind])
    result = reconcile(uow, "A1")
    assert result.clean, result.problems()
    assert list(result.loans) == ["A1"]
    (line,) = result.lines
    assert (
        line.line_id == "LINE" and line.used_minor == 4 * 120_000 - 8_200
    )  # 100.00 less its interest
    read = {loan_id for call in reads for loan_id in call}
    assert read == {"A0", "A1", "A2", "A3"}  # never the other borrower's loans


@pytest.mark.parametrize("kind", list(STORES))
def test_whole_book_is_reconciled_a_chunk_of_loans_at_a_time(
    kind: str, make: Callable[..., UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = make(kind)
    _grant(uow, "LINE-2", "C2")
    for n in range(5):
        _book(uow, f"A{n}", "C1", "LINE")
        _book(uow, f"B{n}", "C2", "LINE-2")
    monkeypatch.setattr(services, "_LOANS_BATCH", 3)
    reads = _spy(monkeypatch, STORES[kind])
    result = reconcile(uow)
    assert result.clean, result.problems()
    assert len(result.loans) == 10 and [c.line_id for c in result.lines] == ["LINE", "LINE-2"]
    assert max(len(call) for call in reads) == 3  # never more loans than a chunk at once
    assert sorted(loan_id for call in reads for loan_id in call) == sorted(result.loans)
