"""SqlUnitOfWork: one transaction across the loan, settlement, quota and ledger stores (SQLite,
PostgreSQL).

``with uow:`` opens a connection and ONE transaction (``BEGIN IMMEDIATE`` on SQLite, READ
COMMITTED on PostgreSQL) and builds every store bound to that connection; each store operation
then runs in a SAVEPOINT inside it (so a refused operation undoes only itself), and
``uow.commit()`` commits them together. Given an application's Connection instead of an Engine,
the unit of work opens a SAVEPOINT in the application's transaction and never commits that
transaction: the application's ``commit()`` keeps loancore's writes, its ``rollback()`` removes
them.

Cheap to build: the schema of each component is created or checked once per Engine (the first
unit of work on it; remembered on the Engine object), not per unit of work, and the ledger's chart cache is shared by every unit
of work on the Engine; entering a unit of work builds two small store objects and no query runs
before the first store call (bench/bench_uow.py measures it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine, Transaction

from loancore.adapters.sql.base import Bind, check_bind
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.loans import SqlLoanStore
from loancore.adapters.sql.loans_codec import LineMemo
from loancore.adapters.sql.quota import SqlQuotaStore
from loancore.adapters.sql.settlement import SqlSettlementStore
from loancore.adapters.unit_of_work import BaseUnitOfWork
from loancore.errors import InvalidInput
from loancore.quota import QuotaConfig

__all__ = ["SqlUnitOfWork"]


class _EngineState:
    """What is done once per Engine: the schemas checked, and the ledger store whose chart cache
    every unit of work on the Engine shares."""

    __slots__ = ("ledger",)

    def __init__(self, engine: Engine) -> None:
        self.ledger = SqlLedgerStore(engine)  # creates or checks the ledger schema
        SqlQuotaStore(engine)  # creates or checks the quota schema
        SqlLoanStore(engine)  # creates or checks the loans schema
        SqlSettlementStore(engine)  # creates or checks the settlement schema
        self.ledger.load_chart()  # warms the chart cache


_THREAD = threading.local()


def _thread_memo() -> LineMemo:
    """The line memo the loans stores of this thread's units of work share (SqlLoanStore)."""
    memo: LineMemo | None = getattr(_THREAD, "memo", None)
    if memo is None:
        memo = _THREAD.memo = LineMemo()
    return memo


_ENGINE_STATE = "_loancore_unit_of_work_state"  # an attribute of the Engine: dies with it
_ENGINES_LOCK = threading.Lock()


def _engine_state(engine: Engine) -> _EngineState:
    with _ENGINES_LOCK:
        state: _EngineState | None = getattr(engine, _ENGINE_STATE, None)
        if state is None:
            state = _EngineState(engine)
            setattr(engine, _ENGINE_STATE, state)
        return state


def _known_engine_state(engine: Engine) -> _EngineState | None:
    state: _EngineState | None = getattr(engine, _ENGINE_STATE, None)
    return state


class _Handle:
    __slots__ = ("connection", "owned", "transaction")

    def __init__(self, connection: Connection, transaction: Transaction, *, owned: bool) -> None:
        self.connection = connection
        self.transaction = transaction
        self.owned = owned  # the unit of work opened the connection (Engine bind) and closes it


class SqlUnitOfWork(BaseUnitOfWork):
    """``SqlUnitOfWork(bind, quota_config=None)``: units of work on one database.

    ``bind``: an Engine from :func:`loancore.adapters.sql.create_engine` (each ``with uow:`` takes
    a pooled connection and commits its own transaction), or an application's Connection (each
    ``with uow:`` is a SAVEPOINT in the application's transaction, begun if it has none; the
    application commits). The object may be kept and shared by threads (each thread's ``with``
    has its own connection), or built per request: after the first on an Engine, building one
    runs no query.

    On an application's Connection whose Engine has had no unit of work yet, the schemas are
    checked inside the application's transaction (so they roll back with it) on every build.
    """

    def __init__(self, bind: Bind, *, quota_config: QuotaConfig | None = None) -> None:
        super().__init__()
        check_bind(bind)
        config = QuotaConfig() if quota_config is None else quota_config
        if not isinstance(config, QuotaConfig):
            raise InvalidInput("quota_config", quota_config, "expected a QuotaConfig")
        self._bind = bind
        if isinstance(bind, Engine):
            ledger_root = _engine_state(bind).ledger
        else:
            known = _known_engine_state(bind.engine)
            if known is not None:
                ledger_root = known.ledger
            else:  # inside the application's transaction; not remembered (it may roll back)
                ledger_root = SqlLedgerStore(bind)
                SqlQuotaStore(bind, config)
                SqlLoanStore(bind)
                SqlSettlementStore(bind)
        self._ledger_root = ledger_root
        self._builders: Mapping[str, Callable[[Any], object]] = {
            "ledger": lambda handle: ledger_root.using(handle.connection),
            "quota": lambda handle: SqlQuotaStore(handle.connection, config, create_schema=False),
            "loans": lambda handle: SqlLoanStore(
                handle.connection, create_schema=False, memo=_thread_memo()
            ),
            "settlement": lambda handle: SqlSettlementStore(handle.connection, create_schema=False),
        }

    @property
    def bind(self) -> Bind:
        return self._bind

    def _begin(self) -> _Handle:
        bind = self._bind
        if isinstance(bind, Engine):
            connection = bind.connect()
            try:
                return _Handle(connection, connection.begin(), owned=True)
            except BaseException:
                connection.close()
                raise
        return _Handle(bind, bind.begin_nested(), owned=False)

    def _commit(self, handle: object, written: frozenset[tuple[str, str]]) -> None:
        assert isinstance(handle, _Handle)
        handle.transaction.commit()
        if handle.owned and ("ledger", "save_chart") in written:
            self._ledger_root.load_chart()  # cache the newly committed chart for the next ones

    def _rollback(self, handle: object) -> None:
        assert isinstance(handle, _Handle)
        if handle.transaction.is_active:
            handle.transaction.rollback()

    def _end(self, handle: object) -> None:
        assert isinstance(handle, _Handle)
        if handle.owned:
            handle.connection.close()
