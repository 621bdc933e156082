"""Revolving credit-line accounts on SQLite and PostgreSQL: the line half of
:class:`~loancore.adapters.sql.loans.SqlLoanStore` (component ``loans``, since version 2).

Tables (docs/storage.md, "Loans"):

``loans_line_products``   one row per ``(product_id, version)``: the line product's TOML text
``loans_lines``           one row per account: the columns a query selects or locks on
                          (customer, quota line, last date, version) and ``document``, the whole
                          :class:`~loancore.servicing.CreditLineAccount` as canonical JSON
                          (:mod:`loancore.adapters.sql.lines_codec`)
``loans_line_events``     one row per event applied: its :class:`~loancore.ports.LineRecord`
``loans_line_statements`` one row per statement closed

``update_line`` is ``UPDATE loans_lines ... WHERE account_id = :id AND version = :expected``
first (on PostgreSQL the row lock makes a second writer wait, then find the version moved:
:class:`~loancore.errors.ConcurrentUpdate`), then the record and statements are inserted, all
in one SAVEPOINT. :data:`LINE_TABLES` came with the loans schema's version 2
(:func:`add_line_tables`, the 1 -> 2 migration).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.memory.lines import (
    LineUpdate,
    check_account,
    check_account_ids,
    check_line_limit,
    check_line_updates,
)
from loancore.adapters.sql.base import (
    METADATA,
    Bind,
    binary_text,
    currency_column,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.lines_codec import (
    decode_line,
    decode_line_record,
    decode_statement,
    encode_line,
    encode_line_record,
    encode_statement,
)
from loancore.checks import require_date, require_id
from loancore.errors import ConcurrentUpdate, IdempotencyConflict, NotFound
from loancore.ports import LineRecord, StoredLine
from loancore.servicing import (
    CreditLineAccount,
    CreditLineProduct,
    Statement,
    credit_line_product_from_toml,
)

__all__ = [
    "LINES",
    "LINE_EVENTS",
    "LINE_PRODUCTS",
    "LINE_STATEMENTS",
    "LINE_TABLES",
    "SqlLines",
    "add_line_tables",
]

TEXT_ID = binary_text()

LINE_PRODUCTS = sa.Table(
    "loans_line_products",
    METADATA,
    sa.Column("product_id", TEXT_ID, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("toml", sa.Text, nullable=False),
)

LINES = sa.Table(
    "loans_lines",
    METADATA,
    sa.Column("account_id", TEXT_ID, primary_key=True),
    sa.Column("customer_id", TEXT_ID, nullable=False, index=True),
    sa.Column("line_id", TEXT_ID, nullable=False, index=True),  # the quota line
    sa.Column("product_id", TEXT_ID, nullable=False),
    sa.Column("product_version", sa.Integer, nullable=False),
    currency_column(),
    sa.Column("last_date", sa.Date, nullable=False, index=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

LINE_EVENTS = sa.Table(
    "loans_line_events",
    METADATA,
    sa.Column("account_id", TEXT_ID, primary_key=True),
    sa.Column("event_id", TEXT_ID, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

LINE_STATEMENTS = sa.Table(
    "loans_line_statements",
    METADATA,
    sa.Column("account_id", TEXT_ID, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)

LINE_TABLES = (LINE_PRODUCTS, LINES, LINE_EVENTS, LINE_STATEMENTS)


def add_line_tables(connection: Connection) -> None:
    """Loans schema 1 -> 2: the revolving credit lines' tables (nothing existing changes)."""
    METADATA.create_all(connection, tables=list(LINE_TABLES), checkfirst=True)


_UPDATE = (
    LINES.update()
    .where(LINES.c.account_id == sa.bindparam("id"), LINES.c.version == sa.bindparam("expected"))
    .values(
        last_date=sa.bindparam("new_last_date"),
        version=sa.bindparam("new_version"),
        document=sa.bindparam("new_document"),
    )
)

_IN_MAX = 500


@functools.lru_cache(maxsize=256)
def _parsed(toml_text: str) -> CreditLineProduct:
    return credit_line_product_from_toml(toml_text)


def _stored(row: Any) -> StoredLine:
    return StoredLine(
        account=decode_line(row.document), version=row.version, customer_id=row.customer_id
    )


class SqlLines:
    """The credit-line methods of the SQL loan store (a mixin over the store's ``_bind``)."""

    _bind: Bind

    def save_line_product(self, toml_text: str) -> CreditLineProduct:
        product = (
            _parsed(toml_text)
            if isinstance(toml_text, str)
            else credit_line_product_from_toml(toml_text)
        )
        with write_transaction(self._bind) as connection:
            query = sa.select(LINE_PRODUCTS.c.toml).where(
                LINE_PRODUCTS.c.product_id == product.product_id,
                LINE_PRODUCTS.c.version == product.version,
            )
            stored: str | None = connection.execute(query).scalar_one_or_none()
            if stored is not None:
                if _parsed(stored) != product:
                    ref = f"{product.product_id}@{product.version}"
                    raise IdempotencyConflict(ref, "line product version changed")
                return _parsed(stored)
            connection.execute(
                LINE_PRODUCTS.insert().values(
                    product_id=product.product_id, version=product.version, toml=toml_text
                )
            )
        return product

    def line_product(self, product_id: str, version: int) -> CreditLineProduct:
        query = sa.select(LINE_PRODUCTS.c.toml).where(
            LINE_PRODUCTS.c.product_id == product_id, LINE_PRODUCTS.c.version == version
        )
        with read_connection(self._bind) as connection:
            text: str | None = connection.execute(query).scalar_one_or_none()
        if text is None:
            raise NotFound("line product", f"{product_id}@{version}")
        return _parsed(text)

    def add_line(self, account: CreditLineAccount, *, customer_id: str) -> None:
        check_account(account)
        require_id("customer_id", customer_id)
        document = encode_line(account)
        with write_transaction(self._bind) as connection:
            query = sa.select(LINES.c.customer_id, LINES.c.document).where(
                LINES.c.account_id == account.account_id
            )
            row = connection.execute(query).one_or_none()
            if row is not None:
                if row.document != document or row.customer_id != customer_id:
                    raise IdempotencyConflict(account.account_id, "a different line has this id")
                return
            connection.execute(
                LINES.insert().values(
                    account_id=account.account_id,
                    customer_id=customer_id,
                    line_id=account.line_id,
                    product_id=account.product_id,
                    product_version=account.product_version,
                    currency=account.currency,
                    last_date=account.last_date,
                    version=1,
                    document=document,
                )
            )

    def load_line(self, account_id: str) -> StoredLine:
        query = sa.select(LINES.c.customer_id, LINES.c.version, LINES.c.document).where(
            LINES.c.account_id == account_id
        )
        with read_connection(self._bind) as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            raise NotFound("line", account_id)
        return _stored(row)

    def load_lines(self, account_ids: Sequence[str]) -> dict[str, StoredLine]:
        unique = list(dict.fromkeys(check_account_ids(account_ids)))
        rows: dict[str, StoredLine] = {}
        columns = (LINES.c.account_id, LINES.c.customer_id, LINES.c.version, LINES.c.document)
        with read_connection(self._bind) as connection:
            for first in range(0, len(unique), _IN_MAX):  # bounded by LINES_BATCH_MAX / _IN_MAX
                chunk = unique[first : first + _IN_MAX]
                query = sa.select(*columns).where(LINES.c.account_id.in_(chunk))
                rows.update((row.account_id, _stored(row)) for row in connection.execute(query))
        for account_id in unique:
            if account_id not in rows:
                raise NotFound("line", account_id)
        return {account_id: rows[account_id] for account_id in unique}

    def update_line(
        self,
        account: CreditLineAccount,
        *,
        expected_version: int,
        record: LineRecord,
        statements: Sequence[Statement] = (),
    ) -> None:
        self.update_lines([(account, expected_version, record, tuple(statements))])

    def update_lines(
        self, updates: Sequence[tuple[CreditLineAccount, int, LineRecord, Sequence[Statement]]]
    ) -> None:
        checked = check_line_updates(updates)
        if not checked:
            return
        accounts = [
            {
                "id": account.account_id,
                "expected": expected,
                "new_last_date": account.last_date,
                "new_version": expected + 1,
                "new_document": encode_line(account),
            }
            for account, expected, _record, _closed in checked
        ]
        records = [
            {
                "account_id": account.account_id,
                "event_id": record.event_id,
                "version": record.version,
                "document": encode_line_record(record),
            }
            for account, _expected, record, _closed in checked
        ]
        statements = [
            {"account_id": account.account_id, "number": s.number, "document": encode_statement(s)}
            for account, _expected, _record, closed in checked
            for s in closed
        ]
        try:
            with write_transaction(self._bind) as connection:
                _update_accounts(connection, accounts)
                connection.execute(LINE_EVENTS.insert(), records)
                if statements:
                    connection.execute(LINE_STATEMENTS.insert(), statements)
        except (_Stale, sa.exc.IntegrityError):
            self._refuse(checked)

    def _refuse(self, checked: Sequence[LineUpdate]) -> None:
        """The refusal of an ``update_lines`` that wrote nothing: the first update in order
        whose account is missing, moved, or whose event or statement is stored."""
        with read_connection(self._bind) as connection:
            for account, expected, record, closed in checked:  # bounded by LINES_BATCH_MAX
                account_id = account.account_id
                query = sa.select(LINES.c.version).where(LINES.c.account_id == account_id)
                version = connection.execute(query).scalar_one_or_none()
                if version is None:
                    raise NotFound("line", account_id)
                if version != expected:
                    raise ConcurrentUpdate("line", account_id, expected)
                query = sa.select(LINE_EVENTS.c.version).where(
                    LINE_EVENTS.c.account_id == account_id,
                    LINE_EVENTS.c.event_id == record.event_id,
                )
                if connection.execute(query).first() is not None:
                    raise IdempotencyConflict(f"{account_id}/{record.event_id}", "event recorded")
                numbers = [s.number for s in closed]
                query = sa.select(LINE_STATEMENTS.c.number).where(
                    LINE_STATEMENTS.c.account_id == account_id,
                    LINE_STATEMENTS.c.number.in_(numbers),
                )
                taken = connection.execute(query).scalars().first()
                if taken is not None:
                    raise IdempotencyConflict(f"{account_id}/statement {taken}", "stored")
        account = checked[0][0]
        raise ConcurrentUpdate("line", account.account_id, checked[0][1])

    def line_record(self, account_id: str, event_id: str) -> LineRecord | None:
        query = sa.select(LINE_EVENTS.c.document).where(
            LINE_EVENTS.c.account_id == account_id, LINE_EVENTS.c.event_id == event_id
        )
        with read_connection(self._bind) as connection:
            document: str | None = connection.execute(query).scalar_one_or_none()
        return None if document is None else decode_line_record(document)

    def line_statements(self, account_id: str) -> tuple[Statement, ...]:
        query = (
            sa.select(LINE_STATEMENTS.c.document)
            .where(LINE_STATEMENTS.c.account_id == account_id)
            .order_by(LINE_STATEMENTS.c.number)
        )
        with read_connection(self._bind) as connection:
            return tuple(decode_statement(d) for d in connection.execute(query).scalars())

    def line_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        check_line_limit(after, limit)
        query = (
            sa.select(LINES.c.account_id)
            .where(LINES.c.account_id > after)
            .order_by(LINES.c.account_id)
            .limit(limit)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

    def lines_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        require_date("through", through)
        check_line_limit(after, limit)
        query = (
            sa.select(LINES.c.account_id)
            .where(LINES.c.account_id > after, LINES.c.last_date < through)
            .order_by(LINES.c.account_id)
            .limit(limit)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

    def quota_line_accounts(self, line_id: str) -> tuple[str, ...]:
        query = (
            sa.select(LINES.c.account_id)
            .where(LINES.c.line_id == line_id)
            .order_by(LINES.c.account_id)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())


class _Stale(Exception):
    """Raised inside ``update_lines``' savepoint to undo it when an account was not updated."""


def _update_accounts(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if connection.dialect.supports_sane_multi_rowcount or len(rows) == 1:
        if connection.execute(_UPDATE, rows if len(rows) > 1 else rows[0]).rowcount != len(rows):
            raise _Stale
        return
    for row in rows:  # bounded by LINES_BATCH_MAX
        if connection.execute(_UPDATE, row).rowcount != 1:
            raise _Stale
