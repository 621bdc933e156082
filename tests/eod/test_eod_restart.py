"""An end-of-day batch really killed (SIGKILL) half-way on a SQLite file, then run again, leaves
exactly the ledger, loans and standings an uninterrupted run leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from eod_kit import entries_of, memos_of

from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.services import reconcile

CHILD = str(Path(__file__).parent / "eod_child.py")


def run(path: Path, step: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, CHILD, str(path), step], capture_output=True, text=True, check=True
    )


def killed_half_way(path: Path, after_chunks: int) -> list[str]:
    """Start the batch and SIGKILL it as soon as it reports chunk ``after_chunks``: it is then
    inside the next chunk's unit of work."""
    child = subprocess.Popen(
        [sys.executable, CHILD, str(path), "close"], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    seen: list[str] = []
    for line in child.stdout:  # bounded: the child prints one line a chunk
        seen.append(line.strip())
        if line.startswith(f"chunk {after_chunks} "):
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return seen


def book_state(path: Path) -> dict[str, Any]:
    uow = SqlUnitOfWork(create_engine(path))
    with uow:
        ids = uow.loans.loan_ids(limit=1000)
        loans = uow.loans.load_many(list(ids))
        standings = uow.loans.load_standings(list(ids))
    result = reconcile(uow)
    assert result.clean, result.problems()
    state = {
        "entries": entries_of(uow),
        "memos": memos_of(uow),
        "loans": loans,
        "standings": standings,
    }
    uow.bind.dispose()  # type: ignore[attr-defined]
    return state


def test_killed_half_way_and_rerun_leaves_the_ledger_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    whole, broken = tmp_path / "whole.sqlite", tmp_path / "broken.sqlite"
    for path in (whole, broken):
        run(path, "setup")
    assert run(whole, "close").stdout.splitlines()[-1] == "done 40 0"
    seen = killed_half_way(broken, after_chunks=3)
    assert seen[-1].startswith("chunk 3 ")
    partial = book_state(broken)
    closed = sum(1 for s in partial["standings"].values() if str(s.closed_through) == "2026-02-25")
    assert 12 <= closed < 40  # three chunks committed, the one killed left nothing
    rerun = run(broken, "close").stdout.splitlines()[-1]
    assert rerun == f"done {40 - closed} 0"
    assert book_state(broken) == book_state(whole)
