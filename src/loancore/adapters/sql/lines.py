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
    OneLineUpdate,
    check_account,
    check_account_ids,
    check_line_limit,
    check_line_updates,
)
from loancore.adapters.sql.base import (
    METADATA,
    Bind,
    binary_text,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.documents import (
    document_table,
    ids_page,
    ids_where,
    insert_once,
    load_product,
    product_table,
    rows_by_id,
    save_product,
    update_all,
    versioned_update,
)
from loancore.adapters.sql.lines_codec import (
    decode_line,
    decode_line_record,
    decode_statement,
    encode_line,
    encode_line_record,
    encode_statement,
)
from loancore.adapters.sql.standing import STANDING
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

LINE_PRODUCTS = product_table("loans_line_products")

LINES = document_table(
    "loans_lines",
    "account_id",
    before=(sa.Column("line_id", TEXT_ID, nullable=False, index=True),),  # the quota line
    after=(sa.Column("last_date", sa.Date, nullable=False, index=True),),
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


_UPDATE = versioned_update(LINES, "account_id", "last_date")


@functools.lru_cache(maxsize=256)
def _parsed(toml_text: str) -> CreditLineProduct:
    return credit_line_product_from_toml(toml_text)


def _read(toml_text: str) -> CreditLineProduct:
    """A line product's TOML text parsed (once per text); anything else refused by the parser."""
    if isinstance(toml_text, str):
        return _parsed(toml_text)
    return credit_line_product_from_toml(toml_text)


def _stored(row: Any) -> StoredLine:
    return StoredLine(
        account=decode_line(row.document), version=row.version, customer_id=row.customer_id
    )


class SqlLines(OneLineUpdate):
    """The credit-line methods of the SQL loan store (a mixin over the store's ``_bind``)."""

    _bind: Bind

    def save_line_product(self, toml_text: str) -> CreditLineProduct:
        noun = "line product"
        product: CreditLineProduct = save_product(self._bind, LINE_PRODUCTS, toml_text, _read, noun)
        return product

    def line_product(self, product_id: str, version: int) -> CreditLineProduct:
        return load_product(self._bind, LINE_PRODUCTS, product_id, version, _read, "line product")

    def add_line(self, account: CreditLineAccount, *, customer_id: str) -> None:
        check_account(account)
        require_id("customer_id", customer_id)
        document = encode_line(account)
        row = {
            "account_id": account.account_id,
            "customer_id": customer_id,
            "line_id": account.line_id,
            "product_id": account.product_id,
            "product_version": account.product_version,
            "currency": account.currency,
            "last_date": account.last_date,
            "version": 1,
            "document": document,
        }
        insert_once(self._bind, LINES, LINES.c.account_id, row, document.__eq__, "line")

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
        columns = (LINES.c.account_id, LINES.c.customer_id, LINES.c.version, LINES.c.document)
        with read_connection(self._bind) as connection:
            found = rows_by_id(connection, LINES.c.account_id, columns, unique)
            rows = {row.account_id: _stored(row) for row in found}
        for account_id in unique:
            if account_id not in rows:
                raise NotFound("line", account_id)
        return {account_id: rows[account_id] for account_id in unique}

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
                if not update_all(connection, _UPDATE, accounts):
                    raise _Stale
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
        return ids_page(self._bind, LINES.c.account_id, after, limit)

    def lines_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        require_date("through", through)
        check_line_limit(after, limit)
        joined = LINES.outerjoin(STANDING, STANDING.c.loan_id == LINES.c.account_id)
        behind = sa.or_(
            LINES.c.last_date < through,
            STANDING.c.closed_through.is_(None),
            STANDING.c.closed_through < through,
        )
        query = (
            sa.select(LINES.c.account_id)
            .select_from(joined)
            .where(LINES.c.account_id > after, behind)
            .order_by(LINES.c.account_id)
            .limit(limit)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

    def quota_line_accounts(self, line_id: str) -> tuple[str, ...]:
        return ids_where(self._bind, LINES.c.account_id, LINES.c.line_id == line_id)


class _Stale(Exception):
    """Raised inside ``update_lines``' savepoint to undo it when an account was not updated."""
