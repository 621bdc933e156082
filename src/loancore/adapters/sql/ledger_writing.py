"""The SQL ledger's writes: entries, legs, daily totals and memo postings booked in few round trips.

The hot path of a post: driver-level ``executemany`` of multi-row INSERTs on SQLite, ``COPY ...
FROM STDIN`` on PostgreSQL, rows built from precomputed tuples. Everything here runs inside the
caller's transaction, after the posting rules accepted the batch and under the writers' lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.sql.ledger_reading import _chunks, _last_seq, _max_seq
from loancore.adapters.sql.ledger_schema import (
    _UNLINKED_ENTRY_COLUMNS,
    DAILY,
    ENTRIES,
    ENTRY_SEQUENCE,
    LEGS,
    MEMO,
    NO_DIMENSION,
    SEGMENTS,
    TOTALS,
    TOTALS_SLOTS,
    slot_cap,
    slot_shares,
)
from loancore.errors import InvariantViolation
from loancore.ledger.entries import (
    DIMENSION_KEYS,
    JournalEntry,
    MemoDirection,
    MemoPosting,
)
from loancore.ledger.rules import TOTAL_MINOR_MAX
from loancore.ledger.subjects import Side

# -- booking (the hot path: driver-level executemany with precomputed tuples) -----------------


_ROWS_PER_STATEMENT = 200  # SQLite multi-row VALUES: 200 legs x 12 columns, below its 32,766
_COPY_ROWS = 250  # PostgreSQL: rows formatted and sent per slice of a COPY


def _insert_sql(table: sa.Table, columns: Sequence[sa.Column[Any]], rows_per_statement: int) -> str:
    names = [c.name for c in columns]
    values = f"({', '.join('?' * len(names))})"
    all_values = ", ".join([values] * rows_per_statement)
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {all_values}"


def _copy_field(value: Any) -> str:
    """One value in COPY's text format, unescaped: ``\\N`` for NULL, text as is (``str()`` of a
    str subclass, an enum say, would not be its content), ints and dates as ``str()``."""
    if value is None:
        return "\\N"
    return value if isinstance(value, str) else str(value)


_TEXT_OR_NULL = {str, type(None)}


def _copy_column(values: Sequence[Any]) -> Sequence[str]:
    kinds = set(map(type, values))
    if kinds == {str}:
        return values
    if kinds == {int}:
        return list(map(str, values))
    if kinds <= _TEXT_OR_NULL:
        return ["\\N" if value is None else value for value in values]
    texts = {value: _copy_field(value) for value in set(values)}  # dates, NULLs repeat
    return [texts[value] for value in values]


def _copy_text(rows: Sequence[tuple[Any, ...]]) -> str | None:
    """``rows`` in COPY's text format, or None when a value would need escaping."""
    return _copy_columns(list(zip(*rows)), len(rows)) if rows else ""


def _copy_columns(columns: Sequence[Sequence[Any]], rows: int) -> str | None:
    """``rows`` rows given as their ``columns`` in COPY's text format, or None when a value would
    need escaping.

    Built column by column (a few C-level passes instead of a Python call per value). Text needs
    escaping only if it holds a backslash, tab, newline or carriage return; rather than test each
    value, the whole buffer is counted once: one backslash per NULL, a tab between columns, a
    newline after each row.
    """
    nulls = sum(column.count(None) for column in columns)
    text = "\n".join(map("\t".join, zip(*map(_copy_column, columns)))) + "\n"
    plain = (
        text.count("\\") == nulls
        and text.count("\t") == rows * (len(columns) - 1)
        and text.count("\n") == rows
        and "\r" not in text
    )
    return text if plain else None


@contextlib.contextmanager
def _inserter(
    connection: Connection, table: sa.Table, columns: Sequence[sa.Column[Any]] | None = None
) -> Iterator[Callable[[list[Any]], None]]:
    """A function inserting rows into ``table`` in few round trips, inside the open transaction;
    on PostgreSQL the rows are complete when the block ends. The rows come flat: one list of
    ``columns``' values (by default every column of ``table`` in order; the others take their
    defaults), row after row, because the driver wants the parameters of a multi-row INSERT as one
    flat sequence and a tuple per row would be built only to be taken apart again.

    PostgreSQL: one ``COPY ... FROM STDIN`` through psycopg 3 for the whole block (a stream instead
    of a statement per row; it honours constraints and runs in the caller's transaction and
    savepoint), written in slices of ``_COPY_ROWS`` rows, each one text buffer when no value needs
    escaping (psycopg's per-row ``write_row`` otherwise). The server inserts a slice while the next
    is formatted, and whatever the caller computes inside the block runs while the server finishes
    the last ones: client and server overlap on two cores. SQLite: the driver's ``executemany`` of
    one prepared multi-row INSERT (``_ROWS_PER_STATEMENT`` rows per execution, the remainder in one
    more statement), which saves SQLite's per-statement work.
    """
    columns = list(table.columns if columns is None else columns)
    width = len(columns)
    if connection.dialect.name != "postgresql":
        yield lambda values: _insert_rows(connection, table, columns, values)
        return
    names = ", ".join(c.name for c in columns)
    raw = connection.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:

        def send(values: list[Any]) -> None:
            for chunk in _chunks(values, _COPY_ROWS * width):
                columns = [chunk[i::width] for i in range(width)]
                text = _copy_columns(columns, len(chunk) // width)
                if text is not None:
                    copy.write(text)
                else:
                    for row in zip(*columns):
                        copy.write_row(row)

        yield send


def _insert_rows(
    connection: Connection, table: sa.Table, columns: Sequence[sa.Column[Any]], values: list[Any]
) -> None:
    """Insert rows given flat (``len(columns)`` values a row) with multi-row INSERTs."""
    width = len(columns)
    step = _ROWS_PER_STATEMENT * width
    rows = len(values) // width
    full = (rows - rows % _ROWS_PER_STATEMENT) * width
    if full:
        groups = [tuple(values[i : i + step]) for i in range(0, full, step)]
        connection.exec_driver_sql(_insert_sql(table, columns, _ROWS_PER_STATEMENT), groups)
    if full < len(values):
        rest = tuple(values[full:])
        connection.exec_driver_sql(_insert_sql(table, columns, rows % _ROWS_PER_STATEMENT), rest)


def _day_param(connection: Connection) -> Any:
    """Dates as the driver wants them: ISO text on SQLite (SQLAlchemy's own storage format for
    Date there), date objects on PostgreSQL."""
    return date.isoformat if connection.dialect.name == "sqlite" else (lambda d: d)


_DIMENSION_POSITION = {key: i for i, key in enumerate(DIMENSION_KEYS)}  # column order in the rows
_SIDE_VALUES = (Side.DEBIT.value, Side.CREDIT.value)  # indexed by "is a credit"


class SlotFull(Exception):
    """A currency total's slot would pass its cap (:func:`slot_cap`): the batch must be booked with
    every slot of those currencies locked (:func:`_lock_total_slots`, then ``spread``)."""

    def __init__(self, currencies: Sequence[str]) -> None:
        super().__init__(f"a currency total's slot is full: {', '.join(currencies)}")
        self.currencies = tuple(currencies)


def _entry_seqs(connection: Connection, count: int) -> Sequence[int]:
    """``count`` new entry sequence numbers, increasing. SQLite: the numbers after ``MAX(seq)``
    (its writers are serialized, so they stay dense); PostgreSQL: drawn from the
    ``ledger_entry_seqs`` sequence, which never makes a writer wait (usually consecutive; a
    concurrent writer's draws may interleave, a rolled-back batch leaves a gap)."""
    if connection.dialect.name != "postgresql":
        first = _last_seq(connection) + 1
        return range(first, first + count)
    sql = f"SELECT nextval('{ENTRY_SEQUENCE.name}') FROM generate_series(1, %s)"
    return [row[0] for row in connection.exec_driver_sql(sql, (count,))]


def _book(
    connection: Connection,
    entries: Sequence[JournalEntry],
    *,
    claim: bool = False,
    slot: int = 0,
    spread: bool = False,
) -> bool:
    """Insert checked entries, their legs and the daily totals; caller holds the writers' lock
    (shared on PostgreSQL). True when booked.

    ``slot`` is the writer's slot of the running totals (0 on SQLite); ``spread`` (PostgreSQL,
    with every slot of the batch's currencies locked) writes the currency totals spread over the
    slots instead of adding to ``slot``'s, which raises :class:`SlotFull` when it would pass its
    cap.

    The legs are built while the entries' COPY completes, and the daily totals while the legs'
    does (see :func:`_inserter`).

    ``claim`` (SQLite only): the entries' INSERTs are the test of whether the batch's keys and ids
    are free. When a UNIQUE constraint refuses one, the rows the batch's earlier INSERTs wrote are
    deleted and False is returned, leaving the transaction as it was: SQLite undoes a refused
    statement by itself and nothing else is written before the entries (a SAVEPOINT would do the
    same, but SQLite copies every page the batch changes into its sub-journal for it, ~110 page
    writes to a temporary file a 1,000-entry batch). PostgreSQL aborts the whole transaction on
    an error, so there the caller wraps the booking in a SAVEPOINT instead."""
    assert not claim or connection.dialect.name == "sqlite", "a claim needs SQLite's statements"
    to_param = _day_param(connection)
    days = {day: to_param(day) for day in {e.accounting_date for e in entries}}
    seqs = _entry_seqs(connection, len(entries))
    # Reversals apart: the other entries' rows leave out ``reverses`` (NULL by default), because
    # the sqlite3 driver binds None slowly (see NO_DIMENSION).
    unlinked: list[Any] = []
    linked: list[Any] = []
    add_unlinked = unlinked.extend
    for e, seq in zip(entries, seqs):  # zip reuses its tuple: as cheap as a counter
        value_day = days.get(e.value_date) or to_param(e.value_date)
        row = (seq, e.entry_id, e.idempotency_key, days[e.accounting_date], value_day, e.memo)
        if e.reverses is None:
            add_unlinked(row)
        else:
            linked.extend((*row, e.reverses))
    refused = _refusals(connection) if claim else ()
    try:
        with _inserter(connection, ENTRIES, _UNLINKED_ENTRY_COLUMNS) as insert:
            insert(unlinked)
            leg_values, daily, segments = _leg_values(entries, seqs, days)
        if linked:  # after the entries they may reverse, for the foreign key
            with _inserter(connection, ENTRIES) as insert:
                insert(linked)
    except refused:
        connection.exec_driver_sql(f"DELETE FROM {ENTRIES.name} WHERE seq >= ?", (seqs[0],))
        return False
    with _inserter(connection, LEGS) as insert:
        insert(leg_values)
        # Sorted, so concurrent writers (were the lock ever bypassed) take row locks in one order.
        daily_rows = [(s, c, days[d], slot, t[0], t[1]) for (s, c, d), t in sorted(daily.items())]
        segment_rows = [
            (s, c, product, partner, days[d], slot, t[0], t[1])
            for (s, c, product, partner, d), t in sorted(segments.items())
        ]
    _add_totals(connection, DAILY, daily_rows)
    if segment_rows:
        _add_totals(connection, SEGMENTS, segment_rows)
    debits: dict[str, int] = {}
    for (_code, currency, _day), (debit, _credit) in daily.items():
        debits[currency] = debits.get(currency, 0) + debit
    if spread:
        _spread_currency_totals(connection, "journal", debits)
    else:
        _add_currency_totals(connection, "journal", debits, slot)
    return True


def _refusals(connection: Connection) -> tuple[type[Exception], ...]:
    """The exceptions of a refused constraint: SQLAlchemy's, and the driver's own."""
    return (sa.exc.IntegrityError, connection.dialect.loaded_dbapi.IntegrityError)


def _database_errors(connection: Connection) -> tuple[type[Exception], ...]:
    """Every exception a statement can raise: SQLAlchemy's, and the driver's own (COPY runs on
    the driver's cursor)."""
    return (sa.exc.DBAPIError, connection.dialect.loaded_dbapi.Error)


_DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for "deadlock detected"


def _lost_race(connection: Connection, error: Exception) -> bool:
    """True when ``error`` says a concurrent writer got there first: a UNIQUE key or id it booked
    (or is booking), or a deadlock between two writers waiting on each other's keys (two batches
    holding the same keys in different orders). Booking again after reading what it booked
    decides (a replay, a conflict, or success)."""
    if isinstance(error, _refusals(connection)):
        return True
    cause = getattr(error, "orig", error)
    return getattr(cause, "sqlstate", None) == _DEADLOCK


_Totals = dict[tuple[Any, ...], list[int]]  # key -> [debit, credit] in minor units
# The totals a subject's legs add to on a day, with the currency, product and partner they are
# for: (currency, product, partner, [debit, credit]).
_Slot = tuple[str, str, str, list[int]]


def _leg_values(
    entries: Sequence[JournalEntry], seqs: Sequence[int], days: dict[date, Any]
) -> tuple[list[Any], _Totals, _Totals]:
    """The legs' rows (flat, in ``LEGS``' column order; entry ``i`` numbered ``seqs[i]``), the
    batch's debit and credit totals per
    (subject, currency, day), and those of the legs with a product or partner per (subject,
    currency, product, partner, day).

    The hot loop of a post (two legs an entry), written flat: filling a five-slot list by position
    costs half of a helper building a ``dict`` per leg; one list extended row after row a fifth
    less than a tuple per row; counters less than ``enumerate``. The legs are totalled once, per
    (subject, currency, product, partner, day), and those few totals split into the two tables'
    at the end; the totals a subject's legs add to are remembered per day (``slots``), so a leg
    whose currency, product and partner are those of the subject's previous leg that day adds to
    them without building and hashing a key (~0.95 ms for 2,000 legs, ~0.25 of it the totals,
    instead of ~1.6)."""
    values: list[Any] = []
    extend = values.extend
    totals: _Totals = {}
    slots_by_day: dict[date, dict[str, _Slot]] = {}
    position = _DIMENSION_POSITION
    product_at, partner_at = position["product"], position["partner"]
    blank = (NO_DIMENSION,) * len(DIMENSION_KEYS)
    sides = _SIDE_VALUES
    for entry, seq in zip(entries, seqs):
        accounting = entry.accounting_date
        day = days[accounting]
        slots = slots_by_day.get(accounting)
        if slots is None:
            slots = slots_by_day[accounting] = {}
        leg_no = 0
        for leg in entry.legs:
            minor = leg.signed_minor
            currency = leg.amount.currency
            code = leg.subject_code
            # The rules refused zero and negative amounts, so the sign of signed_minor is the side.
            credit = minor < 0
            amount = -minor if credit else minor
            extend((seq, leg_no, code, sides[credit], amount, currency, day))
            leg_no += 1  # noqa: SIM113 (a counter costs ~0.1 us a leg less than enumerate's tuples)
            dimensions = leg.dimensions
            if dimensions:
                columns = list(blank)
                for key, value in dimensions:
                    columns[position[key]] = value
                extend(columns)
                product, partner = columns[product_at], columns[partner_at]
            else:
                extend(blank)
                product = partner = NO_DIMENSION
            slot = slots.get(code)
            if slot is None or slot[0] != currency or slot[1] != product or slot[2] != partner:
                totals_key = (code, currency, product, partner, accounting)
                found = totals.get(totals_key)
                if found is None:
                    found = totals[totals_key] = [0, 0]
                slot = slots[code] = (currency, product, partner, found)
            slot[3][credit] += amount
    return (values, *_daily_and_segments(totals))


def _daily_and_segments(totals: _Totals) -> tuple[_Totals, _Totals]:
    """Totals per (subject, currency, product, partner, day) summed per (subject, currency, day),
    and those with a product or partner as they are (the segment totals)."""
    daily: _Totals = {}
    segments: _Totals = {}
    for (code, currency, product, partner, day), (debit, credit) in totals.items():
        found = daily.get((code, currency, day))
        if found is None:
            found = daily[code, currency, day] = [0, 0]
        found[0] += debit
        found[1] += credit
        if product or partner:
            segments[code, currency, product, partner, day] = [debit, credit]
    return daily, segments


def _add_totals(connection: Connection, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
    """Add the batch's totals (rows in ``table``'s column order: the key with the writer's
    ``slot``, then ``debit_minor`` and ``credit_minor``) to ``table``: insert the key's row or add
    to it."""
    keys = [c.name for c in table.primary_key.columns]
    names = [c.name for c in table.columns]
    head = f"INSERT INTO {table.name} ({', '.join(names)}) "
    tail = (
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET"
        f" debit_minor = {table.name}.debit_minor + excluded.debit_minor,"
        f" credit_minor = {table.name}.credit_minor + excluded.credit_minor"
    )
    if connection.dialect.name == "postgresql":
        # One statement for the whole batch: the rows travel as one array per column.
        arrays = ", ".join(f"%s::{_ARRAY_TYPES[c.name]}[]" for c in table.columns)
        columns = tuple(list(c) for c in zip(*rows))
        connection.exec_driver_sql(f"{head}SELECT * FROM unnest({arrays}){tail}", columns)
    else:
        values = f"VALUES ({', '.join('?' * len(names))})"
        connection.exec_driver_sql(f"{head}{values}{tail}", rows)


_ARRAY_TYPES = {  # PostgreSQL element types of the totals tables' columns, for unnest()
    "subject_code": "text",
    "currency": "char(3)",
    "product": "text",
    "partner": "text",
    "day": "date",
    "debit_minor": "bigint",
    "credit_minor": "bigint",
    "slot": "smallint",
}


def _book_memos(connection: Connection, postings: Sequence[MemoPosting]) -> None:
    day = _day_param(connection)
    first = _max_seq(connection, MEMO) + 1
    values: list[Any] = []
    for seq, p in enumerate(postings, start=first):
        dims = dict(p.dimensions)
        values.extend(
            (seq, p.posting_id, p.idempotency_key, p.register.value, day(p.accounting_date))
            + (p.direction.value, p.amount.minor_units, p.amount.currency)
            + tuple(dims.get(k, NO_DIMENSION) for k in DIMENSION_KEYS)
            + (p.memo,)
        )
    with _inserter(connection, MEMO) as insert:
        insert(values)
    increases: dict[str, int] = {}
    for p in postings:
        if p.direction is MemoDirection.INCREASE:
            increases[p.amount.currency] = (
                increases.get(p.amount.currency, 0) + p.amount.minor_units
            )
    # Memo writers are serialized (the store's memo lock), so the memo totals keep one slot and
    # the rules' check of them is exact.
    _add_currency_totals(connection, "memo", increases, 0, capped=False)


def _add_currency_totals(
    connection: Connection, book: str, adding: dict[str, int], slot: int, *, capped: bool = True
) -> None:
    """Add ``adding`` (currency -> minor units) to ``slot`` of ``book``'s running totals (the
    posting rules checked that no total passes TOTAL_MINOR_MAX as far as this transaction sees).

    PostgreSQL, ``capped``: concurrent writers may each have seen the others' additions missing,
    so the rules' check alone could let the total pass TOTAL_MINOR_MAX. Each writer adds to its
    own slot and every slot has a cap (:func:`slot_cap`, together exactly TOTAL_MINOR_MAX): a slot
    that would pass it raises :class:`SlotFull`, and the store books the batch again with every
    slot locked (exact). SQLite's single writer sees every addition: one slot, no cap needed."""
    if not adding:
        return
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    sql = (
        f"INSERT INTO {TOTALS.name} (book, currency, total_minor, slot)"
        f" VALUES ({mark}, {mark}, {mark}, {mark})"
        f" ON CONFLICT (book, currency, slot) DO UPDATE"
        f" SET total_minor = {TOTALS.name}.total_minor + excluded.total_minor"
    )
    rows = [(book, currency, minor, slot) for currency, minor in sorted(adding.items())]
    if not (postgres and capped):
        connection.exec_driver_sql(sql, rows if len(rows) > 1 else rows[0])
        return
    full = []
    for row in rows:  # a currency or two a batch
        total = connection.exec_driver_sql(f"{sql} RETURNING total_minor", row).scalar_one()
        if total > slot_cap(slot):
            full.append(row[1])
    if full:
        raise SlotFull(full)


def _lock_total_slots(connection: Connection, book: str, currencies: Sequence[str]) -> None:
    """PostgreSQL: create every slot row of ``book``'s totals in ``currencies`` (0 where missing)
    and lock them all, in (currency, slot) order. Writers adding to a slot then wait for this
    transaction, and a read of the totals after this is exact until it ends."""
    wanted = sorted(set(currencies))
    connection.exec_driver_sql(
        f"INSERT INTO {TOTALS.name} (book, currency, total_minor, slot)"
        f" SELECT %s, c, 0, s FROM unnest(%s::char(3)[]) AS c,"
        f" generate_series(0, {TOTALS_SLOTS - 1}) AS s ORDER BY c, s ON CONFLICT DO NOTHING",
        (book, wanted),
    )
    connection.exec_driver_sql(
        f"SELECT slot FROM {TOTALS.name} WHERE book = %s AND currency = ANY(%s::char(3)[])"
        " ORDER BY currency, slot FOR UPDATE",
        (book, wanted),
    ).all()


def _spread_currency_totals(connection: Connection, book: str, adding: dict[str, int]) -> None:
    """PostgreSQL, with every slot of ``adding``'s currencies locked (:func:`_lock_total_slots`):
    add ``adding`` to ``book``'s totals, rewriting each currency's slots so that slot ``i`` holds
    at most its cap (filled from slot 0). The rules checked the exact total against
    TOTAL_MINOR_MAX, which the caps add up to, so it fits."""
    for currency, minor in sorted(adding.items()):
        query = f"SELECT SUM(total_minor) FROM {TOTALS.name} WHERE book = %s AND currency = %s"
        total = int(connection.exec_driver_sql(query, (book, currency)).scalar_one()) + minor
        if total > TOTAL_MINOR_MAX:  # the rules refuse such a batch before this is reached
            raise InvariantViolation(f"{book} total in {currency} would be {total}")
        shares = [(share, book, currency, slot) for slot, share in enumerate(slot_shares(total))]
        connection.exec_driver_sql(
            f"UPDATE {TOTALS.name} SET total_minor = %s"
            " WHERE book = %s AND currency = %s AND slot = %s",
            shares,
        )
