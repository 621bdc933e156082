"""The SQL ledger's reads: entries by id, key or sequence, balances from the daily totals, the
legs or the segment totals, and general-ledger postings. Driver-level SQL where a query runs per
batch (compiling it would cost more than running it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from loancore.adapters.sql.ledger_schema import (
    DAILY,
    ENTRIES,
    INDEXED_DIMENSIONS,
    LEGS,
    MEMO,
    NO_DIMENSION,
    SEGMENT_DIMENSIONS,
    SEGMENTS,
)
from loancore.errors import InvariantViolation
from loancore.ledger.entries import (
    DIMENSION_KEYS,
    Dimensions,
    JournalEntry,
    Leg,
    MemoPosting,
    MemoRegister,
)
from loancore.ledger.subjects import Side
from loancore.money import Money

_CHUNK = 500  # bound parameters per IN list, well under SQLite's and psycopg's limits
_UNIT_SEPARATOR = "\x1f"  # joins text keys into one PostgreSQL parameter (see _scalars_in)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _member_chunks(
    connection: Connection, column: sa.Column[Any], values: Sequence[Any]
) -> Iterator[Any]:
    """``column IN values`` as few clauses as the database allows: one ``= ANY(array)`` with a
    single array parameter on PostgreSQL, IN lists of at most ``_CHUNK`` parameters on SQLite."""
    items = list(values)
    if connection.dialect.name == "postgresql":
        if items:
            yield column == sa.any_(sa.bindparam(None, items, type_=postgresql.ARRAY(column.type)))
        return
    for chunk in _chunks(items):
        yield column.in_(chunk)


# -- reading entries ----------------------------------------------------------------------------


def _scalars_in(
    connection: Connection,
    select: sa.Column[Any],
    column: sa.Column[Any],
    values: Sequence[Any],
    *,
    distinct: bool = False,
    or_column: sa.Column[Any] | None = None,
    or_values: Sequence[Any] = (),
) -> list[Any]:
    """``SELECT [DISTINCT] select FROM its table WHERE column IN values [OR or_column IN
    or_values]``, as driver-level SQL (the posting path runs this per batch; compiling an
    expanding IN costs more than the query). A row matching both lists is returned once per
    statement; on SQLite, whose IN lists are chunked, a row can come back once per chunk."""
    tests = [(column, list(values))]
    if or_column is not None:
        tests.append((or_column, list(or_values)))
    tests = [(c, items) for c, items in tests if items]
    if not tests:
        return []
    what = f"DISTINCT {select.name}" if distinct else select.name
    head = f"SELECT {what} FROM {column.table.name} WHERE "
    if connection.dialect.name == "postgresql":
        clauses, params = zip(*(_any_of(c.name, items) for c, items in tests))
        sql = head + " OR ".join(clauses)
        return [row[0] for row in connection.exec_driver_sql(sql, tuple(params))]
    out: list[Any] = []
    chunked = [(c, list(_chunks(items))) for c, items in tests]
    for number in range(max(len(chunks) for _, chunks in chunked)):  # bounded by the longest list
        parts = [(c, chunks[number]) for c, chunks in chunked if number < len(chunks)]
        in_lists = [f"{c.name} IN ({', '.join('?' * len(chunk))})" for c, chunk in parts]
        chunk_params = tuple(chain.from_iterable(chunk for _, chunk in parts))
        rows = connection.exec_driver_sql(head + " OR ".join(in_lists), chunk_params)
        out.extend(row[0] for row in rows)
    return out


def _any_of(name: str, items: list[Any]) -> tuple[str, Any]:
    """PostgreSQL's ``name = ANY(...)`` clause and its one parameter for ``items``."""
    joined = _UNIT_SEPARATOR.join(items) if set(map(type, items)) == {str} else ""
    if joined and joined.count(_UNIT_SEPARATOR) == len(items) - 1:
        # One text parameter split by the server: psycopg dumps a 1,000-element list in Python
        # and the planner treats a split string like a small set (index probes), about half the
        # time of ``= ANY(%s)``. Only when no value holds the separator.
        return f"{name} = ANY(string_to_array(%s, chr({ord(_UNIT_SEPARATOR)})))", joined
    return f"{name} = ANY(%s)", items


def _entries_where(
    connection: Connection, column: sa.Column[Any], values: Sequence[str]
) -> list[JournalEntry]:
    """Booked entries whose ``column`` is in ``values``, in posting order."""
    seqs = _scalars_in(connection, ENTRIES.c.seq, column, values)
    return _entries_with_seqs(connection, sorted(seqs))


def _entries_with_seqs(connection: Connection, seqs: Sequence[int]) -> list[JournalEntry]:
    """Booked entries with the sequence numbers ``seqs`` (ascending), in posting order."""
    out: list[JournalEntry] = []
    for chunk in _chunks(seqs):
        entry_where = next(_member_chunks(connection, ENTRIES.c.seq, chunk))
        leg_where = next(_member_chunks(connection, LEGS.c.entry_seq, chunk))
        out.extend(_load_entries(connection, entry_where, leg_where))
    return out


def _load_entries(connection: Connection, entry_where: Any, leg_where: Any) -> list[JournalEntry]:
    legs: dict[int, list[Leg]] = {}
    leg_query = sa.select(*_LEG_COLUMNS).where(leg_where).order_by(LEGS.c.entry_seq, LEGS.c.leg_no)
    for row in connection.execute(leg_query).all():  # a chunk's rows at once, not one by one
        legs.setdefault(row[0], []).append(_leg_of(row))
    entry_query = sa.select(ENTRIES).where(entry_where).order_by(ENTRIES.c.seq)
    # Rows the store booked: checked when posted, not checked again (JournalEntry._of_stored).
    return [
        JournalEntry._of_stored(
            entry_id=row.entry_id,
            idempotency_key=row.idempotency_key,
            accounting_date=row.accounting_date,
            value_date=row.value_date,
            legs=tuple(legs.get(row.seq, ())),
            memo=row.memo,
            reverses=row.reverses,
        )
        for row in connection.execute(entry_query).all()
    ]


def _dimensions_of(values: Iterable[str | None]) -> Dimensions:
    """The stored dimension columns' ``values``, in DIMENSION_KEYS order, as dimensions: the
    keys with a value, in that order, which is sorted (the form ``dimensions_of`` gives)."""
    return tuple([(key, value) for key, value in zip(DIMENSION_KEYS, values) if value])


def _dimensions_from_row(row: Any) -> Dimensions:
    mapping = row._mapping
    return _dimensions_of([mapping[key] for key in DIMENSION_KEYS])


_SIDES = {side.value: side for side in Side}

_LEG_COLUMNS = (
    LEGS.c.entry_seq,
    LEGS.c.subject_code,
    LEGS.c.side,
    LEGS.c.amount_minor,
    LEGS.c.currency,
    *(LEGS.c[key] for key in DIMENSION_KEYS),
)
"""What :func:`_leg_of` reads, by position: the entry, the leg, then each dimension."""


def _leg_of(row: Any) -> Leg:
    """A stored leg from a row of :data:`_LEG_COLUMNS` (checked when its entry was posted, so
    not checked again: :meth:`Leg._of_checked`)."""
    side = _SIDES.get(row[2])
    if side is None:
        raise InvariantViolation(f"stored leg has side {row[2]!r}")
    return Leg._of_checked(row[1], side, Money.from_minor(row[3], row[4]), _dimensions_of(row[5:]))


def _memo_from_row(row: Any) -> MemoPosting:
    return MemoPosting(
        posting_id=row.posting_id,
        idempotency_key=row.idempotency_key,
        register=row.register,
        accounting_date=row.accounting_date,
        direction=row.direction,
        amount=Money.from_minor(row.amount_minor, row.currency),
        dimensions=_dimensions_from_row(row),
        memo=row.memo,
    )


def _memos_where(
    connection: Connection, column: sa.Column[Any], values: Sequence[str]
) -> list[MemoPosting]:
    out: list[MemoPosting] = []
    for clause in _member_chunks(connection, column, values):
        query = sa.select(MEMO).where(clause).order_by(MEMO.c.seq)
        out.extend(_memo_from_row(r) for r in connection.execute(query))
    return out


# -- sums ---------------------------------------------------------------------------------------


def _net(
    connection: Connection,
    codes: Sequence[str],
    currency: str,
    wanted: Dimensions,
    days: Callable[[sa.Column[Any]], Any],
) -> int:
    """Debits minus credits in minor units of the legs of ``codes`` in ``currency`` that carry
    every ``wanted`` dimension, on the days ``days(day column)`` selects.

    From the daily totals when no dimension is wanted; from the segment totals when only product
    and partner are; otherwise from the legs, through an indexed dimension's index."""
    if not wanted:
        return _net_from_totals(connection, DAILY, codes, currency, [days(DAILY.c.day)])
    if _by_segment_only(wanted):
        filters = [days(SEGMENTS.c.day), *(SEGMENTS.c[key] == value for key, value in wanted)]
        return _net_from_totals(connection, SEGMENTS, codes, currency, filters)
    return _net_from_legs(connection, codes, currency, wanted, days(DAILY.c.day))


def _by_segment_only(wanted: Dimensions) -> bool:
    return all(key in SEGMENT_DIMENSIONS for key, _ in wanted)


def _net_from_totals(
    connection: Connection, table: sa.Table, codes: Sequence[str], currency: str, filters: list[Any]
) -> int:
    """Debits minus credits in minor units from a totals table (daily or segment)."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(table.c.debit_minor), 0),
        sa.func.coalesce(sa.func.sum(table.c.credit_minor), 0),
    ).where(table.c.subject_code.in_(list(codes)), table.c.currency == currency, *filters)
    debit, credit = connection.execute(query).one()
    return int(debit) - int(credit)


def _signed_amount() -> sa.ColumnElement[Any]:
    return sa.case((LEGS.c.side == "debit", LEGS.c.amount_minor), else_=-LEGS.c.amount_minor)


def _leg_filters(
    codes: Sequence[str], currency: str, wanted: Iterable[tuple[str, str]]
) -> list[Any]:
    filters = [LEGS.c.subject_code.in_(list(codes)), LEGS.c.currency == currency]
    for key, value in wanted:
        filters.append(LEGS.c[key] == value)
        if key in INDEXED_DIMENSIONS:
            # Implied by the equality; there so that SQLite sees the partial index's condition in
            # the query and may use the index.
            filters.append(LEGS.c[key] != NO_DIMENSION)
    return filters


def _legs_on_posting_days(
    codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> list[Any]:
    """Filters selecting legs of ``codes`` that carry every wanted dimension, on the days
    (``day_filter`` over ``ledger_daily_balances.day``) the subjects have postings.

    The dimension indexes lead with ``accounting_date``, so a batch's rows land in one region of
    each index instead of one leaf page per loan, customer or merchant (see docs/storage.md). A
    dimension read therefore probes them once per posting day, the days listed by the daily
    totals (``accounting_date IN (subquery)``): an index seek each, a few hundred per year however
    many legs there are.
    """
    days = sa.select(DAILY.c.day).where(
        DAILY.c.subject_code.in_(list(codes)), DAILY.c.currency == currency, day_filter
    )
    return [LEGS.c.accounting_date.in_(days), *_leg_filters(codes, currency, wanted)]


def _net_from_legs_query(
    codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> sa.Select[Any]:
    """Debits minus credits in minor units of the legs carrying every wanted dimension, on the
    posting days ``day_filter`` (over ``ledger_daily_balances.day``) selects."""
    filters = _legs_on_posting_days(codes, currency, wanted, day_filter)
    return sa.select(sa.func.coalesce(sa.func.sum(_signed_amount()), 0)).where(*filters)


def _net_from_legs(
    connection: Connection, codes: Sequence[str], currency: str, wanted: Any, day_filter: Any
) -> int:
    query = _net_from_legs_query(codes, currency, wanted, day_filter)
    return int(connection.execute(query).scalar_one())


def _ledger_postings(
    connection: Connection, codes: Sequence[str], currency: str, wanted: Any, start: date, end: date
) -> list[tuple[JournalEntry, Leg]]:
    if wanted and not _by_segment_only(wanted):
        filters = _legs_on_posting_days(codes, currency, wanted, DAILY.c.day.between(start, end))
    else:  # the subject's legs in the period (its index), filtered by product or partner if any
        filters = _leg_filters(codes, currency, wanted)
        filters.append(LEGS.c.accounting_date.between(start, end))
    query = (
        sa.select(LEGS.c.entry_seq, LEGS.c.leg_no)
        .where(*filters)
        .order_by(LEGS.c.accounting_date, LEGS.c.entry_seq, LEGS.c.leg_no)
    )
    positions = connection.execute(query).all()
    seqs = sorted({seq for seq, _ in positions})
    by_seq: dict[int, JournalEntry] = {}
    for chunk in _chunks(seqs):
        loaded = _load_entries(connection, ENTRIES.c.seq.in_(chunk), LEGS.c.entry_seq.in_(chunk))
        by_seq.update(zip(chunk, loaded))
    return [(by_seq[seq], by_seq[seq].legs[leg_no]) for seq, leg_no in positions]


def _memo_net(
    connection: Connection, register: MemoRegister, currency: str, wanted: Any, as_of: date
) -> int:
    increase = MEMO.c.direction == "increase"
    signed = sa.case((increase, MEMO.c.amount_minor), else_=-MEMO.c.amount_minor)
    query = sa.select(sa.func.coalesce(sa.func.sum(signed), 0)).where(
        MEMO.c.register == register.value,
        MEMO.c.currency == currency,
        MEMO.c.accounting_date <= as_of,
        *[MEMO.c[key] == value for key, value in wanted],
    )
    return int(connection.execute(query).scalar_one())


def _last_seq(connection: Connection) -> int:
    """The largest entry sequence number booked (0 for none), read from the primary key. On
    SQLite numbers are 1, 2, ... with no gap (assigned by the one writer, never deleted), so it is
    also the count; PostgreSQL's come from a sequence and may have gaps."""
    return _max_seq(connection, ENTRIES)


def _max_seq(connection: Connection, table: sa.Table) -> int:
    # Driver-level SQL: building and compiling the Core statement cost ~0.4 ms a batch.
    sql = f"SELECT COALESCE(MAX(seq), 0) FROM {table.name}"
    return int(connection.exec_driver_sql(sql).scalar_one())
