"""SQL units of work (SQLite and PostgreSQL): joining an application's transaction, and cheap to
build (schema checked once per Engine, chart cached, no query before the first store call)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from uow_kit import DAY, cny, draw_entry, make_engine, set_up, state

from loancore.adapters.sql.quota import SqlQuotaStore
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvalidInput
from loancore.quota import Hold

ORDERS = sa.Table("app_orders", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))


@pytest.fixture
def engine(sql_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if sql_kind == "postgres" else None
    made = make_engine(sql_kind, tmp_path, url)
    set_up(SqlUnitOfWork(made))
    with made.begin() as connection:
        ORDERS.create(connection)
    yield made
    made.dispose()


def held_outside(engine: sa.Engine) -> int:
    """The sub-line's held amount as another connection sees it (committed data only)."""
    return SqlQuotaStore(engine, create_schema=False).balance("S").held_minor


def orders_outside(engine: sa.Engine) -> list[int]:
    with engine.connect() as connection:
        connection.execution_options(loancore_sqlite_begin="DEFERRED")
        return list(connection.execute(sa.select(ORDERS.c.id)).scalars())


def order_and_draw(connection: sa.Connection) -> None:
    """The application's order row and loancore's unit of work, in the application's transaction."""
    connection.execute(ORDERS.insert().values(id=1))
    uow = SqlUnitOfWork(connection)
    with uow:
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
        uow.ledger.post([draw_entry(1)])
        uow.commit()  # releases the SAVEPOINT; the application's transaction stays open


def test_the_applications_rollback_removes_loancores_writes(engine: sa.Engine) -> None:
    before = state(SqlUnitOfWork(engine))
    with engine.connect() as connection:
        order_and_draw(connection)
        assert held_outside(engine) == 0  # not committed: the unit of work did not commit it
        connection.rollback()
    assert state(SqlUnitOfWork(engine)) == before
    assert orders_outside(engine) == []


def test_the_applications_commit_keeps_loancores_writes(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        order_and_draw(connection)
        connection.commit()
    assert held_outside(engine) == 10_000
    assert orders_outside(engine) == [1]
    uow = SqlUnitOfWork(engine)
    with uow:
        assert uow.ledger.get_entry("E-1") == draw_entry(1)


def test_a_failed_unit_of_work_leaves_the_applications_transaction_usable(
    engine: sa.Engine,
) -> None:
    with engine.connect() as connection:
        connection.execute(ORDERS.insert().values(id=7))
        uow = SqlUnitOfWork(connection)
        with pytest.raises(RuntimeError), uow:
            uow.quota.apply(
                Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
            )
            raise RuntimeError("injected")
        connection.execute(ORDERS.insert().values(id=8))
        connection.commit()
    assert orders_outside(engine) == [7, 8]
    assert held_outside(engine) == 0


class Statements:
    """Every SQL statement an Engine's connections send, while recording."""

    def __init__(self, engine: sa.Engine) -> None:
        self.sent: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.sent.append(statement)


def test_building_a_unit_of_work_runs_no_query_after_the_first_on_an_engine(
    engine: sa.Engine,
) -> None:
    statements = Statements(engine)
    uow = SqlUnitOfWork(engine)
    assert statements.sent == []
    with uow:
        pass
    assert all(s.startswith("BEGIN") for s in statements.sent), statements.sent


def test_a_post_in_a_unit_of_work_reads_the_chart_from_the_cache(engine: sa.Engine) -> None:
    statements = Statements(engine)
    uow = SqlUnitOfWork(engine)
    with uow:
        uow.ledger.post([draw_entry(1)])
        uow.commit()
    assert not [s for s in statements.sent if "FROM ledger_subjects" in s]
    assert not [s for s in statements.sent if "loancore_schema" in s]


def test_a_chart_saved_in_a_unit_of_work_is_seen_by_the_next(engine: sa.Engine) -> None:
    uow = SqlUnitOfWork(engine)
    with uow:
        chart = uow.ledger.load_chart()
        smaller = type(chart)(s for s in chart if s.code != "6011")
        uow.ledger.save_chart(smaller)
        uow.commit()
    with uow:
        assert "6011" not in uow.ledger.load_chart()


def test_an_unconfigured_sqlite_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="bind"):
        SqlUnitOfWork(sa.create_engine(f"sqlite:///{tmp_path / 'raw.sqlite'}"))
    with pytest.raises(InvalidInput, match="bind"):
        SqlUnitOfWork("books.sqlite")  # type: ignore[arg-type]
