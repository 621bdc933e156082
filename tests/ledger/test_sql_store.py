"""The SQL base and the SQL ledger store: schema versions, app-supplied connections, exact amounts.

Runs on SQLite always and on PostgreSQL when the ``postgres_url`` fixture has a server.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_stores import IDENTIFIER_COLUMNS, loan_entry, make_sql_engine, small_chart

from loancore.adapters.sql import (
    CACHE_KIB,
    CACHE_KIB_MAX,
    SCHEMA_TABLE,
    amount_column,
    configure_sqlite_engine,
    create_engine,
    currency_column,
    ensure_schema,
    schema_version,
    write_transaction,
)
from loancore.adapters.sql.ledger import LEDGER_SCHEMA_VERSION, SqlLedgerStore
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    PostingRejected,
    RejectionCode,
    SchemaVersionMismatch,
)
from loancore.ledger import AMOUNT_MINOR_MAX, JournalEntry, Leg
from loancore.money import Money

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


def test_ensure_schema_refuses_an_older_database_without_a_migration_path(
    engine: sa.Engine,
) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    with pytest.raises(
        SchemaVersionMismatch, match=r"no migration registered from version\(s\) \[2\]"
    ):
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
        rows = dict(
            connection.execute(sa.select(SCHEMA_TABLE.c.component, SCHEMA_TABLE.c.version)).all()
        )
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
        with pytest.raises(RuntimeError), write_transaction(connection) as inner:
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


def _cache_size(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        size = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    engine.dispose()
    assert isinstance(size, int)
    return size


def test_each_sqlite_connection_gets_the_page_cache_asked_for(tmp_path: Path) -> None:
    assert _cache_size(create_engine(tmp_path / "a.sqlite")) == -CACHE_KIB  # KiB, not pages
    assert _cache_size(create_engine(tmp_path / "b.sqlite", cache_kib=4_096)) == -4_096
    own = configure_sqlite_engine(sa.create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}"))
    assert _cache_size(own) == -CACHE_KIB


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cache_kib", -1),
        ("cache_kib", CACHE_KIB_MAX + 1),
        ("cache_kib", True),
        ("cache_kib", 64.0),
        ("busy_timeout_ms", -5),
        ("busy_timeout_ms", "30000"),
    ],
)
def test_bad_sqlite_settings_are_refused_before_anything_opens(
    tmp_path: Path, field: str, value: object
) -> None:
    path = tmp_path / "never.sqlite"
    with pytest.raises(InvalidInput, match=field):
        create_engine(path, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=field):
        configure_sqlite_engine(sa.create_engine(f"sqlite:///{path}"), **{field: value})  # type: ignore[arg-type]
    assert not path.exists()


def test_bigint_minor_units_round_trip_exactly(engine: sa.Engine) -> None:
    ensure_schema(engine, "widgets", 1, [WIDGETS])
    values = [
        (minor, currency)
        for currency in ("CNY", "JPY", "KWD")
        for minor in (0, 1, -1, 2**63 - 1, -(2**63), 123_456_789_012_345)
    ]
    with engine.begin() as connection:
        connection.execute(
            WIDGETS.insert(), [{"amount_minor": m, "currency": c} for m, c in values]
        )
    with engine.connect() as connection:
        query = sa.select(WIDGETS.c.amount_minor, WIDGETS.c.currency).order_by(WIDGETS.c.id)
        rows = [tuple(row) for row in connection.execute(query)]
    assert rows == values
    assert all(type(minor) is int for minor, _ in rows)


# -- the ledger store ----------------------------------------------------------------------------


@pytest.fixture
def store(engine: sa.Engine) -> SqlLedgerStore:
    store = SqlLedgerStore(engine)
    store.save_chart(small_chart())
    return store


def _count_entries(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT COUNT(*) FROM ledger_entries").scalar_one()


def test_ledger_store_refuses_a_database_from_a_newer_loancore(engine: sa.Engine) -> None:
    SqlLedgerStore(engine)
    with engine.begin() as connection:
        connection.execute(
            SCHEMA_TABLE.update()
            .where(SCHEMA_TABLE.c.component == "ledger")
            .values(version=LEDGER_SCHEMA_VERSION + 1)
        )
    with pytest.raises(SchemaVersionMismatch) as caught:
        SqlLedgerStore(engine)
    assert caught.value.found == LEDGER_SCHEMA_VERSION + 1


def test_reopening_a_ledger_keeps_its_contents(engine: sa.Engine, store: SqlLedgerStore) -> None:
    store.post([loan_entry(1)])
    again = SqlLedgerStore(engine)
    assert again.get_entry("e1") == loan_entry(1)
    assert again.load_chart() == small_chart()


def test_ledger_writes_roll_back_with_the_application(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    with engine.connect() as connection:
        in_app = store.using(connection)
        in_app.post([loan_entry(1)])
        in_app.close_period(date(2026, 2, 28))
        assert in_app.get_entry("e1") == loan_entry(1)  # the app's transaction sees its own write
        connection.rollback()
    assert _count_entries(engine) == 0
    assert store.closed_through() is None
    assert store.balance("1303", "CNY", as_of=date(2026, 12, 31)) == Money.zero("CNY")


def test_ledger_writes_commit_with_the_application(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE app_orders (id INTEGER PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO app_orders (id) VALUES (1)"))
        store.using(connection).post([loan_entry(1)])
        connection.commit()
    assert store.get_entry("e1") == loan_entry(1)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM app_orders")).scalar_one() == 1


def test_a_rejected_post_leaves_the_application_transaction_usable(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    with engine.connect() as connection:
        in_app = store.using(connection)
        in_app.post([loan_entry(1)])
        with pytest.raises(PostingRejected):
            in_app.post([loan_entry(2), loan_entry(1, key="other")])  # entry id e1 taken
        in_app.post([loan_entry(3)])
        connection.commit()
    assert [e.entry_id for e in store.entries()] == ["e1", "e3"]


def test_a_store_constructed_on_an_app_connection_joins_its_transaction(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        store = SqlLedgerStore(connection)
        store.save_chart(small_chart())
        store.post([loan_entry(1)])
        connection.rollback()
    fresh = SqlLedgerStore(engine)  # the schema itself was rolled back too (transactional DDL)
    assert len(fresh.load_chart()) == 0
    assert list(fresh.entries()) == []


@pytest.mark.parametrize(
    ("currency", "minor"),
    [
        ("JPY", 1),
        ("JPY", 123_456_789),
        ("KWD", 1),
        ("KWD", 1_000_001),
        ("CNY", AMOUNT_MINOR_MAX),
        ("CLF", 12_345),
    ],
)
def test_amounts_round_trip_as_exact_minor_units(
    store: SqlLedgerStore, currency: str, minor: int
) -> None:
    entry = loan_entry(1, minor=minor, currency=currency)
    store.post([entry])
    stored = store.get_entry("e1")
    assert stored == entry
    assert stored.legs[0].amount.minor_units == minor
    assert store.balance("1303", currency, as_of=date(2026, 3, 1)) == Money.from_minor(
        minor, currency
    )
    assert store.balance("2202", currency, as_of=date(2026, 3, 1)) == Money.from_minor(
        minor, currency
    )


def test_replay_returns_the_original_and_a_changed_replay_is_refused(store: SqlLedgerStore) -> None:
    first = store.post([loan_entry(1)])
    retry = JournalEntry(
        entry_id="fresh-id",
        idempotency_key="k1",
        accounting_date=date(2026, 3, 1),
        legs=loan_entry(1).legs,
    )
    assert store.post([retry]) == first
    with pytest.raises(IdempotencyConflict):
        store.post([loan_entry(1, minor=10_001)])
    assert [e.entry_id for e in store.entries()] == ["e1"]


# -- the common case books without reading keys back; everything else takes the full path ------


def _statements_while(engine: sa.Engine, action) -> list[tuple[str, object]]:
    """The (SQL, parameters) of every statement ``action()`` sends through ``engine``."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_batch_of_new_entries_is_booked_without_looking_its_keys_up(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    """The UNIQUE constraints stand in for the lookup of 1,000 keys and ids: no statement of the
    post reads ``ledger_entries`` by key or id (a statement-level check, not a timing)."""
    store.post([loan_entry(1)])
    statements = _statements_while(
        engine, lambda: store.post([loan_entry(n) for n in range(2, 40)])
    )
    reads = [
        s
        for s, _ in statements
        if s.lstrip().upper().startswith("SELECT") and "ledger_entries" in s
    ]
    assert not [s for s in reads if "idempotency_key" in s or "entry_id" in s], reads
    assert [e.entry_id for e in store.entries()] == [f"e{n}" for n in range(1, 40)]


def test_replays_inside_a_batch_of_new_entries_return_the_originals_and_book_the_rest(
    store: SqlLedgerStore,
) -> None:
    """A replayed key makes the first INSERT fail; the full path then books the new entries once
    and returns the originals for the replays, in input order."""
    first = store.post([loan_entry(1), loan_entry(2)])
    retry_of_2 = JournalEntry(
        entry_id="retry-id",
        idempotency_key="k2",
        accounting_date=date(2026, 3, 1),
        legs=loan_entry(2).legs,
    )
    results = store.post([loan_entry(3), retry_of_2, loan_entry(4), loan_entry(1)])
    assert results == (loan_entry(3), first[1], loan_entry(4), first[0])
    assert [e.entry_id for e in store.entries()] == ["e1", "e2", "e3", "e4"]
    assert store.balance("1303", "CNY", as_of=date(2026, 3, 1)).minor_units == 4 * 10_000


def test_a_replay_refused_by_a_later_insert_leaves_no_entry_of_the_first_attempt(
    store: SqlLedgerStore,
) -> None:
    """The entries go in 200 rows a statement on SQLite: a replay in the third statement is
    refused after the first two wrote theirs, and those rows are undone before the full path books
    the batch once (on PostgreSQL the first attempt is undone to its SAVEPOINT)."""
    first = store.post([loan_entry(1)])
    batch = [loan_entry(n) for n in range(2, 452)]
    batch[430] = loan_entry(1)
    results = store.post(batch)
    assert results[430] == first[0] and results[:430] == tuple(batch[:430])
    booked = [e.entry_id for e in store.entries()]
    assert booked == ["e1", *[f"e{n}" for n in range(2, 452) if n != 432]]
    assert store.balance("1303", "CNY", as_of=date(2026, 3, 1)).minor_units == 450 * 10_000
    assert store.trial_balance(as_of=date(2026, 3, 1)).is_balanced()


def test_a_taken_id_in_a_new_batch_is_refused_with_every_issue_and_books_nothing(
    store: SqlLedgerStore,
) -> None:
    """The constraint refuses the INSERT; the full path reports the typed issues of the whole
    batch (here two taken ids), and none of the batch is booked."""
    store.post([loan_entry(1), loan_entry(2)])
    with pytest.raises(PostingRejected) as refused:
        store.post([loan_entry(3), loan_entry(1, key="other-1"), loan_entry(2, key="other-2")])
    assert [(i.code, i.entry_id) for i in refused.value.issues] == [
        (RejectionCode.ENTRY_ID_TAKEN, "e1"),
        (RejectionCode.ENTRY_ID_TAKEN, "e2"),
    ]
    assert [e.entry_id for e in store.entries()] == ["e1", "e2"]
    assert store.trial_balance(as_of=date(2026, 3, 1)).is_balanced()


def test_a_replay_in_an_application_transaction_keeps_the_applications_writes(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    """The failed first attempt is undone to its own SAVEPOINT only."""
    store.post([loan_entry(1)])
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE app_orders (id INTEGER PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO app_orders (id) VALUES (7)"))
        results = store.using(connection).post([loan_entry(2), loan_entry(1)])
        connection.commit()
    assert results == (loan_entry(2), loan_entry(1))
    assert [e.entry_id for e in store.entries()] == ["e1", "e2"]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT id FROM app_orders")).scalars().all() == [7]


def test_dimension_balances_come_from_the_legs(store: SqlLedgerStore) -> None:
    store.post([loan_entry(n, minor=100 * n) for n in range(1, 15)])
    day = date(2026, 3, 1)
    assert store.balance("1303", "CNY", as_of=day, dimensions={"loan": "L3"}).minor_units == 300
    merchant = store.balance("2202", "CNY", as_of=day, dimensions={"merchant": "M0"})
    assert merchant.minor_units == 100 * (7 + 14)
    both = store.balance("1303", "CNY", as_of=day, dimensions={"loan": "L3", "customer": "C1"})
    assert both.minor_units == 300
    assert store.balance(
        "1303", "CNY", as_of=day, dimensions={"loan": "L3", "customer": "C2"}
    ).is_zero()


def test_a_plain_leg_without_dimensions_round_trips(store: SqlLedgerStore) -> None:
    amount = Money("10.00", "CNY")
    entry = JournalEntry(
        entry_id="plain",
        idempotency_key="plain",
        accounting_date=date(2026, 3, 2),
        legs=(Leg.debit("1002", amount), Leg.credit("6011", amount)),
        memo="利息 interest",
    )
    store.post([entry])
    assert store.get_entry("plain") == entry
    assert store.find_by_key("plain") == entry


def test_every_field_of_a_stored_entry_reads_back_on_every_read_path(
    store: SqlLedgerStore,
) -> None:
    # Reads build entries from stored rows without checking them again (JournalEntry._of_stored,
    # Leg._of_checked): what they build must equal what the checked constructors built.
    amount = Money("12.34", "CNY")
    dims = {"product": "P1", "loan": "L1", "customer": "C1", "partner": "B1", "merchant": "M1"}
    original = JournalEntry(
        entry_id="orig",
        idempotency_key="k-orig",
        accounting_date=date(2026, 3, 2),
        legs=(Leg.debit("1303.01", amount, dims), Leg.credit("2202", amount, {"loan": "L1"})),
        memo="放款 disbursed",
    )
    reversal = JournalEntry(
        entry_id="rev",
        idempotency_key="k-rev",
        accounting_date=date(2026, 3, 5),
        value_date=date(2026, 3, 4),
        legs=tuple(leg.mirrored() for leg in original.legs),
        memo="冲正",
        reverses="orig",
    )
    store.post([original, reversal])
    assert list(store.entries()) == [original, reversal]
    assert store.get_entry("rev") == reversal
    assert store.find_by_key("k-orig") == original
    read = store.get_entry("orig")
    assert [leg.signed_minor for leg in read.legs] == [1234, -1234]
    assert read.legs[0].dimensions == tuple(sorted(dims.items()))


def test_a_stored_entry_without_legs_is_reported_as_a_damaged_store(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    store.post([loan_entry(1)])
    with engine.begin() as connection:  # legs have no foreign key: only damage removes them
        connection.exec_driver_sql("DELETE FROM ledger_legs")
    with pytest.raises(InvariantViolation, match="no legs"):
        store.get_entry("e1")


def test_long_identifiers_and_dimension_values_round_trip_on_every_backend(
    store: SqlLedgerStore,
) -> None:
    amount = Money("1.00", "CNY")
    long_text = "贷" * 100 + "x" * 100  # ID_LENGTH_MAX characters, 400 bytes of UTF-8
    entry = JournalEntry(
        entry_id=long_text,
        idempotency_key=long_text[::-1],
        accounting_date=date(2026, 3, 2),
        legs=(Leg.debit("1303.01", amount, {"loan": long_text}), Leg.credit("1002", amount)),
        memo=long_text,
    )
    store.post([entry])
    assert store.get_entry(entry.entry_id) == entry
    assert (
        store.balance("1303", "CNY", as_of=date(2026, 3, 2), dimensions={"loan": long_text})
        == amount
    )


@pytest.mark.parametrize(
    "text",
    [
        "tab\there",
        "line\nbreak",
        "carriage\rreturn",
        "back\\slash",
        "\\N",
        "\\.",
        "unit\x1fsep",
        "None",
        "",
        " ",
    ],
)
def test_text_that_copy_would_escape_round_trips_exactly(store: SqlLedgerStore, text: str) -> None:
    """PostgreSQL's COPY text format gives backslash, tab, newline and CR a meaning (and ``\\N``
    is NULL), and the unit separator joins key lookups there: such values, the string "None" and
    empty text come back as they went in, and replays find their originals."""
    amount = Money("1.00", "CNY")
    batch = [
        JournalEntry(
            entry_id=f"id-{text}-{n}",
            idempotency_key=f"key-{text}-{n}",
            accounting_date=date(2026, 3, 2),
            legs=(
                Leg.debit("1303.01", amount, {"loan": text or "x", "product": f"{text}p"}),
                Leg.credit("1002", amount, {"merchant": f"m{text}"}),
            ),
            memo=text,
        )
        for n in range(3)
    ]
    assert store.post(batch) == tuple(batch)
    assert store.post(batch) == tuple(batch)  # a replay: the keys are found, nothing is booked
    assert [store.get_entry(e.entry_id) for e in batch] == batch
    loan = {"loan": text or "x"}
    assert store.balance("1303", "CNY", as_of=date(2026, 3, 2), dimensions=loan) == amount * 3


def test_a_large_batch_with_one_value_to_escape_in_a_middle_slice_round_trips(
    store: SqlLedgerStore,
) -> None:
    """PostgreSQL sends a batch's COPY in slices, each formatted as plain text or, when a value
    needs escaping, row by row: a slice of each kind in one stream, and every row arrives once."""
    from loancore.adapters.sql.ledger_writing import _COPY_ROWS

    count = 2 * _COPY_ROWS + 7
    batch = [loan_entry(n, key=f"k{n}") for n in range(count)]
    odd = _COPY_ROWS + 3
    batch[odd] = JournalEntry(
        entry_id=batch[odd].entry_id,
        idempotency_key=batch[odd].idempotency_key,
        accounting_date=batch[odd].accounting_date,
        legs=batch[odd].legs,
        memo="tab\there\\N",
    )
    assert store.post(batch) == tuple(batch)
    assert list(store.entries()) == batch
    assert store.balance("1303", "CNY", as_of=date(2026, 3, 1)) == Money.from_minor(
        10_000 * count, "CNY"
    )


def test_copy_text_formats_plain_rows_and_refuses_values_that_need_escaping() -> None:
    from loancore.adapters.sql.ledger_writing import _copy_text

    assert _copy_text([(1, "a", None, date(2026, 3, 2)), (2, "b", "c", date(2026, 3, 2))]) == (
        "1\ta\t\\N\t2026-03-02\n2\tb\tc\t2026-03-02\n"
    )
    for text in ["a\tb", "a\nb", "a\rb", "a\\b", "\\N"]:
        assert _copy_text([(1, text, None)]) is None


def test_a_rolled_back_chart_change_is_not_remembered(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    from loancore.ledger import Subject

    wider = small_chart().with_subjects(Subject("6021", "手续费及佣金收入", "Fee income", "income"))
    with engine.connect() as connection:
        in_app = store.using(connection)
        in_app.save_chart(wider)
        amount = Money("3.00", "CNY")
        fee = JournalEntry(
            entry_id="fee",
            idempotency_key="fee",
            accounting_date=date(2026, 3, 2),
            legs=(Leg.debit("1002", amount), Leg.credit("6021", amount)),
        )
        in_app.post([fee])
        connection.rollback()
    assert store.load_chart() == small_chart()
    with pytest.raises(PostingRejected) as caught:
        store.post([fee])
    assert caught.value.code.name == "SUBJECT_UNKNOWN"
    store.save_chart(
        small_chart().with_subjects(
            Subject("6011.01", "贷款利息收入", "Loan interest", "income", parent_code="6011")
        )
    )
    assert "6011.01" in store.load_chart()


def test_sqlite_writers_in_several_threads_are_serialized_and_lose_nothing(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "threads.sqlite"
    SqlLedgerStore(create_engine(path)).save_chart(small_chart())
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(i: int) -> None:
        engine = create_engine(path)  # its own engine: its own connections to the file
        try:
            store = SqlLedgerStore(engine)
            barrier.wait()
            for b in range(5):
                first = (i * 5 + b) * 20
                store.post([loan_entry(n) for n in range(first, first + 20)])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    store = SqlLedgerStore(create_engine(path))
    assert sorted(int(e.entry_id[1:]) for e in store.entries()) == list(range(400))
    assert store.trial_balance(as_of=date(2026, 12, 31)).is_balanced()
    store.bind.dispose()


@pytest.mark.parametrize("key", ["customer", "loan", "merchant"])
def test_sqlite_dimension_balances_seek_the_dimension_index_by_day(
    tmp_path: Path, key: str
) -> None:
    """A balance by dimension seeks the dimension's partial index on (day, value, subject) for each
    posting day (a plan check, not a timing: without it a balance by loan would scan every leg)."""
    from loancore.adapters.sql.ledger_reading import _net_from_legs_query
    from loancore.adapters.sql.ledger_schema import DAILY

    engine = create_engine(tmp_path / "plan.sqlite")
    SqlLedgerStore(engine)
    query = _net_from_legs_query(
        ["1303", "1303.01"], "CNY", [(key, "X1")], DAILY.c.day <= date(2026, 3, 1)
    )
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    with engine.connect() as connection:
        params = tuple(compiled.params[name] for name in compiled.positiontup)
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    engine.dispose()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert (
        f"USING INDEX ix_ledger_legs_{key} (accounting_date=? AND {key}=? AND subject_code=?)"
        in steps
    )


def _assert_identifiers_compare_bytes(engine: sa.Engine) -> None:
    """On PostgreSQL every identifier column is COLLATE "C" (SQLite's text is BINARY already)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name LIKE 'ledger%%'"
            " AND data_type = 'text'"
        ).all()
    collations = {(table, column): collation for table, column, collation in rows}
    assert {key: collations[key] for key in IDENTIFIER_COLUMNS} == dict.fromkeys(
        IDENTIFIER_COLUMNS, "C"
    )
    free_text = {key for key, collation in collations.items() if collation != "C"}
    names_and_memos = {
        ("ledger_subjects", "name_zh"),
        ("ledger_subjects", "name_en"),
        ("ledger_entries", "memo"),
        ("ledger_memo_postings", "memo"),
    }
    assert free_text == names_and_memos


def test_identifiers_compare_bytes_on_every_backend(
    engine: sa.Engine, store: SqlLedgerStore
) -> None:
    """Ids, keys and codes sort byte by byte on SQLite and PostgreSQL alike (COLLATE "C" there),
    whatever the database's own collation: the same order, and no locale under the unique indexes."""
    _assert_identifiers_compare_bytes(engine)
    store.post([loan_entry(n, key=key) for n, key in enumerate(["b", "B", "a", "_", "Ä"], start=1)])
    with engine.connect() as connection:
        ordered = (
            connection.exec_driver_sql(
                "SELECT idempotency_key FROM ledger_entries ORDER BY idempotency_key"
            )
            .scalars()
            .all()
        )
    assert ordered == sorted(["b", "B", "a", "_", "Ä"], key=lambda k: k.encode())


@pytest.mark.parametrize(
    "wanted", [{"product": "medaes"}, {"partner": "P1"}, {"product": "medaes", "partner": "P1"}]
)
def test_sqlite_balances_by_product_or_partner_read_the_segment_totals(
    tmp_path: Path, wanted: dict[str, str]
) -> None:
    """Product and partner have few values, so a balance by them would read a large share of the
    legs; it reads the day totals per segment instead, seeking their primary key (a plan check)."""
    engine = create_engine(tmp_path / "segments.sqlite")
    store = SqlLedgerStore(engine)
    store.save_chart(small_chart())
    amount = Money.from_minor(500, "CNY")
    store.post(
        [
            JournalEntry(
                entry_id="s1",
                idempotency_key="s1",
                accounting_date=date(2026, 3, 1),
                legs=(
                    Leg.debit(
                        "1303.01", amount, {"product": "medaes", "partner": "P1", "loan": "L1"}
                    ),
                    Leg.credit("1002", amount),
                ),
            )
        ]
    )
    balances: list[Money] = []
    executed = _statements_while(
        engine,
        lambda: balances.append(
            store.balance("1303", "CNY", as_of=date(2026, 3, 1), dimensions=wanted)
        ),
    )
    assert balances == [amount]
    reads = [(sql, params) for sql, params in executed if "ledger_legs" in sql or "segment" in sql]
    assert (
        len(reads) == 1
        and "ledger_daily_segment_balances" in reads[0][0]
        and "ledger_legs" not in reads[0][0]
    )
    with sqlite3.connect(tmp_path / "segments.sqlite") as raw:
        plan = raw.execute(f"EXPLAIN QUERY PLAN {reads[0][0]}", reads[0][1]).fetchall()
    engine.dispose()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert (
        "ledger_daily_segment_balances USING PRIMARY KEY (subject_code=? AND currency=?" in steps
    ), steps
