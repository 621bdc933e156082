"""What every unit of work shares: per-thread open state, the lock-order guard, the store slots.

:class:`BaseUnitOfWork` implements the :class:`~loancore.ports.UnitOfWork` contract around five
hooks an adapter fills in (``_begin``, ``_before_first_write``, ``_commit``, ``_rollback``,
``_end``); :class:`~loancore.adapters.memory.uow.MemoryUnitOfWork` and
:class:`~loancore.adapters.sql.uow.SqlUnitOfWork` are the two adapters.

The lock order (:data:`loancore.ports.LOCK_ORDER`: loans, then settlement, then quota, then the
ledger) is enforced
here, on the code path, for every adapter alike: each store handed out is wrapped in a
:class:`_Guarded` proxy that, before a write method runs, checks that no store later in the order
was written earlier in this unit of work, and raises
:class:`~loancore.errors.InvariantViolation` otherwise. The check is deterministic, so a use case
written in the wrong order fails its first test run instead of deadlocking once in production.

A unit of work object may be shared by threads: what ``with uow:`` opens lives in a thread-local,
so each thread has its own transaction (SQL) or waits for the units of work lock (memory).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from loancore.errors import InvariantViolation
from loancore.ports import LOCK_ORDER, LedgerStore, LoanStore, QuotaStore, SettlementStore

__all__ = ["WRITE_METHODS", "BaseUnitOfWork", "StoreSlot"]

T = TypeVar("T")

WRITE_METHODS: Mapping[str, frozenset[str]] = {
    "ledger": frozenset({"post", "reverse", "post_memo", "close_period", "save_chart"}),
    "quota": frozenset({"apply", "apply_many"}),
    "loans": frozenset(
        {
            *("save_product", "add", "update", "update_many", "save_standings"),
            *(
                "save_line_product",
                "add_line",
                "update_line",
                "update_lines",
            ),  # revolving credit lines
        }
    ),
    "settlement": frozenset(
        {"save_terms", "add_captures", "add_deductions", "save_batch", "save_file"}
    ),
}
"""Per store name, the methods that write (and so lock). Every other method only reads."""


class _Open:
    """One thread's open unit of work: the adapter's handle, the guarded stores, what was written."""

    __slots__ = ("finished", "handle", "methods", "rank_written", "stores", "written")

    def __init__(self, handle: object) -> None:
        self.handle = handle
        self.stores: dict[str, _Guarded] = {}
        self.rank_written = -1  # highest LOCK_ORDER rank written so far
        self.written: list[str] = []  # the stores written, in the order of their first write
        self.methods: set[tuple[str, str]] = set()  # every (store, write method) called
        self.finished = False


class _Guarded:
    """A store seen through a unit of work: reads pass through, writes are checked first against
    the lock order; every use after ``commit``/``rollback`` raises InvariantViolation."""

    __slots__ = ("_name", "_open", "_rank", "_store", "_uow", "_writes")

    def __init__(self, uow: BaseUnitOfWork, opened: _Open, name: str, store: object) -> None:
        self._uow = uow
        self._open = opened
        self._name = name
        self._rank = LOCK_ORDER.index(name)
        self._store = store
        self._writes = WRITE_METHODS.get(name, frozenset())

    def __getattr__(self, attribute: str) -> Any:
        opened = self._open
        if opened.finished:
            raise InvariantViolation(
                f"uow.{self._name}.{attribute} used after the unit of work was committed or "
                "rolled back; open a new one with `with uow:`"
            )
        value = getattr(self._store, attribute)
        if attribute not in self._writes:
            return value

        def write(*args: Any, **kwargs: Any) -> Any:
            self._uow._record_write(opened, self._name, self._rank, attribute)
            return value(*args, **kwargs)

        return write

    def __setattr__(self, attribute: str, value: object) -> None:
        if attribute in _Guarded.__slots__:
            object.__setattr__(self, attribute, value)
            return
        raise InvariantViolation(f"uow.{self._name} is read-only (tried to set {attribute!r})")

    def __repr__(self) -> str:
        return f"<{self._name} store in a unit of work: {self._store!r}>"


class StoreSlot(Generic[T]):
    """``uow.<name>``: the store of that name bound to this thread's open unit of work.

    Declared once on :class:`BaseUnitOfWork` per store (``quota = StoreSlot[QuotaStore]()``);
    the attribute's name is the store's name in :data:`~loancore.ports.LOCK_ORDER` and in the
    adapters' tables of stores.
    """

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        if name not in LOCK_ORDER:
            raise InvariantViolation(f"store {name!r} has no place in LOCK_ORDER {LOCK_ORDER}")
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: BaseUnitOfWork, owner: type) -> T: ...

    def __get__(self, instance: BaseUnitOfWork | None, owner: type) -> Self | T:
        if instance is None:
            return self
        store: T = instance._store(self.name)  # a _Guarded proxy standing for T
        return store


class BaseUnitOfWork(abc.ABC):
    """The :class:`~loancore.ports.UnitOfWork` contract over an adapter's five hooks.

    ``_builders`` (set by the adapter) maps each store name to a function of the handle ``_begin``
    returned (the SQL connection and transaction; ignored in memory) giving the store bound to it: adding a store to a
    unit of work is one :class:`StoreSlot` line below and one entry in each adapter's table.
    """

    ledger = StoreSlot[LedgerStore]()
    quota = StoreSlot[QuotaStore]()
    loans = StoreSlot[LoanStore]()
    settlement = StoreSlot[SettlementStore]()

    _builders: Mapping[str, Callable[[Any], object]]

    def __init__(self) -> None:
        self._local = threading.local()

    # -- the contract -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if getattr(self._local, "open", None) is not None:
            raise InvariantViolation("this unit of work is already open in this thread")
        handle = self._begin()
        opened = _Open(handle)
        try:
            for name, build in self._builders.items():
                opened.stores[name] = _Guarded(self, opened, name, build(handle))
        except BaseException:
            self._rollback(handle)
            self._end(handle)
            raise
        self._local.open = opened
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        opened = self._current()
        self._local.open = None
        try:
            if not opened.finished:
                opened.finished = True
                self._rollback(opened.handle)
        finally:
            self._end(opened.handle)

    def commit(self) -> None:
        opened = self._current()
        if opened.finished:
            raise InvariantViolation("this unit of work was already committed or rolled back")
        opened.finished = True  # from here on the stores refuse use, even if the commit fails
        try:
            self._commit(opened.handle, frozenset(opened.methods))
        except BaseException:
            self._rollback(opened.handle)  # a commit that failed keeps nothing
            raise

    def rollback(self) -> None:
        opened = self._current()
        if not opened.finished:
            opened.finished = True
            self._rollback(opened.handle)

    # -- shared mechanics -------------------------------------------------------------------------

    def _current(self) -> _Open:
        opened: _Open | None = getattr(self._local, "open", None)
        if opened is None:
            raise InvariantViolation("no unit of work is open in this thread; use `with uow:`")
        return opened

    def _store(self, name: str) -> Any:
        return self._current().stores[name]

    def _record_write(self, opened: _Open, name: str, rank: int, method: str) -> None:
        """Check the lock order before ``name.method`` writes; note the store's first write."""
        if rank < opened.rank_written:
            later = next(store for store in opened.written if LOCK_ORDER.index(store) > rank)
            raise InvariantViolation(
                f"lock order: uow.{name}.{method} after a write to uow.{later}; a unit of work "
                f"writes {', then '.join(LOCK_ORDER)} (docs/architecture.md, Lock order)"
            )
        if name not in opened.written:
            self._before_first_write(opened.handle, name)
            opened.written.append(name)
        opened.methods.add((name, method))
        opened.rank_written = rank

    # -- adapter hooks ----------------------------------------------------------------------------

    @abc.abstractmethod
    def _begin(self) -> object:
        """Open the transaction; return the handle the builders and the other hooks receive."""

    def _before_first_write(self, handle: object, name: str) -> None:
        """Called once per store, right before its first write in this unit of work."""

    @abc.abstractmethod
    def _commit(self, handle: object, written: frozenset[tuple[str, str]]) -> None:
        """Make the transaction durable; ``written`` holds every (store, write method) called."""

    @abc.abstractmethod
    def _rollback(self, handle: object) -> None:
        """Undo the transaction."""

    def _end(self, handle: object) -> None:
        """Release what ``_begin`` took (a connection, the memory locks); after commit/rollback."""
