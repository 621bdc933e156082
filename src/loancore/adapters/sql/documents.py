"""What the SQL loan and credit-line stores share: a product table (one row per product
version: its TOML text, kept once), pages of ids, rows read by id in bounded ``IN`` lists, and a
versioned ``UPDATE`` over many rows that says whether every row moved.
:mod:`loancore.adapters.sql.loans` and :mod:`loancore.adapters.sql.lines` call these with their
own tables and names."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.memory.documents import Versioned, find_product, keep_product
from loancore.adapters.sql.base import (
    METADATA,
    Bind,
    binary_text,
    currency_column,
    read_connection,
    write_transaction,
)
from loancore.errors import IdempotencyConflict

__all__ = [
    "IN_MAX",
    "document_table",
    "ids_page",
    "ids_where",
    "insert_once",
    "load_product",
    "product_table",
    "rows_by_id",
    "save_product",
    "update_all",
    "versioned_update",
]

IN_MAX = 500
"""The most ids one ``SELECT ... IN`` binds (SQLite allows 32,766 parameters; PostgreSQL more)."""

P = TypeVar("P", bound=Versioned)


def product_table(name: str) -> sa.Table:
    """A product table: ``(product_id, version)`` -> the TOML text, as given."""
    return sa.Table(
        name,
        METADATA,
        sa.Column("product_id", binary_text(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("toml", sa.Text, nullable=False),
    )


def document_table(
    name: str,
    key: str,
    *,
    before: Sequence[sa.Column[Any]] = (),
    after: Sequence[sa.Column[Any]] = (),
) -> sa.Table:
    """A table of versioned documents (a loan, a credit-line account): ``key`` (the primary
    key), ``customer_id`` (indexed), the ``before`` columns, ``product_id``, ``product_version``,
    ``currency``, the ``after`` columns, ``version`` and ``document`` (the canonical JSON)."""
    text = binary_text()
    return sa.Table(
        name,
        METADATA,
        sa.Column(key, text, primary_key=True),
        sa.Column("customer_id", text, nullable=False, index=True),
        *before,
        sa.Column("product_id", text, nullable=False),
        sa.Column("product_version", sa.Integer, nullable=False),
        currency_column(),
        *after,
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def versioned_update(table: sa.Table, key: str, *columns: str) -> Any:
    """``UPDATE table SET <columns>, version, document WHERE <key> = :id AND version =
    :expected``, the new values bound as ``new_<column>``."""
    names = (*columns, "version", "document")
    return (
        table.update()
        .where(table.c[key] == sa.bindparam("id"), table.c.version == sa.bindparam("expected"))
        .values(**{name: sa.bindparam(f"new_{name}") for name in names})
    )


def _text(connection: Connection, table: sa.Table, product_id: str, version: int) -> str | None:
    query = sa.select(table.c.toml).where(
        table.c.product_id == product_id, table.c.version == version
    )
    text: str | None = connection.execute(query).scalar_one_or_none()
    return text


def save_product(
    bind: Bind,
    table: sa.Table,
    toml_text: str,
    parse: Callable[[str], Any],
    noun: str,
) -> Any:
    """The product of ``toml_text`` (``parse`` reads it; it refuses what is no TOML text) kept in
    ``table`` once: the stored one again if it is the same, IdempotencyConflict if the version
    holds another."""
    product = parse(toml_text)
    with write_transaction(bind) as connection:
        stored = _text(connection, table, product.product_id, product.version)
        kept = keep_product(None if stored is None else parse(stored), product, noun)
        if stored is None:
            row = {"product_id": product.product_id, "version": product.version}
            connection.execute(table.insert().values(**row, toml=toml_text))
    return kept


def load_product(
    bind: Bind,
    table: sa.Table,
    product_id: str,
    version: int,
    parse: Callable[[str], P],
    noun: str,
) -> P:
    """The stored product version, or NotFound (``noun``)."""
    with read_connection(bind) as connection:
        text = _text(connection, table, product_id, version)
    return find_product(None if text is None else parse(text), product_id, version, noun)


def ids_page(bind: Bind, key: sa.Column[Any], after: str, limit: int) -> tuple[str, ...]:
    """Up to ``limit`` values of ``key`` greater than ``after``, in order (keyset paging)."""
    query = sa.select(key).where(key > after).order_by(key).limit(limit)
    with read_connection(bind) as connection:
        return tuple(connection.execute(query).scalars())


def ids_where(
    bind: Bind, key: sa.Column[Any], condition: sa.ColumnElement[bool]
) -> tuple[str, ...]:
    """Every value of ``key`` of the rows meeting ``condition``, in order."""
    query = sa.select(key).where(condition).order_by(key)
    with read_connection(bind) as connection:
        return tuple(connection.execute(query).scalars())


def rows_by_id(
    connection: Connection, key: sa.Column[Any], columns: Sequence[Any], ids: Sequence[str]
) -> Iterator[Any]:
    """The rows (``columns``) whose ``key`` is one of ``ids``, read :data:`IN_MAX` ids a query."""
    for first in range(0, len(ids), IN_MAX):  # bounded by the caller's batch / IN_MAX
        chunk = ids[first : first + IN_MAX]
        yield from connection.execute(sa.select(*columns).where(key.in_(chunk)))


def update_all(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> bool:
    """``statement`` (an ``UPDATE ... WHERE id = :id AND version = :expected``) for every row;
    whether each updated exactly one row. Executed as one batch where the driver counts the rows
    of a batch, else row by row."""
    if connection.dialect.supports_sane_multi_rowcount or len(rows) == 1:
        updated = connection.execute(statement, rows if len(rows) > 1 else rows[0]).rowcount
        return bool(updated == len(rows))
    for row in rows:  # bounded by the caller's batch
        if connection.execute(statement, row).rowcount != 1:
            return False
    return True


def insert_once(
    bind: Bind,
    table: sa.Table,
    key: sa.Column[Any],
    row: dict[str, Any],
    same: Callable[[str], bool],
    noun: str,
) -> None:
    """``row`` (its ``customer_id`` and ``document`` among the values) inserted into ``table``
    unless a row with its ``key`` is stored: then nothing is written if that row is the same
    (``same(stored document)`` and the same customer), else IdempotencyConflict (``a different
    <noun> has this id``)."""
    value = row[key.name]
    with write_transaction(bind) as connection:
        query = sa.select(table.c.customer_id, table.c.document).where(key == value)
        stored = connection.execute(query).one_or_none()
        if stored is None:
            connection.execute(table.insert().values(**row))
            return
    if not same(stored.document) or stored.customer_id != row["customer_id"]:
        raise IdempotencyConflict(value, f"a different {noun} has this id")
