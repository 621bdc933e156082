"""Two threads applying events to one credit line on PostgreSQL: each event is applied exactly
once, in some order, or refused as a conflict to retry; never lost, never applied twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from lines_kit import assert_clean, cny, open_a1

from loancore.errors import ConcurrentUpdate
from loancore.ports import UnitOfWork
from loancore.services import apply_line_event
from loancore.servicing import Draw, Repay, ServicingEvent

pytestmark = pytest.mark.postgres

ROUNDS = 6


def _race(uow: UnitOfWork, events: list[ServicingEvent], attempts_max: int) -> list[object]:
    barrier = threading.Barrier(len(events))
    results: list[object] = [None] * len(events)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = apply_line_event(uow, "A1", events[index], attempts_max=attempts_max)
        except ConcurrentUpdate as conflict:
            results[index] = conflict

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _set_up(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d-open", as_of=date(2026, 3, 2), amount=cny("5000")))


def test_two_events_at_once_are_both_applied_or_one_refused_to_retry(
    make: Callable[..., UnitOfWork],
) -> None:
    uow = make("postgres", pool_size=4)
    _set_up(uow)
    day = date(2026, 3, 5)
    conflicts = 0
    for round_ in range(ROUNDS):
        events: list[ServicingEvent] = [
            Draw(event_id=f"d{round_}", as_of=day, amount=cny("10.00")),
            Repay(event_id=f"r{round_}", as_of=day, amount=cny("7.00")),
        ]
        results = _race(uow, events, attempts_max=1)
        refused = [
            e for e, r in zip(events, results, strict=True) if isinstance(r, ConcurrentUpdate)
        ]
        conflicts += len(refused)
        assert len(refused) < len(events)  # one of them always gets through
        for event in refused:  # the caller retries a conflict
            apply_line_event(uow, "A1", event)
        assert_clean(uow, "A1")
    with uow:
        stored = uow.loans.load_line("A1")
        recorded = [
            uow.loans.line_record("A1", e) for r in range(ROUNDS) for e in (f"d{r}", f"r{r}")
        ]
    assert all(record is not None for record in recorded)
    assert stored.version == 2 + 2 * ROUNDS  # opened, d-open, then one version per event
    assert stored.account.principal_drawn == 500_000 + ROUNDS * 1_000
    print(f"conflicts seen: {conflicts}")


def test_retries_apply_every_concurrent_event(make: Callable[..., UnitOfWork]) -> None:
    uow = make("postgres", pool_size=4)
    _set_up(uow)
    events: list[ServicingEvent] = [
        Repay(event_id=f"p{t}", as_of=date(2026, 3, 6), amount=cny("5.00")) for t in range(4)
    ]
    results = _race(uow, events, attempts_max=10)
    assert not any(isinstance(r, ConcurrentUpdate) for r in results)
    with uow:
        stored = uow.loans.load_line("A1")
        assert all(uow.loans.line_record("A1", f"p{t}") is not None for t in range(4))
    assert stored.version == 2 + 4
    assert_clean(uow)
