"""The lock order (loans, then quota, then the ledger) on PostgreSQL: two kinds of use case whose
business order is opposite run concurrently through units of work without a deadlock, while the
same two written against raw connections in business order do deadlock (so the test can fail).

A draw is "hold the quota, then book the loan". A cancellation's business order is the other way
round ("reverse the booking, then void the hold"); written for a unit of work it voids first,
because a quota write after a ledger write raises InvariantViolation on every backend
(test_uow_contract.py), and so can never reach production to deadlock there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from uow_kit import DAY, cny, draw_entry, make_engine, set_up

from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.quota import SqlQuotaStore
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvariantViolation
from loancore.quota import Hold, Void
from loancore.services import audit

pytestmark = pytest.mark.postgres

WORKERS_PER_KIND = 2
ITERATIONS = 30
SECONDS_MAX = 120.0


@pytest.fixture
def engine(tmp_path: Path, postgres_url: str) -> Iterator[sa.Engine]:
    made = make_engine("postgres", tmp_path, postgres_url, pool_size=2 * WORKERS_PER_KIND + 2)
    set_up(SqlUnitOfWork(made))
    yield made
    made.dispose()


def draw(uow: SqlUnitOfWork, n: str) -> None:
    with uow:
        uow.quota.apply(
            Hold(key=f"h-{n}", line_id="S", amount=cny("1.00"), expires_on=DAY), as_of=DAY
        )
        uow.ledger.post([draw_entry(n, "1.00")])
        uow.commit()


def cancel(uow: SqlUnitOfWork, n: str) -> None:
    """Business order: reverse the booking, then void the hold. Lock order: quota first."""
    with uow:
        uow.quota.apply(Void(key=f"v-{n}", hold_id=f"h-{n}"), as_of=DAY)
        uow.ledger.reverse(
            f"E-{n}", reversal_id=f"R-{n}", idempotency_key=f"rev:{n}", accounting_date=DAY
        )
        uow.commit()


def run_concurrently(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Run ``workers`` in threads; their exceptions (a hung worker counts as one)."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(w,), daemon=True) for w in workers]
    deadline = time.monotonic() + SECONDS_MAX
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [t for t in threads if t.is_alive()]
    if hung:
        errors.append(TimeoutError(f"{len(hung)} worker(s) still running after {SECONDS_MAX}s"))
    return errors


def test_draws_and_cancellations_in_opposite_business_order_never_deadlock(
    engine: sa.Engine,
) -> None:
    uow = SqlUnitOfWork(engine)  # one object, shared by every thread

    def drawing(worker: int) -> Callable[[], None]:
        def work() -> None:
            for i in range(ITERATIONS):
                draw(uow, f"d{worker}-{i}")

        return work

    def cancelling(worker: int) -> Callable[[], None]:
        def work() -> None:
            for i in range(ITERATIONS):
                draw(uow, f"c{worker}-{i}")
                cancel(uow, f"c{worker}-{i}")

        return work

    workers = [drawing(w) for w in range(WORKERS_PER_KIND)]
    workers += [cancelling(w) for w in range(WORKERS_PER_KIND)]
    errors = run_concurrently(workers)
    assert errors == []
    with uow:
        draws = WORKERS_PER_KIND * ITERATIONS
        assert uow.quota.balance("S").held_minor == draws * 100  # the cancelled holds are void
        assert uow.ledger.balance("1303", "CNY", as_of=DAY) == cny(f"{draws}.00")
        assert len(list(uow.ledger.entries())) == 3 * draws  # draws, draws cancelled, reversals
        assert uow.quota.check() == ()
        assert audit(uow.ledger) == []


def test_the_same_use_cases_on_raw_connections_in_business_order_deadlock(
    engine: sa.Engine,
) -> None:
    """The control: without the unit of work's order, the two orders wait on each other. Both
    post the same draw (one request arriving twice: the same idempotency key), because since
    ledger schema 5 posts on different loans no longer wait for each other at all."""
    ledger, quota = SqlLedgerStore(engine), SqlQuotaStore(engine)
    both_locked_one = threading.Barrier(2, timeout=30)

    def ledger_then_quota() -> None:
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            ledger.using(connection).post([draw_entry("a")])
            both_locked_one.wait()
            quota.using(connection).apply(
                Hold(key="h-a", line_id="S", amount=cny("1.00"), expires_on=DAY), as_of=DAY
            )

    def quota_then_ledger() -> None:
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            quota.using(connection).apply(
                Hold(key="h-b", line_id="S", amount=cny("1.00"), expires_on=DAY), as_of=DAY
            )
            both_locked_one.wait()
            ledger.using(connection).post([draw_entry("a")])

    errors = run_concurrently([ledger_then_quota, quota_then_ledger])
    assert len(errors) == 1, errors
    assert "deadlock detected" in str(errors[0])


def test_the_unit_of_work_refuses_the_business_order_before_it_can_wait(
    engine: sa.Engine,
) -> None:
    uow = SqlUnitOfWork(engine)
    with pytest.raises(InvariantViolation, match="lock order"), uow:
        uow.ledger.post([draw_entry("a")])
        uow.quota.apply(Hold(key="h-a", line_id="S", amount=cny("1.00"), expires_on=DAY), as_of=DAY)
    with uow:
        assert uow.ledger.find_by_key("draw:a") is None
