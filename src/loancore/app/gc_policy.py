"""The garbage-collector policy of the batch entry points (shell: it sets process-wide state).

CPython's cyclic collector makes a young-generation pass every 700 net allocations of tracked
objects and, every 100 of those, a pass over every tracked object of the process. A batch (the
end-of-day close, ``loancore demo``, a bench) builds and drops millions of small frozen values
(installments, events, journal entries) that reference counting frees on its own, while the
long-lived objects it set up first (modules, products, the SQLAlchemy engine and its caches,
the demo's agenda) are scanned again at every full pass: 15-20% of the CPU of the repayment
path (547 us a repayment, 454 us with the collector off, 488 us with ``gc.freeze()`` after
start-up), 6% of the default demo's simulation (7.8 of 129.6 s; 1.8 s inside
:func:`batch_gc`; docs/end-of-day.md).

:func:`batch_gc` is the policy. The batch entry points apply it (``loancore demo``,
``loancore eod``, bench/bench_eod.py, bench/bench_demo.py); importing loancore never does, so
an application embedding the library keeps its own collector settings.

1. On entry ``gc.collect()``, then ``gc.freeze()``: what exists before the batch (set up once,
   kept to the end) moves to the permanent generation and is not scanned while the batch runs.
2. The young-generation threshold is raised to ``threshold`` (default :data:`GEN0_THRESHOLD`,
   50,000): a young pass every 50,000 net allocations instead of 700, so the older generations
   are visited about 70 times less often. The collector stays enabled: reference cycles are
   still found, memory stays bounded (at most ``threshold`` young objects wait for a pass).
3. On exit the thresholds are restored and the frozen objects unfrozen (the next full pass
   sees them again). A process that froze objects itself before (``gc.get_freeze_count()`` not
   0) keeps its own freeze: the policy then only raises the threshold.

Uses nest (and may come from several threads): the outermost one applies and restores.

:func:`batch_gc_for_process` applies the same policy for the rest of a process that exists only
to run batches (a worker of :class:`loancore.adapters.process_batch.ProcessBatch`), never
restored. It is not ``batch_gc().__enter__()``: the generator behind that context manager is
closed when its last reference goes, which runs the ``finally`` and restores the collector at
once (the workers did until this function: on a 20,000-repayment file each made 952
young-generation passes, 0.7 s of collection; under the policy 10 passes, 0.18 s).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from loancore.errors import InvalidInput

__all__ = ["GEN0_THRESHOLD", "batch_gc", "batch_gc_for_process"]

GEN0_THRESHOLD = 50_000
"""Net allocations between two young-generation passes while a batch runs (CPython: 700)."""

_THRESHOLD_MAX = 10_000_000

_LOCK = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()
_froze = False


def _enter(threshold: int) -> None:
    global _depth, _saved, _froze
    with _LOCK:
        _depth += 1
        if _depth > 1:
            return
        _saved = gc.get_threshold()
        _froze = gc.get_freeze_count() == 0  # an application's own freeze is left to it
        if _froze:
            gc.collect()
            gc.freeze()
        gc.set_threshold(threshold, *_saved[1:])


def _exit() -> None:
    global _depth
    with _LOCK:
        _depth -= 1
        if _depth:
            return
        gc.set_threshold(*_saved)
        if _froze:
            gc.unfreeze()


def _checked(threshold: object) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise InvalidInput("threshold", threshold, "expected an int")
    if not 700 <= threshold <= _THRESHOLD_MAX:
        raise InvalidInput("threshold", threshold, f"expected 700 to {_THRESHOLD_MAX}")
    return threshold


@contextlib.contextmanager
def batch_gc(threshold: int = GEN0_THRESHOLD) -> Iterator[None]:
    """The collector set for a batch while the block runs (module docstring): what exists on
    entry frozen, young passes every ``threshold`` net allocations (an int from 700 to
    10,000,000); restored on exit, however the block ends."""
    _enter(_checked(threshold))
    try:
        yield
    finally:
        _exit()


def batch_gc_for_process(threshold: int = GEN0_THRESHOLD) -> None:
    """The policy of :func:`batch_gc` entered for the rest of the process, never restored: for
    a process that exists to run batches (a worker process's initializer). What exists now is
    frozen; a :func:`batch_gc` block inside then nests and restores nothing."""
    _enter(_checked(threshold))
