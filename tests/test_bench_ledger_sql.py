"""bench/bench_ledger_sql.py's bare side writes exactly the rows loancore writes.

The ``..._vs_bare_ratio`` figures mean something only if both sides do the same work; the bench
compares the two databases after each run and stops otherwise. Running one short round here
makes a schema or posting change that the bare side does not follow fail the test suite, not
only the next ``make bench``. No time is asserted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_ledger_sql.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ledger_sql", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "POSTED_BATCHES", 1)  # a warm-up batch and one timed batch
    return module


def test_the_bare_sqlite_side_writes_the_same_rows(bench: ModuleType, tmp_path: Path) -> None:
    ours, bare = bench.sqlite_run(tmp_path, 0)  # raises if the two files differ
    assert ours > 0 and bare > 0


def test_a_difference_in_the_rows_stops_the_bench(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bench.bare_rows

    def one_cent_more(*args: object) -> dict[str, list[tuple[object, ...]]]:
        rows = real(*args)
        position = bench.LEG_COLUMNS.index("amount_minor")
        first = list(rows["legs"][0])
        first[position] += 1
        rows["legs"][0] = tuple(first)
        return rows

    monkeypatch.setattr(bench, "bare_rows", one_cent_more)
    with pytest.raises(RuntimeError, match="ledger_legs: the bare rows differ"):
        bench.sqlite_run(tmp_path, 0)


@pytest.mark.postgres
def test_the_bare_postgres_side_writes_the_same_rows(bench: ModuleType, postgres_url: str) -> None:
    ours, bare = bench.postgres_run(postgres_url)
    assert ours > 0 and bare > 0
