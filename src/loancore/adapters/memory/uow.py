"""MemoryUnitOfWork: the in-memory reference :class:`~loancore.ports.UnitOfWork`.

Atomic by checkpoint and restore: right before a store's first write in a unit of work, its
complete state is copied (``_checkpoint()``); a rollback puts every written store back
(``_restore``), the last written first. A store that was only read is never copied.

Isolated by serialisation: a unit of work takes one lock per store, in
:data:`~loancore.ports.LOCK_ORDER`, for its whole life, so two threads' units of work over the
same stores run one after the other and never see each other's uncommitted writes. The locks are
shared by every MemoryUnitOfWork over the same store objects. Writes that bypass the unit of work
(calling a store directly) are not serialised with it, and a rollback would undo them too: once
units of work are in use, write through them only.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.loans import MemoryLoanStore
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.adapters.memory.settlement import MemorySettlementStore
from loancore.adapters.unit_of_work import BaseUnitOfWork
from loancore.errors import InvalidInput, InvariantViolation
from loancore.ports import LOCK_ORDER

__all__ = ["MemoryUnitOfWork"]


class _Checkpointed(Protocol):
    def _checkpoint(self) -> object: ...

    def _restore(self, checkpoint: object) -> None: ...


class _StoreLock:
    """A store's units of work lock; knows its holder, so a nested unit of work over the same
    store in the same thread fails at once instead of waiting for itself forever."""

    __slots__ = ("holder", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holder: int | None = None

    def acquire(self, name: str) -> None:
        me = threading.get_ident()
        if self.holder == me:
            raise InvariantViolation(
                f"a unit of work over this {name} store is already open in this thread"
            )
        self.lock.acquire()
        self.holder = me

    def release(self) -> None:
        self.holder = None
        self.lock.release()


_LOCKS: weakref.WeakKeyDictionary[object, _StoreLock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _lock_of(store: object) -> _StoreLock:
    """The units of work lock of ``store``, shared by every unit of work that holds it."""
    with _LOCKS_LOCK:
        lock = _LOCKS.get(store)
        if lock is None:
            lock = _LOCKS[store] = _StoreLock()
        return lock


def _constant(store: object) -> Callable[[object], object]:
    """A builder that hands out ``store`` itself (memory stores need no binding)."""
    return lambda _handle: store


class _Handle:
    """One open memory unit of work: its locks (held) and the checkpoints taken so far."""

    __slots__ = ("checkpoints", "locks")

    def __init__(self, locks: list[_StoreLock]) -> None:
        self.locks = locks
        self.checkpoints: list[tuple[_Checkpointed, object]] = []


class MemoryUnitOfWork(BaseUnitOfWork):
    """``MemoryUnitOfWork(ledger=..., quota=..., loans=..., settlement=...)``: one unit of work
    over memory stores.

    Stores not given are created empty (``MemoryLedgerStore()``, ``MemoryQuotaStore()``,
    ``MemoryLoanStore()``, ``MemorySettlementStore()``). The
    object may be kept and shared by threads: each ``with uow:`` waits for the stores' units of
    work locks. ``uow.stores`` gives the raw stores (for reads after commit, and tests).
    """

    def __init__(
        self,
        *,
        ledger: MemoryLedgerStore | None = None,
        quota: MemoryQuotaStore | None = None,
        loans: MemoryLoanStore | None = None,
        settlement: MemorySettlementStore | None = None,
    ) -> None:
        super().__init__()
        stores: dict[str, _Checkpointed] = {
            "ledger": MemoryLedgerStore() if ledger is None else ledger,
            "quota": MemoryQuotaStore() if quota is None else quota,
            "loans": MemoryLoanStore() if loans is None else loans,
            "settlement": MemorySettlementStore() if settlement is None else settlement,
        }
        for name, store in stores.items():
            if not callable(getattr(store, "_checkpoint", None)):
                raise InvalidInput(name, store, "expected a memory store with _checkpoint")
        self._raw: Mapping[str, _Checkpointed] = stores
        self._builders: Mapping[str, Callable[[Any], object]] = {
            name: _constant(store) for name, store in stores.items()
        }

    @property
    def stores(self) -> Mapping[str, object]:
        """The memory stores themselves, by name (not bound to any unit of work)."""
        return self._raw

    def _begin(self) -> _Handle:
        ordered = sorted(self._raw, key=LOCK_ORDER.index)
        locks: list[_StoreLock] = []
        try:
            for name in ordered:  # the lock order, so units of work over shared stores never cycle
                lock = _lock_of(self._raw[name])
                lock.acquire(name)
                locks.append(lock)
        except BaseException:
            for lock in reversed(locks):
                lock.release()
            raise
        return _Handle(locks)

    def _before_first_write(self, handle: object, name: str) -> None:
        assert isinstance(handle, _Handle)
        store = self._raw[name]
        handle.checkpoints.append((store, store._checkpoint()))

    def _commit(self, handle: object, written: frozenset[tuple[str, str]]) -> None:
        assert isinstance(handle, _Handle)
        handle.checkpoints.clear()  # in memory every write is already "durable"

    def _rollback(self, handle: object) -> None:
        assert isinstance(handle, _Handle)
        for store, checkpoint in reversed(handle.checkpoints):
            store._restore(checkpoint)
        handle.checkpoints.clear()

    def _end(self, handle: object) -> None:
        assert isinstance(handle, _Handle)
        for lock in reversed(handle.locks):
            lock.release()
        handle.locks.clear()
