"""Two threads applying events to the same loan on PostgreSQL: each event is applied exactly
once, in some order, or refused as a conflict to retry; never lost, never applied twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from loans_kit import assert_clean, cny
from test_story import book

from loancore.errors import ConcurrentUpdate
from loancore.ports import UnitOfWork
from loancore.services import apply_event
from loancore.servicing import Repay

pytestmark = pytest.mark.postgres

ROUNDS = 6


def _race(uow: UnitOfWork, events: list[Repay], attempts_max: int) -> list[object]:
    barrier = threading.Barrier(len(events))
    results: list[object] = [None] * len(events)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = apply_event(uow, "L1", events[index], attempts_max=attempts_max)
        except ConcurrentUpdate as conflict:
            results[index] = conflict

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_events_are_applied_once_or_refused_to_retry(
    make: Callable[..., UnitOfWork],
) -> None:
    uow = make("postgres", pool_size=4)
    book(uow)
    day = date(2026, 2, 15)
    conflicts = 0
    for round_ in range(ROUNDS):
        events = [
            Repay(event_id=f"r{round_}-{t}", as_of=day, amount=cny("10.00")) for t in range(2)
        ]
        results = _race(uow, events, attempts_max=1)
        refused = [
            e for e, r in zip(events, results, strict=True) if isinstance(r, ConcurrentUpdate)
        ]
        conflicts += len(refused)
        assert len(refused) < len(events)  # one of them always gets through
        for event in refused:  # the caller retries a conflict
            apply_event(uow, "L1", event)
        assert_clean(uow, "L1")
    with uow:
        loan = uow.loans.load("L1")
    paid = [t.event_id for t in loan.history if t.event_id.startswith("r")]
    assert sorted(paid) == sorted(f"r{r}-{t}" for r in range(ROUNDS) for t in range(2))
    assert loan.version == 2 + 2 * ROUNDS  # booked, disbursed, then one version per event
    print(f"conflicts seen: {conflicts}")


def test_retries_apply_every_concurrent_event(make: Callable[..., UnitOfWork]) -> None:
    uow = make("postgres", pool_size=4)
    book(uow)
    events = [
        Repay(event_id=f"p{t}", as_of=date(2026, 2, 15), amount=cny("5.00")) for t in range(4)
    ]
    results = _race(uow, events, attempts_max=10)
    assert not any(isinstance(r, ConcurrentUpdate) for r in results)
    with uow:
        loan = uow.loans.load("L1")
    assert {f"p{t}" for t in range(4)} <= {t.event_id for t in loan.history}
    assert_clean(uow)
