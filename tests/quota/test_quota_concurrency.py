"""Concurrent holds from several real connections never exceed what is available.

PostgreSQL: threads, each on its own pooled connection, race holds and draws on the sub-lines and
the master of one borrower. The master row is locked before the sub-line row (FOR UPDATE), so the
total held and used never passes either limit, nothing deadlocks, and the journal still rebuilds
every balance. The memory store gets the same race through its lock.
"""

from __future__ import annotations

import datetime
import random
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from quota_stores import make_quota_engine

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.errors import QuotaRejected, RejectionCode
from loancore.money import Money
from loancore.quota import Draw, Grant, Hold, QuotaResult

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
THREADS = 8
ATTEMPTS = 25


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


Outcome = tuple[Any, QuotaResult | RejectionCode]  # a command and its result or refusal code


def _race(store: Any) -> list[Outcome]:
    """Every thread fires ATTEMPTS holds or draws at random lines, all starting together."""
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("1000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    for line_id in ("S0", "S1"):
        sub_line = Grant(
            key=f"g-{line_id}",
            line_id=line_id,
            borrower_id="b1",
            limit=cny("700.00"),
            starts_on=DAY,
            expires_on=LATER,
            master_id="M",
        )
        store.apply(sub_line, as_of=DAY)
    barrier = threading.Barrier(THREADS)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        chooser = random.Random(index)
        barrier.wait()
        for attempt in range(ATTEMPTS):
            line_id = chooser.choice(["S0", "S1", "S1", "M"])
            amount = cny(f"{chooser.randint(5, 60)}.00")
            key = f"t{index}-{attempt}"
            command = (
                Hold(key=key, line_id=line_id, amount=amount, expires_on=DAY)
                if attempt % 3
                else Draw(key=key, line_id=line_id, amount=amount)
            )
            try:
                result: QuotaResult | RejectionCode = store.apply(command, as_of=DAY)
            except QuotaRejected as refusal:
                result = refusal.code
            except BaseException as error:  # noqa: BLE001 - reported by the main thread below
                errors.append(error)
                return
            with lock:
                outcomes.append((command, result))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(outcomes) == THREADS * ATTEMPTS
    return outcomes


def _check_race(store: Any, outcomes: list[Outcome]) -> None:
    accepted = [(c, r) for c, r in outcomes if isinstance(r, QuotaResult)]
    refused = {r for _c, r in outcomes if isinstance(r, RejectionCode)}
    total = {"S0": 0, "S1": 0, "M": 0}
    for command, _result in accepted:
        total[command.line_id] += command.amount.minor_units
    assert total["S0"] <= 70_000 and total["S1"] <= 70_000
    assert sum(total.values()) <= 100_000
    expected = {RejectionCode.QUOTA_EXCEEDS_AVAILABLE, RejectionCode.QUOTA_MASTER_EXCEEDS_AVAILABLE}
    assert refused <= expected
    assert refused, "the race should exhaust the lines"
    for line_id in ("S0", "S1"):
        balance = store.balance(line_id)
        assert balance.used_minor + balance.held_minor == total[line_id]
    master = store.balance("M")
    assert master.used_minor + master.held_minor == sum(total.values())
    assert store.check() == ()


@pytest.mark.postgres
def test_concurrent_holds_on_postgres_never_exceed_available(
    postgres_url: str, tmp_path: Path
) -> None:
    from loancore.adapters.sql.quota import SqlQuotaStore

    engine = make_quota_engine("postgres", tmp_path, postgres_url, pool_size=THREADS + 2)
    try:
        store = SqlQuotaStore(engine)
        _check_race(store, _race(store))
    finally:
        engine.dispose()


def test_concurrent_holds_in_memory_never_exceed_available() -> None:
    store = MemoryQuotaStore()
    _check_race(store, _race(store))


@pytest.mark.postgres
def test_the_same_key_raced_from_many_connections_applies_once(
    postgres_url: str, tmp_path: Path
) -> None:
    from loancore.adapters.sql.quota import SqlQuotaStore

    engine = make_quota_engine("postgres", tmp_path, postgres_url, pool_size=THREADS + 2)
    try:
        store = SqlQuotaStore(engine)
        store.apply(
            Grant(
                key="g-M",
                line_id="M",
                borrower_id="b1",
                limit=cny("1000.00"),
                starts_on=DAY,
                expires_on=LATER,
            ),
            as_of=DAY,
        )
        barrier = threading.Barrier(THREADS)
        results: list[QuotaResult] = []

        def worker() -> None:
            barrier.wait()
            results.append(
                store.apply(
                    Hold(key="same", line_id="M", amount=cny("600.00"), expires_on=DAY), as_of=DAY
                )
            )

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == THREADS and all(r == results[0] for r in results)
        assert sum(not r.replayed for r in results) == 1
        assert store.balance("M").held_minor == 60_000
        assert len(list(store.journal())) == 2
    finally:
        engine.dispose()
