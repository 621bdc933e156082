"""Real concurrent writers on PostgreSQL: nothing lost, nothing doubled, the books stay balanced.

Each thread posts through its own pooled connection of one engine, so the database (the ledger's
advisory lock, shared by posts and exclusive for a close; the UNIQUE constraints), not Python, is
what keeps the writers apart. Threads start together behind a barrier. Writers that must not
wait for each other are tested in test_postgres_parallel_writers.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import attrs
import pytest
from sql_stores import loan_entry, make_sql_ledger_store, small_chart

from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.errors import IdempotencyConflict, PostingRejected, RejectionCode
from loancore.ledger import JournalEntry

pytestmark = pytest.mark.postgres

THREADS = 8
JOIN_TIMEOUT_S = 60


@pytest.fixture
def store(postgres_url: str, tmp_path: Path):
    store = make_sql_ledger_store("postgres", tmp_path, postgres_url)
    store.save_chart(small_chart())
    yield store
    store.bind.dispose()


def run_together(
    work: Callable[[int], object], count: int = THREADS
) -> tuple[list[object], list[BaseException]]:
    """Run ``work(i)`` for i in range(count) on real threads released at once; results and errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
        assert not thread.is_alive(), "a writer hung"
    return results, errors


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(store: SqlLedgerStore) -> None:
    batches_per_thread, batch_size = 6, 40

    def work(i: int) -> int:
        for b in range(batches_per_thread):
            first = (i * batches_per_thread + b) * batch_size
            store.post([loan_entry(n, minor=100 + n) for n in range(first, first + batch_size)])
        return i

    _, errors = run_together(work)
    assert errors == []
    total = THREADS * batches_per_thread * batch_size
    booked = list(store.entries())
    assert len(booked) == total
    assert sorted(int(e.entry_id[1:]) for e in booked) == list(range(total))
    as_of = date(2026, 12, 31)
    assert store.balance("1303", "CNY", as_of=as_of).minor_units == sum(
        100 + n for n in range(total)
    )
    trial = store.trial_balance(as_of=as_of)
    assert trial.is_balanced()


def test_the_same_keys_raced_from_several_connections_book_once(store: SqlLedgerStore) -> None:
    def work(i: int) -> tuple[JournalEntry, ...]:
        # Every thread sends the same 30 requests, each under its own entry ids (a client retry
        # may mint a new id): whoever wins books them, the others get the winner's entries back.
        requests = [loan_entry(n, key=f"order-{n}") for n in range(30)]
        retried = [attrs.evolve(e, entry_id=f"t{i}-{e.entry_id}") for e in requests]
        return store.post(retried)

    results, errors = run_together(work)
    assert errors == []
    booked = list(store.entries())
    assert len(booked) == 30
    assert all(result == results[0] for result in results)
    assert tuple(booked) == results[0]
    assert store.trial_balance(as_of=date(2026, 12, 31)).is_balanced()


def test_the_same_key_with_different_content_raced_books_exactly_one(store: SqlLedgerStore) -> None:
    def work(i: int) -> tuple[JournalEntry, ...]:
        return store.post([loan_entry(100 + i, minor=1_000 + i, key="one-order")])

    results, errors = run_together(work)
    booked = list(store.entries())
    assert len(booked) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, IdempotencyConflict) for error in errors)
    assert [r for r in results if r is not None] == [(booked[0],)]


def test_a_post_in_flight_finishes_before_a_period_close_and_later_posts_are_refused(
    store: SqlLedgerStore,
) -> None:
    closing_day = date(2026, 3, 1)
    events: list[str] = []
    posted = threading.Event()

    def slow_application_transaction() -> None:
        with store.bind.connect() as connection:
            store.using(connection).post([loan_entry(1, day=closing_day)])
            posted.set()
            time.sleep(0.5)  # the application still works inside its transaction
            events.append("app committed")
            connection.commit()

    app = threading.Thread(target=slow_application_transaction)
    app.start()
    assert posted.wait(JOIN_TIMEOUT_S)
    store.close_period(closing_day)  # must wait for the in-flight post's transaction
    events.append("period closed")
    app.join(JOIN_TIMEOUT_S)
    assert events == ["app committed", "period closed"]
    assert store.period_closes() == ((closing_day, 1),)
    with pytest.raises(PostingRejected) as caught:
        store.post([loan_entry(2, day=closing_day)])
    assert caught.value.code is RejectionCode.PERIOD_CLOSED


def test_posts_racing_a_period_close_never_land_in_the_closed_period(store: SqlLedgerStore) -> None:
    closing_day = date(2026, 3, 1)

    def work(i: int) -> int:
        if i == 0:
            time.sleep(0.05)
            store.close_period(closing_day)
            return -1
        booked = 0
        for b in range(15):
            n = i * 1_000 + b
            try:
                store.post([loan_entry(n, day=closing_day)])
                booked += 1
            except PostingRejected as rejected:
                assert rejected.code is RejectionCode.PERIOD_CLOSED
        return booked

    results, errors = run_together(work, count=5)
    assert errors == []
    ((through, booked_before_close),) = store.period_closes()
    journal = list(store.entries())
    assert len(journal) == sum(r for r in results if r != -1) == booked_before_close
    assert all(entry.accounting_date <= through for entry in journal[:booked_before_close])
    assert journal[booked_before_close:] == []  # everything dated on or before the close came first


def test_stores_opened_at_once_on_an_empty_database_create_the_schema_once(
    postgres_url: str, tmp_path: Path
) -> None:
    from sql_stores import make_sql_engine
    from sqlalchemy import text

    from loancore.adapters.sql.ledger import LEDGER_SCHEMA_VERSION

    engine = make_sql_engine("postgres", tmp_path, postgres_url)
    try:
        _, errors = run_together(lambda i: SqlLedgerStore(engine), count=4)
        assert errors == []
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT component, version FROM loancore_schema")).all()
            states = connection.execute(text("SELECT COUNT(*) FROM ledger_state")).scalar_one()
        assert rows == [("ledger", LEDGER_SCHEMA_VERSION)]
        assert states == 1
    finally:
        engine.dispose()
