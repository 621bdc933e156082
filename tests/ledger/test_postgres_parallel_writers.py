"""Ledger writers on PostgreSQL run in parallel (schema 5, docs/scaling.md), and stay exact.

Writers on different loans take the ledger's advisory lock in shared mode and add to their own
slot of the running totals, so one writer holding its transaction open does not stop another,
even when both move the same bank subject on the same day. Each test holds transactions open
on purpose (a thread with its own connection, released by an event) and bounds every wait with
``lock_timeout``, so a design that serialized writers fails here instead of hanging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from sql_stores import make_sql_ledger_store, small_chart

from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.ledger_schema import TOTALS_SLOTS, slot_cap
from loancore.errors import PostingRejected, RejectionCode
from loancore.ledger import (
    AMOUNT_MINOR_MAX,
    TOTAL_MINOR_MAX,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
)
from loancore.money import Money

pytestmark = pytest.mark.postgres

DAY = date(2026, 3, 2)
END = date(2026, 12, 31)
WAIT_S = 30  # the longest any test waits for a thread or an event
LOCK_TIMEOUT = "3s"  # a writer that would queue behind another fails after this


@pytest.fixture
def store(postgres_url: str, tmp_path: Path) -> Iterator[SqlLedgerStore]:
    store = make_sql_ledger_store("postgres", tmp_path, postgres_url)
    store.save_chart(small_chart())
    yield store
    store.bind.dispose()


def repayment(n: int, *, loan: str | None = None, minor: int = 100, key: str | None = None):
    """Entry ``n``: a repayment of ``minor`` fen on ``loan`` (default L<n>) into the bank:
    Dr 1002 (every repayment's hot subject) / Cr 1303.01 [loan]."""
    amount = Money.from_minor(minor, "CNY")
    return JournalEntry(
        entry_id=f"r{n}",
        idempotency_key=key or f"repay-{n}",
        accounting_date=DAY,
        legs=(
            Leg.debit("1002", amount),
            Leg.credit("1303.01", amount, {"loan": loan or f"L{n}"}),
        ),
    )


class HeldTransaction:
    """``action(store bound to a connection)`` run in a thread inside a transaction that stays
    open until :meth:`finish` (commit or roll back); :attr:`done` is set once ``action`` ran."""

    def __init__(self, store: SqlLedgerStore, action: Callable[[SqlLedgerStore], Any]) -> None:
        self.done = threading.Event()
        self._release = threading.Event()
        self._commit = True
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(store, action))
        self._thread.start()
        assert self.done.wait(WAIT_S), "the held transaction's action did not finish"
        if self.error is not None:
            raise self.error

    def _run(self, store: SqlLedgerStore, action: Callable[[SqlLedgerStore], Any]) -> None:
        with store.bind.connect() as connection:
            try:
                self.result = action(store.using(connection))
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
                self.error = error
            self.done.set()
            self._release.wait(WAIT_S)
            if self._commit and self.error is None:
                connection.commit()
            else:
                connection.rollback()

    def finish(self, *, commit: bool = True) -> None:
        self._commit = commit
        self._release.set()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


def bounded(store: SqlLedgerStore, action: Callable[[SqlLedgerStore], Any]) -> Any:
    """``action`` on its own connection with every lock wait bounded by LOCK_TIMEOUT; committed."""
    with store.bind.connect() as connection:
        connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        result = action(store.using(connection))
        connection.commit()
        return result


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["result"] = action()
        except BaseException as error:  # noqa: BLE001 - inspected by the test
            out["error"] = error

    thread = threading.Thread(target=body)
    thread.start()
    return thread, out


def waiting_on_advisory_locks(store: SqlLedgerStore) -> int:
    """How many backends wait for an advisory lock right now."""
    with store.bind.connect() as connection:
        sql = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return int(connection.exec_driver_sql(sql).scalar_one())


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def totals_match_legs(store: SqlLedgerStore) -> None:
    """The daily totals (summed over their slots) equal the legs' sums, and the journal's running
    total per currency equals its debits."""
    with store.bind.connect() as connection:
        mismatched = connection.exec_driver_sql(
            "SELECT count(*) FROM (SELECT subject_code, currency, accounting_date AS day,"
            " SUM(CASE side WHEN 'debit' THEN amount_minor ELSE 0 END) AS d,"
            " SUM(CASE side WHEN 'credit' THEN amount_minor ELSE 0 END) AS c"
            " FROM ledger_legs GROUP BY 1, 2, 3) l FULL OUTER JOIN"
            " (SELECT subject_code, currency, day, SUM(debit_minor) AS d, SUM(credit_minor) AS c"
            " FROM ledger_daily_balances GROUP BY 1, 2, 3) b USING (subject_code, currency, day)"
            " WHERE l.d IS DISTINCT FROM b.d OR l.c IS DISTINCT FROM b.c"
        ).scalar_one()
        debits = connection.exec_driver_sql(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_legs WHERE side = 'debit'"
        ).scalar_one()
        total = connection.exec_driver_sql(
            "SELECT COALESCE(SUM(total_minor), 0) FROM ledger_currency_totals"
            " WHERE book = 'journal'"
        ).scalar_one()
    assert mismatched == 0
    assert total == debits


def slots_of(store: SqlLedgerStore, subject: str) -> list[int]:
    with store.bind.connect() as connection:
        sql = "SELECT slot FROM ledger_daily_balances WHERE subject_code = %s ORDER BY slot"
        return list(connection.exec_driver_sql(sql, (subject,)).scalars())


# -- parallel, exact ----------------------------------------------------------------------------


def test_writers_on_different_loans_all_complete_with_exact_balances(
    store: SqlLedgerStore,
) -> None:
    threads, batches, size = 4, 8, 25
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        barrier.wait(WAIT_S)
        try:
            for b in range(batches):
                first = (t * batches + b) * size
                store.post([repayment(n, minor=100 + n) for n in range(first, first + size)])
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT_S * 4)
        assert not worker.is_alive(), "a writer hung"
    assert errors == []
    count = threads * batches * size
    assert sorted(int(e.entry_id[1:]) for e in store.entries()) == list(range(count))
    bank = store.balance("1002", "CNY", as_of=END).minor_units
    assert bank == sum(100 + n for n in range(count))
    for n in range(0, count, 37):  # a sample of loans, each exact
        loan = store.balance("1303.01", "CNY", as_of=END, dimensions={"loan": f"L{n}"})
        assert loan.minor_units == -(100 + n)
    assert store.trial_balance(as_of=END).is_balanced()
    totals_match_legs(store)


def test_a_writer_holding_its_transaction_open_does_not_block_another_loans_writer(
    store: SqlLedgerStore,
) -> None:
    """Both repayments move the bank subject 1002 on the same day, the total every repayment
    used to queue on: the second is booked while the first is still uncommitted."""
    first = HeldTransaction(store, lambda s: s.post([repayment(1)]))
    started = time.monotonic()
    second = bounded(store, lambda s: s.post([repayment(2)]))
    elapsed = time.monotonic() - started
    assert second[0].entry_id == "r2"
    assert elapsed < 2.5  # well under LOCK_TIMEOUT: it did not wait for the open transaction
    assert [e.entry_id for e in store.entries()] == ["r2"]  # the first is not committed yet
    first.finish()
    assert sorted(e.entry_id for e in store.entries()) == ["r1", "r2"]
    assert slots_of(store, "1002") == [0, 1]  # each writer added to its own slot of the total
    assert store.balance("1002", "CNY", as_of=END).minor_units == 200
    totals_match_legs(store)


def test_control_the_schema_4_writer_lock_and_one_total_row_make_writers_wait(
    store: SqlLedgerStore,
) -> None:
    """What schema 4 did, shown to block: every writer began with ``SELECT ... FROM ledger_state
    FOR UPDATE``, and every repayment added to the one row of the bank subject's daily total. A
    second transaction doing either while a first holds it times out."""
    statements = [
        "SELECT closed_through FROM ledger_state WHERE id = 1 FOR UPDATE",
        (
            "INSERT INTO ledger_daily_balances (subject_code, currency, day, slot, debit_minor,"
            " credit_minor) VALUES ('1002', 'CNY', '2026-03-02', 0, 100, 0) ON CONFLICT"
            " (subject_code, currency, day, slot) DO UPDATE SET debit_minor ="
            " ledger_daily_balances.debit_minor + excluded.debit_minor"
        ),
    ]
    for statement in statements:
        with store.bind.connect() as holder, store.bind.connect() as waiter:
            holder.exec_driver_sql(statement)
            waiter.exec_driver_sql("SET lock_timeout = '300ms'")
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                waiter.exec_driver_sql(statement)
            waiter.rollback()
            holder.rollback()


# -- idempotency --------------------------------------------------------------------------------


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
def test_the_same_key_from_a_second_writer_waits_for_the_first_and_books_once(
    store: SqlLedgerStore, first_commits: bool
) -> None:
    """The second writer's INSERT waits on the first's uncommitted key. If the first commits, the
    second gets the first's entry back (a replay, even under its own entry id); if the first rolls
    back, the second books its own."""
    first = HeldTransaction(store, lambda s: s.post([repayment(1, key="order-1")]))
    retry = repayment(2, loan="L1", key="order-1")  # a client retry under a new entry id
    if not first_commits:
        retry = repayment(2, key="order-1")
    thread, out = in_thread(lambda: store.post([retry]))
    time.sleep(0.3)
    assert thread.is_alive()  # waiting for the first writer's key
    first.finish(commit=first_commits)
    thread.join(WAIT_S)
    assert "error" not in out, out.get("error")
    booked = list(store.entries())
    assert len(booked) == 1
    assert out["result"] == (booked[0],)
    assert booked[0].entry_id == ("r1" if first_commits else "r2")
    totals_match_legs(store)


# -- period close -------------------------------------------------------------------------------


def test_a_close_waits_for_open_writers_and_writers_arriving_meanwhile_are_refused(
    store: SqlLedgerStore,
) -> None:
    first = HeldTransaction(store, lambda s: s.post([repayment(1)]))
    closing, close_out = in_thread(lambda: store.close_period(DAY))
    wait_until(lambda: waiting_on_advisory_locks(store) == 1)  # the close waits for the writer
    late, late_out = in_thread(lambda: store.post([repayment(2)]))
    wait_until(lambda: waiting_on_advisory_locks(store) == 2)  # the late writer waits for it
    assert closing.is_alive() and late.is_alive()
    first.finish()
    closing.join(WAIT_S)
    late.join(WAIT_S)
    assert "error" not in close_out
    assert isinstance(late_out.get("error"), PostingRejected)
    assert late_out["error"].code is RejectionCode.PERIOD_CLOSED
    assert [e.entry_id for e in store.entries()] == ["r1"]
    assert store.period_closes() == ((DAY, 1),)


def test_a_steady_stream_of_writers_does_not_starve_a_close(store: SqlLedgerStore) -> None:
    """Three writers in a loop, staggered so that one always holds the shared lock (each keeps
    its transaction open 60 ms after posting, as an application might). The close queues for
    the exclusive lock, and writers arriving after it queue behind it, so it is granted once the
    transactions in flight commit: within its 3 s lock_timeout. (With ``FOR SHARE`` on the state
    row instead, new sharers join the holders and a ``FOR UPDATE`` waited until the stream
    stopped: docs/scaling.md.)"""
    later = date(2026, 3, 9)  # the writers post after the closing day, so they keep booking
    stop = threading.Event()
    counter = iter(range(10**6))
    booked: list[int] = []

    def writer(offset_s: float) -> None:
        time.sleep(offset_s)
        while not stop.is_set():
            n = next(counter)
            with store.bind.connect() as connection:
                store.using(connection).post([_on(repayment(n), later)])
                time.sleep(0.06)
                connection.commit()
            booked.append(n)

    writers = [threading.Thread(target=writer, args=(i * 0.02,)) for i in range(3)]
    for thread in writers:
        thread.start()
    try:
        time.sleep(0.3)
        bounded(store, lambda s: s.close_period(DAY))
    finally:
        stop.set()
        for thread in writers:
            thread.join(WAIT_S)
    assert store.closed_through() == DAY
    assert len(list(store.entries())) == len(booked)
    assert store.period_closes()[0][1] <= len(booked)


def test_the_close_log_counts_entries_although_numbers_have_gaps(store: SqlLedgerStore) -> None:
    """A replayed batch draws numbers before its keys are found booked (then rolls them back), so
    PostgreSQL's numbers have gaps; each close still counts the entries booked."""
    store.post([repayment(n) for n in range(3)])
    store.post([repayment(n) for n in range(3)])  # a replay: draws 3 numbers, books nothing
    store.post([repayment(3)])
    with store.bind.connect() as connection:
        seqs = list(connection.exec_driver_sql("SELECT seq FROM ledger_entries").scalars())
    assert max(seqs) > len(seqs) == 4  # the gap is there
    store.close_period(DAY)
    later = date(2026, 3, 3)
    store.post([_on(repayment(10), later), _on(repayment(11), later)])
    store.close_period(later)
    assert store.period_closes() == ((DAY, 4), (later, 6))


def _on(entry: JournalEntry, day: date) -> JournalEntry:
    return attrs.evolve(entry, accounting_date=day)


# -- running totals near their limit ------------------------------------------------------------


def test_two_writers_nearing_the_total_limit_at_once_book_only_what_fits(
    store: SqlLedgerStore,
) -> None:
    """The journal's debits are filled to two largest legs below TOTAL_MINOR_MAX (spread over
    every slot). Two writers then each post one largest leg plus one unit: either fits alone,
    both do not. Neither sees the other's uncommitted addition, so the slots' caps catch it: the
    second books with every slot locked, sees the first, and is refused. The total ends exactly
    at what was booked, never above the limit."""
    room = 2 * AMOUNT_MINOR_MAX + 1
    full, rest = divmod(TOTAL_MINOR_MAX - room, AMOUNT_MINOR_MAX)
    filler = [repayment(n, minor=AMOUNT_MINOR_MAX) for n in range(full)]
    store.post([*filler, repayment(full, minor=rest)] if rest else filler)
    big = AMOUNT_MINOR_MAX  # one largest leg
    first = HeldTransaction(
        store, lambda s: s.post([repayment(-1, minor=big), repayment(-2, minor=1)])
    )
    second, out = in_thread(lambda: store.post([repayment(-3, minor=big), repayment(-4, minor=1)]))
    time.sleep(0.3)
    first.finish()
    second.join(WAIT_S)
    assert isinstance(out.get("error"), PostingRejected), out
    assert out["error"].code is RejectionCode.LEDGER_TOTAL_EXCEEDED
    booked = TOTAL_MINOR_MAX - room + big + 1
    assert store.trial_balance(as_of=END).totals("CNY")[0].minor_units == booked
    with store.bind.connect() as connection:
        slots = connection.exec_driver_sql(
            "SELECT slot, total_minor FROM ledger_currency_totals WHERE book = 'journal'"
        ).all()
    assert len(slots) == TOTALS_SLOTS
    assert all(total <= slot_cap(slot) for slot, total in slots)
    assert sum(total for _, total in slots) == booked
    totals_match_legs(store)


# -- memo registers -----------------------------------------------------------------------------


def memo(n: int, minor: int, direction: MemoDirection) -> MemoPosting:
    return MemoPosting(
        posting_id=f"m{n}",
        idempotency_key=f"mk{n}",
        register=MemoRegister.WRITTEN_OFF_LOANS,
        accounting_date=DAY,
        direction=direction,
        amount=Money.from_minor(minor, "CNY"),
        dimensions={"loan": "L1"},
    )


def test_memo_writers_wait_for_each_other_so_a_register_never_goes_negative(
    store: SqlLedgerStore,
) -> None:
    """Memo rules read the register's balance, so memo writers take a lock of their own: two
    decreases of the whole balance at once book one; a journal post meanwhile is not held up."""
    store.post_memo([memo(1, 500, MemoDirection.INCREASE)])
    first = HeldTransaction(store, lambda s: s.post_memo([memo(2, 500, MemoDirection.DECREASE)]))
    second, out = in_thread(lambda: store.post_memo([memo(3, 500, MemoDirection.DECREASE)]))
    wait_until(lambda: waiting_on_advisory_locks(store) == 1)
    assert bounded(store, lambda s: s.post([repayment(1)]))[0].entry_id == "r1"
    first.finish()
    second.join(WAIT_S)
    assert isinstance(out.get("error"), PostingRejected), out
    balance = store.memo_balance(MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=END)
    assert balance.minor_units == 0
