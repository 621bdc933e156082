"""Crash safety on SQLite, by really killing a process in the middle of posting a batch.

A child process (``crash_writer.py``) posts one large batch in one transaction and is SIGKILLed
at a chosen moment: after the entries are inserted, after the legs, just before COMMIT, or at
timed moments that may fall inside the commit itself. The file is then reopened: the whole batch
or none of it is there, what was committed before is intact, the validation passes report no
issue, SQLite's integrity check passes and the daily totals still equal the legs.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sql_stores import SEGMENTS_VS_LEGS, loan_entry, small_chart

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.services import audit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL"),
]

WRITER = Path(__file__).with_name("crash_writer.py")
BASE_ENTRIES = 200
BATCH = 4_000
MARKER_TIMEOUT_S = 60
AS_OF = date(2026, 12, 31)


def _prepare(path: Path) -> None:
    engine = create_engine(path)
    store = SqlLedgerStore(engine)
    store.save_chart(small_chart())
    store.post([loan_entry(n, minor=7 + n, key=f"base-k{n}") for n in range(BASE_ENTRIES)])
    engine.dispose()


def _wait_for(process: subprocess.Popen[str], marker: str) -> None:
    """Read the child's stdout until a line equal to ``marker`` (bounded by MARKER_TIMEOUT_S)."""
    deadline = time.monotonic() + MARKER_TIMEOUT_S
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                continue
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"writer exited before {marker!r}: {process.wait()}")
            if line.strip() == marker:
                return
    raise AssertionError(f"writer never printed {marker!r}")


def _crash(path: Path, tag: str, mode: str, marker: str, delay_s: float) -> None:
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), tag, str(BATCH), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(process, marker)
        time.sleep(delay_s)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(MARKER_TIMEOUT_S)
    assert process.returncode == -signal.SIGKILL


def _snapshot(path: Path) -> tuple[int, int]:
    """(entries booked, balance of 1303 in minor units) of the file."""
    engine = create_engine(path)
    store = SqlLedgerStore(engine)
    figures = len(list(store.entries())), store.balance("1303", "CNY", as_of=AS_OF).minor_units
    engine.dispose()
    return figures


def _check_all_or_nothing(path: Path, tag: str, before: tuple[int, int]) -> int:
    """Reopen the file, check every guarantee, return how many of the batch's entries are there."""
    engine = create_engine(path)
    store = SqlLedgerStore(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        legs_vs_daily = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM (SELECT subject_code, currency, accounting_date AS day,"
            " SUM(CASE side WHEN 'debit' THEN amount_minor ELSE 0 END) AS d,"
            " SUM(CASE side WHEN 'credit' THEN amount_minor ELSE 0 END) AS c"
            " FROM ledger_legs GROUP BY 1, 2, 3) l"
            " FULL OUTER JOIN ledger_daily_balances b USING (subject_code, currency, day)"
            " WHERE l.d IS NOT b.debit_minor OR l.c IS NOT b.credit_minor"
        ).scalar_one()
        segments_vs_legs = connection.exec_driver_sql(SEGMENTS_VS_LEGS).scalar_one()
    assert legs_vs_daily == 0
    assert segments_vs_legs == 0
    journal = list(store.entries())
    mine = sum(1 for e in journal if e.entry_id.startswith(f"{tag}-"))
    assert mine in (0, BATCH)
    assert len(journal) == before[0] + mine
    assert audit(store) == []
    assert store.trial_balance(as_of=AS_OF).is_balanced()
    batch_minor = sum(1 + n for n in range(BATCH)) if mine else 0
    assert store.balance("1303", "CNY", as_of=AS_OF).minor_units == before[1] + batch_minor
    engine.dispose()
    return mine


@pytest.mark.parametrize(
    ("mode", "marker"),
    [
        ("after-insert:ledger_entries", "AFTER INSERT INTO ledger_entries"),
        ("after-insert:ledger_legs", "AFTER INSERT INTO ledger_legs"),
        ("before-commit", "COMMITTING"),
    ],
)
def test_a_kill_inside_the_transaction_leaves_none_of_the_batch(
    tmp_path: Path, mode: str, marker: str
) -> None:
    path = tmp_path / "crash.sqlite"
    _prepare(path)
    before = _snapshot(path)
    _crash(path, "batch", mode, marker, delay_s=0.0)
    assert _check_all_or_nothing(path, "batch", before) == 0


def test_kills_at_timed_moments_leave_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "timed.sqlite"
    _prepare(path)
    outcomes = []
    moments = [("START", 0.0), ("START", 0.1), ("START", 0.2), ("START", 0.35), ("DONE", 0.0)]
    for round_no, (marker, delay_s) in enumerate(moments):
        tag = f"round{round_no}"  # each round has its own keys and ids
        before = _snapshot(path)
        _crash(path, tag, "timer", marker, delay_s)
        outcomes.append(_check_all_or_nothing(path, tag, before))
    print("batch entries found after each kill:", outcomes)
    assert outcomes[-1] == BATCH  # killed after post() returned: the commit is durable
