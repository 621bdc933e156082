"""SqlQuotaStore specifics: an application's own transaction, the schema record, exact storage."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sa = pytest.importorskip("sqlalchemy")

from quota_stores import make_quota_engine

from loancore.adapters.sql import schema_version
from loancore.adapters.sql.quota import (
    QUOTA_COMPONENT,
    QUOTA_SCHEMA_VERSION,
    SqlQuotaStore,
)
from loancore.errors import QuotaRejected, RejectionCode
from loancore.money import Money
from loancore.quota import Draw, Grant

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


@pytest.fixture(params=KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = make_quota_engine(request.param, tmp_path, url)
    yield engine
    engine.dispose()


def test_quota_writes_commit_and_roll_back_with_the_application(engine: Any) -> None:
    store = SqlQuotaStore(engine)
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("1000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    with engine.connect() as connection:
        mine = store.using(connection)
        mine.apply(Draw(key="d1", line_id="M", amount=cny("100.00")), as_of=DAY)
        assert mine.balance("M").used_minor == 10_000  # the application's transaction sees it
        connection.rollback()
    assert store.balance("M").used_minor == 0 and store.result("d1") is None
    with engine.connect() as connection:
        store.using(connection).apply(Draw(key="d1", line_id="M", amount=cny("100.00")), as_of=DAY)
        connection.commit()
    assert store.balance("M").used_minor == 10_000 and store.check() == ()


def test_a_refusal_inside_the_application_s_transaction_leaves_it_usable(engine: Any) -> None:
    """A refused command rolls back only its own SAVEPOINT: the application's earlier writes in
    the same transaction stay, and commit with it."""
    store = SqlQuotaStore(engine)
    grant = Grant(
        key="g-M", line_id="M", borrower_id="b1", limit=cny("1000.00"), starts_on=DAY,
        expires_on=LATER,
    )  # fmt: skip
    store.apply(grant, as_of=DAY)
    with engine.connect() as connection:
        mine = store.using(connection)
        mine.apply(Draw(key="d1", line_id="M", amount=cny("100.00")), as_of=DAY)
        with pytest.raises(QuotaRejected):
            mine.apply(Draw(key="d2", line_id="M", amount=cny("900.01")), as_of=DAY)
        assert mine.result("d2") is None and mine.balance("M").used_minor == 10_000
        connection.commit()
    assert store.balance("M").used_minor == 10_000 and store.result("d2") is None
    assert store.check() == ()


def test_the_store_shows_its_bind_and_engine_read_only(engine: Any) -> None:
    store = SqlQuotaStore(engine)
    assert store.bind is engine and store.engine is engine
    with engine.connect() as connection:
        joined = store.using(connection)
        assert joined.bind is connection and joined.engine is engine
    with pytest.raises(AttributeError):
        store.engine = engine  # type: ignore[misc]


def test_schema_is_recorded_and_amounts_are_integer_minor_units(engine: Any) -> None:
    store = SqlQuotaStore(engine)
    assert schema_version(engine, QUOTA_COMPONENT) == QUOTA_SCHEMA_VERSION
    big = Money(Decimal("90000000000000.01"), "CNY")  # 9e15 fen: near BIGINT's 9.2e18 / 1000
    with pytest.raises(QuotaRejected) as refused:
        store.apply(
            Grant(
                key="g-M", line_id="M", borrower_id="b1", limit=big, starts_on=DAY, expires_on=LATER
            ),
            as_of=DAY,
        )
    assert refused.value.code is RejectionCode.QUOTA_BORROWER_CAP_EXCEEDED
    store.apply(
        Grant(
            key="g-X",
            line_id="X",
            borrower_id="b1",
            limit=cny("199999.99"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    with engine.connect() as connection:
        query = sa.text("SELECT limit_permanent_minor FROM quota_lines")
        stored = connection.execute(query).scalar_one()
    assert stored == 19_999_999 and isinstance(stored, int)
    SqlQuotaStore(engine)  # opening again finds the schema in place


def test_the_journal_is_read_in_pages(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import loancore.adapters.sql.quota as sql_quota

    store = SqlQuotaStore(engine)
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("1000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    for index in range(6):
        store.apply(Draw(key=f"d{index}", line_id="M", amount=cny("1.00")), as_of=DAY)
    everything = list(store.journal())
    monkeypatch.setattr(sql_quota, "_PAGE", 2)
    assert list(store.journal()) == everything and len(everything) == 7


def _store_with_a_draw(engine: Any) -> tuple[SqlQuotaStore, Draw]:
    """A store holding line M and draw d1 of 100.00 CNY on it."""
    store = SqlQuotaStore(engine)
    draw = Draw(key="d1", line_id="M", amount=cny("100.00"))
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("1000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    store.apply(draw, as_of=DAY)
    return store, draw


def test_a_replay_is_judged_by_the_command_s_fingerprint(engine: Any) -> None:
    from loancore.errors import IdempotencyConflict
    from loancore.quota import command_fingerprint

    store, draw = _store_with_a_draw(engine)
    with engine.connect() as connection:
        query = sa.text("SELECT command FROM quota_operations WHERE key = 'd1'")
        assert connection.execute(query).scalar_one() == command_fingerprint(draw)
    assert store.apply(
        Draw(key="d1", line_id="M", amount=Money(Decimal("100.0"), "CNY")), as_of=DAY
    ).replayed
    with pytest.raises(IdempotencyConflict):
        store.apply(Draw(key="d1", line_id="M", amount=cny("100.01")), as_of=DAY)
    assert store.balance("M").used_minor == 10_000


def test_keys_stored_by_schema_1_are_still_judged_by_their_repr(engine: Any) -> None:
    """Schema 1 kept repr(command): those rows are compared that way, never rewritten."""
    from loancore.errors import IdempotencyConflict

    store, draw = _store_with_a_draw(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE quota_operations SET command = :old WHERE key = 'd1'"),
            {"old": repr(draw)},
        )
    assert store.apply(draw, as_of=DAY).replayed
    with pytest.raises(IdempotencyConflict):
        store.apply(Draw(key="d1", line_id="M", amount=cny("99.00")), as_of=DAY)
    assert store.balance("M").used_minor == 10_000


def test_a_schema_1_quota_database_is_migrated(engine: Any) -> None:
    from loancore.adapters.sql import SCHEMA_TABLE
    from loancore.adapters.sql.quota import QUOTA_TABLES

    store = SqlQuotaStore(engine)
    assert store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny("1000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    identifiers = [
        (table.name, column.name)
        for table in QUOTA_TABLES
        for column in table.columns
        if isinstance(column.type, sa.String)
        and not isinstance(column.type, sa.Text)
        and column.type.length == 200
    ]
    assert _collations(engine) in ({"C"}, None)  # a fresh PostgreSQL schema is "C" already
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table, column in identifiers:
                connection.exec_driver_sql(
                    f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE varchar(200) COLLATE "default"'
                )
        connection.execute(
            SCHEMA_TABLE.update()
            .where(SCHEMA_TABLE.c.component == QUOTA_COMPONENT)
            .values(version=1)
        )
    migrated = SqlQuotaStore(engine)
    assert schema_version(engine, QUOTA_COMPONENT) == QUOTA_SCHEMA_VERSION == 3
    assert migrated.balance("M") == store.balance("M") and migrated.check() == ()
    assert _collations(engine) in ({"C"}, None)
    assert len(identifiers) > 10


def _collations(engine: Any) -> set[str] | None:
    """The collations of the quota's identifier columns on PostgreSQL (None on SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        rows = (
            connection.exec_driver_sql(
                "SELECT collation_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name LIKE 'quota%%'"
                " AND character_maximum_length = 200"
            )
            .scalars()
            .all()
        )
    return set(rows)


def test_refusals_recorded_by_schema_2_are_deleted_and_their_keys_freed(engine: Any) -> None:
    """Schemas 1 and 2 kept refused operations (code <> 0, no events); schema 3 records only
    accepted ones, so the 2 -> 3 migration deletes the refusals: a retry is judged afresh."""
    from loancore.adapters.sql import SCHEMA_TABLE

    store, _draw = _store_with_a_draw(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO quota_operations (key, command, code) VALUES ('d2', '{}', 300)")
        )
        connection.execute(
            SCHEMA_TABLE.update()
            .where(SCHEMA_TABLE.c.component == QUOTA_COMPONENT)
            .values(version=2)
        )
    migrated = SqlQuotaStore(engine)
    assert schema_version(engine, QUOTA_COMPONENT) == QUOTA_SCHEMA_VERSION == 3
    assert migrated.result("d2") is None and migrated.result("d1") == store.result("d1")
    migrated.apply(Draw(key="d2", line_id="M", amount=cny("1.00")), as_of=DAY)
    assert migrated.balance("M").used_minor == 10_100 and migrated.check() == ()


def test_a_hold_and_its_capture_run_the_documented_statements(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/quota.md, "Performance": no redundant read. SQLite: a hold reads the line pair,
    claims the key, updates both balances, inserts the hold and the event (5); a capture also
    reads the hold first and updates it (6). PostgreSQL reads the temporary limits after the row
    locks, and a capture reads the hold again once its lines are locked (6 and 8)."""
    import loancore.adapters.sql.quota as sql_quota
    from loancore.quota import Capture, Hold

    store = SqlQuotaStore(engine)
    for grant in (
        Grant(key="g-M", line_id="M", borrower_id="b1", limit=cny("1000.00"), starts_on=DAY,
              expires_on=LATER),
        Grant(key="g-S", line_id="S", borrower_id="b1", limit=cny("800.00"), starts_on=DAY,
              expires_on=LATER, master_id="M"),
    ):  # fmt: skip
        store.apply(grant, as_of=DAY)
    names: list[str] = []
    execute = sql_quota._Raw.execute

    def recorded(self: Any, name: str, values: Any) -> int:
        names.append(name)
        return execute(self, name, values)

    monkeypatch.setattr(sql_quota._Raw, "execute", recorded)
    store.apply(Hold(key="h1", line_id="S", amount=cny("10.00"), expires_on=LATER), as_of=DAY)
    hold, names[:] = list(names), []
    store.apply(Capture(key="c1", hold_id="h1"), as_of=DAY)
    writes = ["claim_operation", "update_balances"]
    if engine.dialect.name == "sqlite":
        assert hold == ["pair", *writes, "insert_hold", "insert_event"]
        assert names == ["hold", "pair", *writes, "update_hold", "insert_event"]
    else:
        locked = ["pair_for_update", "temporary"]
        assert hold == [*locked, *writes, "insert_hold", "insert_event"]
        assert names == ["hold", *locked, "hold", *writes, "update_hold", "insert_event"]
    assert store.balance("M") == store.balance("S") and store.check() == ()
