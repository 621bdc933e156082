"""The SQL base and the SQL ledger store: schema versions, app-supplied connections, exact amounts.

Runs on SQLite always and on PostgreSQL when the ``postgres_url`` fixture has a server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from loancore.adapters.sql import (
    SCHEMA_TABLE,
    amount_column,
    create_engine,
    currency_column,
    ensure_schema,
    schema_version,
    write_transaction,
)
from loancore.errors import InvalidInput, SchemaVersionMismatch
from sql_stores import make_sql_engine

KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

# Test tables live in their own MetaData so loancore's shared one stays clean.
_TEST_METADATA = sa.MetaData()
WIDGETS = sa.Table(
    "test_widgets",
    _TEST_METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    amount_column("amount_minor"),
    currency_column(),
)


@pytest.fixture(params=KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = make_sql_engine(request.param, tmp_path, url)
    yield engine
    engine.dispose()


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(WIDGETS)).scalar_one()


# -- schema versioning ----------------------------------------------------------------------------


def test_ensure_schema_creates_tables_and_records_the_version(engine: sa.Engine) -> None:
    assert schema_version(engine, "widgets") is None
    assert ensure_schema(engine, "widgets", 1, [WIDGETS]) is None
    assert schema_version(engine, "widgets") == 1
    assert ensure_schema(engine, "widgets", 1, [WIDGETS]) == 1  # idempotent
    assert sa.inspect(engine).has_table("test_widgets")


def test_ensure_schema_refuses_a_database_newer_than_the_code(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 3, [WIDGETS])
    with pytest.raises(SchemaVersionMismatch) as caught:
        ensure_schema(engine, "widgets", 2, [WIDGETS])
    assert (caught.value.component, caught.value.found, caught.value.expected) == ("widgets", 3, 2)
    assert schema_version(engine, "widgets") == 3  # untouched


def test_ensure_schema_refuses_an_older_database_without_a_migration_path(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with pytest.raises(SchemaVersionMismatch, match=r"no migration registered from version\(s\) \[2\]"):
        ensure_schema(engine, "widgets", 3, [WIDGETS], migrations={1: lambda c: None})
    assert schema_version(engine, "widgets") == 1


def test_ensure_schema_applies_each_migration_step_in_order(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    applied: list[int] = []

    def step(version: int):
        def apply(connection: sa.Connection) -> None:
            applied.append(version)
            if version == 1:
                connection.execute(sa.text("ALTER TABLE test_widgets ADD COLUMN note VARCHAR(20)"))

        return apply

    assert ensure_schema(engine, "widgets", 3, [WIDGETS], migrations={1: step(1), 2: step(2)}) == 1
    assert applied == [1, 2]
    assert schema_version(engine, "widgets") == 3
    assert "note" in {c["name"] for c in sa.inspect(engine).get_columns("test_widgets")}


def test_a_failed_migration_changes_nothing(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])

    def broken(connection: sa.Connection) -> None:
        connection.execute(WIDGETS.insert().values(amount_minor=1, currency="CNY"))
        raise RuntimeError("migration failed half-way")

    with pytest.raises(RuntimeError):
        ensure_schema(engine, "widgets", 2, [WIDGETS], migrations={1: broken})
    assert schema_version(engine, "widgets") == 1
    assert _count(engine) == 0


def test_components_are_versioned_independently(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 2, [WIDGETS])
    ensure_schema(engine, "gadgets", 1, [])
    with engine.connect() as connection:
        rows = dict(connection.execute(sa.select(SCHEMA_TABLE.c.component, SCHEMA_TABLE.c.version)).all())
    assert rows == {"widgets": 2, "gadgets": 1}


# -- transactions: Engine vs the application's Connection ---------------------------------------


def test_writes_through_an_app_connection_roll_back_with_the_app(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with engine.connect() as connection:
        with write_transaction(connection) as inner:
            inner.execute(WIDGETS.insert().values(amount_minor=5, currency="CNY"))
        assert connection.in_transaction()  # left open: the app decides
        connection.rollback()
    assert _count(engine) == 0


def test_writes_through_an_app_connection_commit_with_the_app(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with engine.connect() as connection:
        connection.execute(WIDGETS.insert().values(amount_minor=1, currency="CNY"))  # app's own
        with write_transaction(connection) as inner:
            inner.execute(WIDGETS.insert().values(amount_minor=2, currency="CNY"))
        connection.commit()
    assert _count(engine) == 2


def test_a_failed_operation_in_an_app_transaction_undoes_only_itself(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with engine.connect() as connection:
        connection.execute(WIDGETS.insert().values(amount_minor=1, currency="CNY"))
        with pytest.raises(RuntimeError):
            with write_transaction(connection) as inner:
                inner.execute(WIDGETS.insert().values(amount_minor=2, currency="CNY"))
                raise RuntimeError("operation failed")
        connection.commit()
    assert _count(engine) == 1


def test_a_plain_sqlite_engine_is_refused(tmp_path: Path) -> None:
    plain = sa.create_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with pytest.raises(InvalidInput, match="configure_sqlite_engine"):
        ensure_schema(plain, "widgets", 1, [WIDGETS])
    plain.dispose()


def test_sqlite_engine_is_durable_and_checks_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(tmp_path / "pragmas.sqlite")
    with engine.connect() as connection:
        pragmas = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        ]
    engine.dispose()
    assert pragmas == ["wal", 2, 1]  # synchronous 2 = FULL


@pytest.mark.parametrize("currency", ["CNY", "JPY", "KWD"])
@pytest.mark.parametrize("minor", [0, 1, -1, 2**63 - 1, -(2**63), 123_456_789_012_345])
def test_bigint_minor_units_round_trip_exactly(engine: sa.Engine, currency: str, minor: int) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with engine.begin() as connection:
        connection.execute(WIDGETS.insert().values(amount_minor=minor, currency=currency))
    with engine.connect() as connection:
        row = connection.execute(sa.select(WIDGETS.c.amount_minor, WIDGETS.c.currency)).one()
    assert row == (minor, currency)
    assert type(row[0]) is int
