"""Ledger schema migrations, on SQLite and PostgreSQL.

A database written by an older schema is built here from that schema's own definitions (the code
declares only the current one) and filled with the rows a real ledger wrote, in the old format.
Opening it with :class:`SqlLedgerStore` must upgrade it to a database indistinguishable from a
fresh one (same columns, defaults, keys, indexes and their conditions, as the database itself
reports them) holding the same journal, balances, memo registers and close log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sql_stores import IDENTIFIER_COLUMNS, loan_entry, make_sql_engine, small_chart

from loancore.adapters.sql import METADATA, SCHEMA_TABLE, create_engine, schema_version
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.adapters.sql.ledger_schema import (
    LEDGER_SCHEMA_VERSION,
    LEDGER_TABLES,
    NO_DIMENSION,
    SEGMENTS,
    TOTALS,
)
from loancore.ledger import (
    DIMENSION_KEYS,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
)
from loancore.money import Money

KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
END = date(2026, 12, 31)


@pytest.fixture(params=KINDS)
def engines(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two empty databases of one kind: one to migrate, one to create fresh for comparison."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    pair = (
        make_sql_engine(request.param, tmp_path, url),
        make_sql_engine(request.param, tmp_path, url),
    )
    yield pair
    for engine in pair:
        engine.dispose()


def _written_ledger(tmp_path: Path) -> SqlLedgerStore:
    """A current ledger with what the old formats must carry: legs with some, all and no
    dimensions, a reversal, memo postings with and without dimensions, and a period close."""
    store = SqlLedgerStore(create_engine(tmp_path / "source.sqlite"))
    store.save_chart(small_chart())
    entries = [loan_entry(n, day=date(2026, 3, 1 + n % 3)) for n in range(1, 8)]
    cash = Money.from_minor(12_345, "CNY")
    every = {"customer": "C9", "loan": "L9", "merchant": "M9", "partner": "P9", "product": "medaes"}
    entries.append(
        JournalEntry(
            entry_id="plain",
            idempotency_key="plain",
            accounting_date=date(2026, 3, 2),
            legs=(Leg.debit("1002", cash), Leg.credit("6011", cash, every)),
        )
    )
    store.post(entries)
    store.reverse("e3", reversal_id="r3", idempotency_key="r3", accounting_date=date(2026, 3, 4))
    store.close_period(date(2026, 3, 2))
    store.post_memo(
        [
            MemoPosting(
                posting_id=f"m{n}",
                idempotency_key=f"mk{n}",
                register=MemoRegister.OFF_BALANCE_INTEREST,
                accounting_date=date(2026, 3, 5),
                direction=MemoDirection.INCREASE,
                amount=Money.from_minor(100 * n, "CNY"),
                dimensions=dims,
            )
            for n, dims in enumerate(
                [{"loan": "L1"}, {}, {"loan": "L2", "customer": "C1"}], start=1
            )
        ]
    )
    return store


def _ledger_at_version_2(target: sa.Engine, source: SqlLedgerStore) -> None:
    """Create the ledger tables on ``target`` as schema 2 declared them (a dimension a leg or memo
    posting lacks is NULL; the dimension indexes' condition is IS NOT NULL), copy ``source``'s
    rows into them in that format, and record version 2. Schema 2 indexed all five dimensions on
    the legs and had no segment totals."""
    metadata = sa.MetaData(naming_convention=METADATA.naming_convention)
    since_3 = (SEGMENTS, TOTALS)
    tables = _before_5(metadata, [table for table in LEDGER_TABLES if table not in since_3])
    old = {table.name: table for table in tables}
    for name in ("ledger_legs", "ledger_memo_postings"):
        for key in DIMENSION_KEYS:
            old[name].c[key].nullable = True
            old[name].c[key].server_default = None
    legs = old["ledger_legs"]
    for index in [
        i for i in legs.indexes if i.name.removeprefix("ix_ledger_legs_") in DIMENSION_KEYS
    ]:
        legs.indexes.discard(index)
    for key in DIMENSION_KEYS:
        where = legs.c[key].isnot(None)
        sa.Index(
            f"ix_ledger_legs_{key}",
            legs.c.accounting_date,
            legs.c[key],
            legs.c.subject_code,
            sqlite_where=where,
            postgresql_where=where,
        )
    _copy_ledger(source, target, metadata, tables, version=2, null_dimensions=True)


def _before_5(metadata: sa.MetaData, tables: list[sa.Table]) -> list[sa.Table]:
    """``tables`` copied into ``metadata`` as schema 4 and earlier declared them: the totals
    without ``slot`` (nor it in their primary keys), the close log without ``last_seq``."""
    copies = [table.to_metadata(metadata) for table in tables]
    for table in copies:
        for name in ("slot", "last_seq"):
            if name in table.c:
                column = table.c[name]
                table._columns.remove(column)
                if name in table.primary_key.columns:
                    table.primary_key._columns.remove(column)
    return copies


def _copy_ledger(
    source: SqlLedgerStore,
    target: sa.Engine,
    metadata: sa.MetaData,
    tables: list[sa.Table],
    *,
    version: int,
    null_dimensions: bool,
) -> None:
    """Create ``metadata``'s tables on ``target``, copy ``source``'s rows into them (absent
    dimensions as NULL when ``null_dimensions``) and record ``version``."""
    with source.bind.connect() as reading, target.begin() as writing:
        metadata.create_all(writing)
        SCHEMA_TABLE.create(writing, checkfirst=True)
        writing.execute(SCHEMA_TABLE.insert().values(component="ledger", version=version))
        for table in tables:
            rows = [dict(row._mapping) for row in reading.execute(sa.select(table))]
            for row in rows:
                for key in DIMENSION_KEYS if null_dimensions else ():
                    if row.get(key) == NO_DIMENSION:
                        row[key] = None
            if rows:
                writing.execute(table.insert(), rows)


def _ledger_at_version_4(target: sa.Engine, source: SqlLedgerStore) -> None:
    """The ledger tables on ``target`` as schema 4 declared them (one row per total, no slots;
    no ``last_seq`` in the close log; no entry sequence), with ``source``'s rows."""
    metadata = sa.MetaData(naming_convention=METADATA.naming_convention)
    tables = _before_5(metadata, list(LEDGER_TABLES))
    metadata.tables["ledger_entries"].c.seq.default = None  # no sequence before schema 5
    _copy_ledger(source, target, metadata, tables, version=4, null_dimensions=False)


def _back_to_version_1(engine: sa.Engine) -> None:
    """Turn a schema-2 ledger into what schema 1 created: dimension indexes leading with the
    dimension, and (PostgreSQL) identifier columns in the database's collation."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table, column in IDENTIFIER_COLUMNS:
                if table in (SEGMENTS.name, TOTALS.name):  # since schema 3 and 4
                    continue
                connection.exec_driver_sql(
                    f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "default"'
                )
        for key in DIMENSION_KEYS:
            connection.exec_driver_sql(f"DROP INDEX ix_ledger_legs_{key}")
            connection.exec_driver_sql(
                f"CREATE INDEX ix_ledger_legs_{key} ON ledger_legs ({key}, subject_code, accounting_date)"
                f" WHERE {key} IS NOT NULL"
            )
        connection.execute(
            SCHEMA_TABLE.update().where(SCHEMA_TABLE.c.component == "ledger").values(version=1)
        )


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """The ledger tables the database has, as it reports them: columns (type, nullability, default),
    primary key, unique, foreign key and check constraints, and indexes with their conditions."""
    inspector = sa.inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted({t.name for t in LEDGER_TABLES} & set(inspector.get_table_names())):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "foreign": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(c["sqltext"] for c in inspector.get_check_constraints(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"], _options(i))
                for i in inspector.get_indexes(table)
            ),
        }
    return out


def _options(index: dict[str, Any]) -> list[tuple[str, str]]:
    """An index's dialect options (its partial condition) as text."""
    return sorted((name, str(value)) for name, value in index.get("dialect_options", {}).items())


def _null_dimensions(engine: sa.Engine) -> int:
    nulls = " OR ".join(f"{key} IS NULL" for key in DIMENSION_KEYS)
    with engine.connect() as connection:
        return sum(
            connection.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE {nulls}").scalar_one()
            for table in ("ledger_legs", "ledger_memo_postings")
        )


def _assert_same_ledger(migrated: SqlLedgerStore, source: SqlLedgerStore) -> None:
    assert list(migrated.entries()) == list(source.entries())
    assert list(migrated.memo_postings()) == list(source.memo_postings())
    assert migrated.trial_balance(as_of=END) == source.trial_balance(as_of=END)
    assert migrated.period_closes() == source.period_closes()
    assert migrated.closed_through() == source.closed_through()
    dimensions = [
        ("loan", "L2"),
        ("merchant", "M3"),
        ("customer", "C1"),
        ("product", "medaes"),
        ("partner", "P9"),
    ]
    for key, value in dimensions:
        for subject in ("1303", "2202", "6011"):
            wanted = {key: value}
            assert migrated.balance(subject, "CNY", as_of=END, dimensions=wanted) == source.balance(
                subject, "CNY", as_of=END, dimensions=wanted
            )
        ledger = migrated.general_ledger(
            "1303", "CNY", start=date(2026, 3, 1), end=END, dimensions={key: value}
        )
        assert ledger == source.general_ledger(
            "1303", "CNY", start=date(2026, 3, 1), end=END, dimensions={key: value}
        )
    for register in MemoRegister:
        for wanted in (None, {"loan": "L1"}, {"customer": "C1"}):
            assert migrated.memo_balance(
                register, "CNY", as_of=END, dimensions=wanted
            ) == source.memo_balance(register, "CNY", as_of=END, dimensions=wanted)


def _segment_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.select(SEGMENTS).order_by(*SEGMENTS.primary_key.columns)
            )
        ]


def _rows(engine: sa.Engine, table: sa.Table) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [tuple(row) for row in connection.execute(query)]


def _assert_upgraded(engine: sa.Engine, fresh: sa.Engine, source: SqlLedgerStore) -> None:
    migrated = SqlLedgerStore(engine)
    SqlLedgerStore(fresh)
    assert schema_version(engine, "ledger") == LEDGER_SCHEMA_VERSION == 5
    assert _schema(engine) == _schema(fresh)
    assert _null_dimensions(engine) == 0
    assert (
        _segment_rows(engine) == _segment_rows(source.bind) != []
    )  # filled from the legs as posting keeps it
    assert _rows(engine, TOTALS) == _rows(source.bind, TOTALS) != []  # filled from the books
    _assert_same_ledger(migrated, source)
    # and it takes new postings, found by dimension through the rebuilt indexes
    migrated.post([loan_entry(99, day=date(2026, 4, 1))])
    loan = Money.from_minor(10_000, "CNY")
    assert migrated.balance("1303", "CNY", as_of=END, dimensions={"loan": "L99"}) == loan


def test_a_version_2_ledger_with_null_dimensions_is_migrated(
    engines: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    """Schema 2 -> 3: absent dimensions become the empty string (columns NOT NULL DEFAULT ''),
    the dimension indexes take the new condition; the ledger reads the same."""
    engine, fresh = engines
    source = _written_ledger(tmp_path)
    _ledger_at_version_2(engine, source)
    assert _null_dimensions(engine) > 0  # the old format really is there

    _assert_upgraded(engine, fresh, source)
    source.bind.dispose()


def test_a_version_1_ledger_is_migrated_through_every_step(
    engines: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    """Schema 1 -> 2 -> 3 in one opening: dimension indexes lead with the day, identifiers compare
    bytes on PostgreSQL, absent dimensions are the empty string."""
    engine, fresh = engines
    source = _written_ledger(tmp_path)
    _ledger_at_version_2(engine, source)
    _back_to_version_1(engine)
    loan_index = [
        i
        for i in sa.inspect(engine).get_indexes("ledger_legs")
        if i["name"] == "ix_ledger_legs_loan"
    ]
    assert loan_index[0]["column_names"][0] == "loan"

    _assert_upgraded(engine, fresh, source)
    source.bind.dispose()


def test_a_failed_migration_leaves_the_version_2_ledger_as_it_was(tmp_path: Path) -> None:
    """The upgrade runs in one transaction: when a step fails half-way (here the copy into the
    rebuilt legs table, after the rename, meets a row its CHECK refuses), the old tables, rows and
    version are all still there."""
    engine = create_engine(tmp_path / "v2.sqlite")
    source = _written_ledger(tmp_path)
    _ledger_at_version_2(engine, source)
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        connection.exec_driver_sql(
            "UPDATE ledger_legs SET amount_minor = 0 WHERE entry_seq = 2 AND leg_no = 1"
        )
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
    before = _schema(engine)

    with pytest.raises(sa.exc.IntegrityError, match="amount_positive"):
        SqlLedgerStore(engine)

    assert schema_version(engine, "ledger") == 2
    assert _schema(engine) == before
    assert _null_dimensions(engine) > 0
    engine.dispose()
    source.bind.dispose()


def test_a_version_3_ledger_gets_its_currency_totals_from_the_books(
    engines: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    """Schema 3 -> 4: the running totals per currency (journal debits, memo increases) are
    computed from the daily totals and the memo postings, equal to what posting keeps."""
    engine, fresh = engines
    source = _written_ledger(tmp_path)
    _ledger_at_version_2(engine, source)
    SqlLedgerStore(engine)  # through 2 -> 3 -> 4
    with engine.begin() as connection:  # back to what schema 3 created
        TOTALS.drop(connection)
        connection.execute(
            SCHEMA_TABLE.update().where(SCHEMA_TABLE.c.component == "ledger").values(version=3)
        )
    assert TOTALS.name not in sa.inspect(engine).get_table_names()

    _assert_upgraded(engine, fresh, source)
    source.bind.dispose()


def test_a_version_4_ledger_gets_slotted_totals_and_its_entries_continue_from_the_last(
    engines: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    """Schema 4 -> 5: the daily, segment and currency totals take a ``slot`` in their primary key
    (0 for every row), the close log a ``last_seq`` (its count: numbers were dense); on
    PostgreSQL the entry sequence starts after the largest number booked, so the next post
    continues the journal."""
    engine, fresh = engines
    source = _written_ledger(tmp_path)
    _ledger_at_version_4(engine, source)
    columns = [c["name"] for c in sa.inspect(engine).get_columns("ledger_daily_balances")]
    assert "slot" not in columns  # the old format really is there

    _assert_upgraded(engine, fresh, source)
    with engine.connect() as connection:
        closes = connection.exec_driver_sql(
            "SELECT entries_booked, last_seq FROM ledger_period_closes"
        ).all()
        slots = (
            connection.exec_driver_sql("SELECT DISTINCT slot FROM ledger_daily_balances")
            .scalars()
            .all()
        )
        seqs = (
            connection.exec_driver_sql("SELECT seq FROM ledger_entries ORDER BY seq")
            .scalars()
            .all()
        )
    assert closes and all(booked == last for booked, last in closes)
    assert slots == [0]
    assert seqs == list(range(1, len(seqs) + 1))  # the post after the upgrade took the next one
    source.bind.dispose()
