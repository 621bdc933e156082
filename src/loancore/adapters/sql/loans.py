"""SqlLoanStore: loans and products on SQLite and PostgreSQL (component ``loans``).

Tables (version :data:`LOANS_SCHEMA_VERSION`; docs/storage.md, "Loans"; since version 2 also
the revolving credit lines' tables, :mod:`loancore.adapters.sql.lines`):

``loans_products``  one row per ``(product_id, version)``: the product's TOML text, as given
``loans_loans``     one row per loan: the columns a query selects or locks on (customer, product,
                    status, version) and ``document``, the whole loan as canonical JSON
                    (:mod:`loancore.adapters.sql.loans_codec`, integer minor units)

``update`` is one ``UPDATE ... WHERE loan_id = :id AND version = :expected``: on PostgreSQL the
row lock makes a second writer wait and then find the version moved (no row updated ->
:class:`~loancore.errors.ConcurrentUpdate`); on SQLite writers are serialised by ``BEGIN
IMMEDIATE``. Each write of more than one statement runs in a SAVEPOINT when the store is given a
Connection (a unit of work); ``update``, one statement, runs without one (two round trips fewer).

The store keeps a :class:`~loancore.adapters.sql.loans_codec.LineMemo` of the loans it read (a
``load_many`` replaces it, a ``load`` adds to it, an update writes through it and empties it), so
writing a loan back encodes only the lines its event changed. The stores of the units of work
of one thread share one memo (:class:`~loancore.adapters.sql.uow.SqlUnitOfWork`), so a loan read
in one unit of work and written in the next (the end of day's optimistic chunks) is written
through it as well.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.memory.loans import (
    check_ids,
    check_limit,
    check_loan,
    check_loans,
    check_standings,
    check_updates,
)
from loancore.adapters.sql.base import (
    Bind,
    MigrationStep,
    binary_text,
    check_bind,
    ensure_schema,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.documents import (
    IN_MAX,
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
from loancore.adapters.sql.lines import LINE_TABLES, LINES, SqlLines, add_line_tables
from loancore.adapters.sql.loans_codec import LineMemo, decode_loan, encode_loan
from loancore.adapters.sql.standing import (
    STANDING,
    STANDING_COMPONENT,
    STANDING_SCHEMA_VERSION,
    decode_standing,
    loans_to_close_query,
    read_standings,
    write_standings,
)
from loancore.checks import require_date, require_id
from loancore.delinquency.daily import LoanStanding
from loancore.errors import ConcurrentUpdate, NotFound
from loancore.servicing import Loan, LoanProduct, product_from_toml

__all__ = [
    "LOANS",
    "LOANS_COMPONENT",
    "LOANS_MIGRATIONS",
    "LOANS_SCHEMA_VERSION",
    "LOANS_TABLES",
    "PRODUCTS",
    "SqlLoanStore",
]

LOANS_COMPONENT = "loans"
LOANS_SCHEMA_VERSION = 2
LOANS_MIGRATIONS: dict[int, MigrationStep] = {1: add_line_tables}
"""The loans schema's upgrade steps: ``LOANS_MIGRATIONS[v]`` takes version ``v`` to ``v + 1``
(1 -> 2: the revolving credit lines' tables, :mod:`loancore.adapters.sql.lines`)."""

TEXT_ID = binary_text()

PRODUCTS = product_table("loans_products")

LOANS = document_table(
    "loans_loans", "loan_id", after=(sa.Column("status", TEXT_ID, nullable=False),)
)

LOANS_TABLES = (PRODUCTS, LOANS, *LINE_TABLES)

_UPDATE = versioned_update(LOANS, "loan_id", "status")


class _Stale(Exception):
    """Raised inside ``update_many``'s savepoint to undo it when a row was not updated."""


@functools.lru_cache(maxsize=256)
def _parsed(toml_text: str) -> LoanProduct:
    return product_from_toml(toml_text)


def _read(toml_text: str) -> LoanProduct:
    """A product's TOML text parsed (once per text); anything else refused by the parser."""
    return _parsed(toml_text) if isinstance(toml_text, str) else product_from_toml(toml_text)


class SqlLoanStore(SqlLines):
    """``SqlLoanStore(bind)``: the loans component on an Engine or a Connection (module
    docstring); revolving credit-line accounts too (:class:`~loancore.adapters.sql.lines.
    SqlLines`). ``create_schema=False`` skips the schema check (the unit of work did it once)."""

    def __init__(
        self, bind: Bind, *, create_schema: bool = True, memo: LineMemo | None = None
    ) -> None:
        check_bind(bind)
        self._bind = bind
        # the lines of the loans read, for writing them back (the units of work of one thread
        # share theirs: a loan read in one and written in the next is still written through it)
        self._memo = LineMemo() if memo is None else memo
        if create_schema:
            ensure_schema(
                bind,
                LOANS_COMPONENT,
                LOANS_SCHEMA_VERSION,
                LOANS_TABLES,
                migrations=LOANS_MIGRATIONS,
            )
            ensure_schema(bind, STANDING_COMPONENT, STANDING_SCHEMA_VERSION, (STANDING,))

    # -- products ---------------------------------------------------------------------------------

    def save_product(self, toml_text: str) -> LoanProduct:
        product: LoanProduct = save_product(self._bind, PRODUCTS, toml_text, _read, "product")
        return product

    def product(self, product_id: str, version: int) -> LoanProduct:
        return load_product(self._bind, PRODUCTS, product_id, version, _read, "product")

    # -- loans ------------------------------------------------------------------------------------

    def add(self, loan: Loan, *, customer_id: str) -> None:
        check_loan(loan)
        require_id("customer_id", customer_id)
        document = encode_loan(loan)

        def same(stored: str) -> bool:  # a loan stored in an older format has another text
            return stored == document or decode_loan(stored) == loan

        row = {
            "loan_id": loan.loan_id,
            "customer_id": customer_id,
            "product_id": loan.product_id,
            "product_version": loan.product_version,
            "currency": loan.currency,
            "status": loan.status.value,
            "version": loan.version,
            "document": document,
        }
        insert_once(self._bind, LOANS, LOANS.c.loan_id, row, same, "loan")

    def load(self, loan_id: str) -> Loan:
        with read_connection(self._bind) as connection:
            query = sa.select(LOANS.c.document).where(LOANS.c.loan_id == loan_id)
            document: str | None = connection.execute(query).scalar_one_or_none()
        if document is None:
            raise NotFound("loan", loan_id)
        return decode_loan(document, self._memo)

    def update(self, loan: Loan, *, expected_version: int) -> None:
        check_loan(loan)
        document = encode_loan(loan, self._memo)
        self._memo.clear()
        if isinstance(self._bind, Connection):
            # one UPDATE is atomic on its own: no SAVEPOINT round trips around it
            self._update(self._bind, loan, expected_version, document)
            return
        with write_transaction(self._bind) as connection:
            self._update(connection, loan, expected_version, document)

    @staticmethod
    def _update(connection: Connection, loan: Loan, expected_version: int, document: str) -> None:
        result = connection.execute(
            _UPDATE,
            {
                "id": loan.loan_id,
                "expected": expected_version,
                "new_status": loan.status.value,
                "new_version": loan.version,
                "new_document": document,
            },
        )
        if result.rowcount == 1:
            return
        query = sa.select(LOANS.c.version).where(LOANS.c.loan_id == loan.loan_id)
        if connection.execute(query).scalar_one_or_none() is None:
            raise NotFound("loan", loan.loan_id)
        raise ConcurrentUpdate("loan", loan.loan_id, expected_version)

    def load_many(self, loan_ids: Sequence[str]) -> dict[str, Loan]:
        documents = self._column_of(loan_ids, LOANS.c.document)
        self._memo.clear()  # a batch read replaces the lines of the batch before
        return {i: decode_loan(document, self._memo) for i, document in documents.items()}

    def _column_of(self, loan_ids: Sequence[str], column: sa.Column[Any]) -> dict[str, Any]:
        """``column`` of each loan of ``loan_ids`` by id, in the ids' order (duplicates once);
        NotFound for the first id in order that is not stored."""
        unique = list(dict.fromkeys(check_ids(loan_ids)))
        with read_connection(self._bind) as connection:
            rows = rows_by_id(connection, LOANS.c.loan_id, (LOANS.c.loan_id, column), unique)
            found = {row[0]: row[1] for row in rows}
        for loan_id in unique:  # bounded by LOANS_BATCH_MAX
            if loan_id not in found:
                raise NotFound("loan", loan_id)
        return {loan_id: found[loan_id] for loan_id in unique}

    def versions(self, loan_ids: Sequence[str]) -> dict[str, int]:
        return self._column_of(loan_ids, LOANS.c.version)

    def update_many(self, updates: Sequence[tuple[Loan, int]]) -> None:
        pairs = check_updates(updates)
        if not pairs:
            return
        rows = [
            {
                "id": loan.loan_id,
                "expected": expected,
                "new_status": loan.status.value,
                "new_version": loan.version,
                "new_document": encode_loan(loan, self._memo),
            }
            for loan, expected in pairs
        ]
        self._memo.clear()  # the objects read live no longer than their write
        try:
            with write_transaction(self._bind) as connection:
                if not update_all(connection, _UPDATE, rows):
                    raise _Stale
        except _Stale:
            self._refuse_stale(pairs)

    def prepare_updates(self, loans: Sequence[Loan]) -> None:
        # Each document encoded now through the memo (outside the writer's lock when the batch
        # is written in a later unit of work); encode_loan returns it when the loan is written.
        memo = self._memo
        for loan in check_loans(loans):  # bounded by LOANS_BATCH_MAX
            memo.prepare(loan, encode_loan(loan, memo))

    def _refuse_stale(self, pairs: Sequence[tuple[Loan, int]]) -> None:
        """The refusal of an ``update_many`` that found a loan missing or moved (nothing written)."""
        ids = [loan.loan_id for loan, _expected in pairs]
        columns = (LOANS.c.loan_id, LOANS.c.version)
        with read_connection(self._bind) as connection:
            rows = rows_by_id(connection, LOANS.c.loan_id, columns, ids)
            versions = {row.loan_id: row.version for row in rows}
        for loan, expected in pairs:
            if loan.loan_id not in versions:
                raise NotFound("loan", loan.loan_id)
            if versions[loan.loan_id] != expected:
                raise ConcurrentUpdate("loan", loan.loan_id, expected)
        loan, expected = pairs[0]
        raise ConcurrentUpdate("loan", loan.loan_id, expected)

    def customer_loans(self, customer_id: str) -> tuple[str, ...]:
        return ids_where(self._bind, LOANS.c.loan_id, LOANS.c.customer_id == customer_id)

    def loan_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        check_limit(after, limit)
        return ids_page(self._bind, LOANS.c.loan_id, after, limit)

    # -- end-of-day standings (loancore.adapters.sql.standing) ------------------------------------

    def load_standings(self, loan_ids: Sequence[str]) -> dict[str, LoanStanding]:
        ids = check_ids(loan_ids)
        with read_connection(self._bind) as connection:
            return read_standings(connection, ids)

    def save_standings(self, standings: Sequence[LoanStanding]) -> None:
        checked = check_standings(standings)
        if not checked:
            return
        ids = [s.loan_id for s in checked]
        with write_transaction(self._bind) as connection:
            known: set[str] = set()
            for first in range(0, len(ids), IN_MAX):  # bounded by LOANS_BATCH_MAX / IN_MAX
                some = ids[first : first + IN_MAX]
                query = sa.select(LOANS.c.loan_id).where(LOANS.c.loan_id.in_(some))
                known.update(connection.execute(query).scalars())
                if len(known) < first + len(some):  # a credit line's standing is kept here too
                    lines = sa.select(LINES.c.account_id).where(LINES.c.account_id.in_(some))
                    known.update(connection.execute(lines).scalars())
            for loan_id in ids:
                if loan_id not in known:
                    raise NotFound("loan", loan_id)
            write_standings(connection, checked)

    def loans_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        require_date("through", through)
        check_limit(after, limit)
        with read_connection(self._bind) as connection:
            return tuple(
                connection.execute(loans_to_close_query(LOANS, through, after, limit)).scalars()
            )

    def standings(self, *, after: str = "", limit: int = 1000) -> tuple[LoanStanding, ...]:
        check_limit(after, limit)
        query = (
            sa.select(STANDING.c.document)
            .where(STANDING.c.loan_id > after)
            .order_by(STANDING.c.loan_id)
            .limit(limit)
        )
        with read_connection(self._bind) as connection:
            return tuple(decode_standing(d) for d in connection.execute(query).scalars())
