"""The batch entry points' collector policy (loancore.app.gc_policy): set while the block runs,
restored however it ends, applied once when nested, and cycles still collected inside."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import pytest

from loancore.app.gc_policy import GEN0_THRESHOLD, batch_gc, batch_gc_for_process
from loancore.errors import InvalidInput


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_policy_freezes_raises_the_threshold_and_restores_both() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with batch_gc():
        assert gc.get_threshold() == (GEN0_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what existed on entry is frozen
        assert gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_nested_use_applies_once_and_the_outermost_restores() -> None:
    before = gc.get_threshold()
    with batch_gc(20_000):
        frozen = gc.get_freeze_count()
        with batch_gc(90_000):
            assert gc.get_threshold()[0] == 20_000
            assert gc.get_freeze_count() == frozen
        assert gc.get_threshold()[0] == 20_000
    assert gc.get_threshold() == before


def test_a_block_that_raises_still_restores_the_collector() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_gc():
        raise RuntimeError("the batch failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_application_s_own_freeze_is_left_to_it() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with batch_gc():
            assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_reference_cycles_made_inside_are_still_collected_without_an_explicit_collect() -> None:
    with batch_gc(1_000):
        first = _Node()
        first.other = first
        gone = weakref.ref(first)
        del first
        for _ in range(20_000):  # bounded: enough allocations for several young passes
            node = _Node()
            node.other = node
        assert gone() is None


@pytest.mark.parametrize("threshold", [699, 10_000_001, True, 5000.0, "50000"])
def test_a_bad_threshold_is_refused_and_changes_nothing(threshold: object) -> None:
    before = gc.get_threshold()
    with pytest.raises(InvalidInput, match="threshold"), batch_gc(threshold):  # type: ignore[arg-type]
        pass
    assert gc.get_threshold() == before


_FOR_PROCESS = """
import gc
from loancore.app.gc_policy import batch_gc, batch_gc_for_process
batch_gc_for_process(60_000)
kept = (gc.get_threshold()[0], gc.get_freeze_count() > 0)
with batch_gc(20_000):
    inside = gc.get_threshold()[0]
print(kept, inside, gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def test_the_policy_entered_for_the_process_stays_and_a_block_inside_restores_nothing() -> None:
    """In a process of its own (the policy is never restored)."""
    run = subprocess.run(
        [sys.executable, "-c", _FOR_PROCESS], capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["(60000,", "True)", "60000", "60000", "True"]


@pytest.mark.parametrize("threshold", [699, True, "50000"])
def test_a_bad_threshold_for_the_process_is_refused_and_changes_nothing(threshold: object) -> None:
    before = gc.get_threshold()
    with pytest.raises(InvalidInput, match="threshold"):
        batch_gc_for_process(threshold)  # type: ignore[arg-type]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
