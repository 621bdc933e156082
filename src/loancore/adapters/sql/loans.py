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
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.memory.loans import (
    check_ids,
    check_limit,
    check_loan,
    check_standings,
    check_updates,
)
from loancore.adapters.sql.base import (
    METADATA,
    Bind,
    MigrationStep,
    binary_text,
    check_bind,
    currency_column,
    ensure_schema,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.lines import LINE_TABLES, SqlLines, add_line_tables
from loancore.adapters.sql.loans_codec import decode_loan, encode_loan
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
from loancore.errors import ConcurrentUpdate, IdempotencyConflict, NotFound
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

PRODUCTS = sa.Table(
    "loans_products",
    METADATA,
    sa.Column("product_id", TEXT_ID, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("toml", sa.Text, nullable=False),
)

LOANS = sa.Table(
    "loans_loans",
    METADATA,
    sa.Column("loan_id", TEXT_ID, primary_key=True),
    sa.Column("customer_id", TEXT_ID, nullable=False, index=True),
    sa.Column("product_id", TEXT_ID, nullable=False),
    sa.Column("product_version", sa.Integer, nullable=False),
    currency_column(),
    sa.Column("status", TEXT_ID, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

LOANS_TABLES = (PRODUCTS, LOANS, *LINE_TABLES)

_UPDATE = (
    LOANS.update()
    .where(LOANS.c.loan_id == sa.bindparam("id"), LOANS.c.version == sa.bindparam("expected"))
    .values(
        status=sa.bindparam("new_status"),
        version=sa.bindparam("new_version"),
        document=sa.bindparam("new_document"),
    )
)


_IN_MAX = 500
"""The most ids one ``SELECT ... IN`` binds (SQLite allows 32,766 parameters; PostgreSQL more)."""


class _Stale(Exception):
    """Raised inside ``update_many``'s savepoint to undo it when a row was not updated."""


@functools.lru_cache(maxsize=256)
def _parsed(toml_text: str) -> LoanProduct:
    return product_from_toml(toml_text)


class SqlLoanStore(SqlLines):
    """``SqlLoanStore(bind)``: the loans component on an Engine or a Connection (module
    docstring); revolving credit-line accounts too (:class:`~loancore.adapters.sql.lines.
    SqlLines`). ``create_schema=False`` skips the schema check (the unit of work did it once)."""

    def __init__(self, bind: Bind, *, create_schema: bool = True) -> None:
        check_bind(bind)
        self._bind = bind
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
        product = _parsed(toml_text) if isinstance(toml_text, str) else product_from_toml(toml_text)
        with write_transaction(self._bind) as connection:
            stored = self._product_text(connection, product.product_id, product.version)
            if stored is not None:
                if _parsed(stored) != product:
                    raise IdempotencyConflict(
                        f"{product.product_id}@{product.version}", "product version changed"
                    )
                return _parsed(stored)
            connection.execute(
                PRODUCTS.insert().values(
                    product_id=product.product_id, version=product.version, toml=toml_text
                )
            )
        return product

    def product(self, product_id: str, version: int) -> LoanProduct:
        with read_connection(self._bind) as connection:
            text = self._product_text(connection, product_id, version)
        if text is None:
            raise NotFound("product", f"{product_id}@{version}")
        return _parsed(text)

    @staticmethod
    def _product_text(connection: Connection, product_id: str, version: int) -> str | None:
        query = sa.select(PRODUCTS.c.toml).where(
            PRODUCTS.c.product_id == product_id, PRODUCTS.c.version == version
        )
        text: str | None = connection.execute(query).scalar_one_or_none()
        return text

    # -- loans ------------------------------------------------------------------------------------

    def add(self, loan: Loan, *, customer_id: str) -> None:
        check_loan(loan)
        require_id("customer_id", customer_id)
        document = encode_loan(loan)
        with write_transaction(self._bind) as connection:
            query = sa.select(LOANS.c.customer_id, LOANS.c.document).where(
                LOANS.c.loan_id == loan.loan_id
            )
            row = connection.execute(query).one_or_none()
            if row is not None:
                if row.document != document or row.customer_id != customer_id:
                    raise IdempotencyConflict(loan.loan_id, "a different loan has this id")
                return
            connection.execute(
                LOANS.insert().values(
                    loan_id=loan.loan_id,
                    customer_id=customer_id,
                    product_id=loan.product_id,
                    product_version=loan.product_version,
                    currency=loan.currency,
                    status=loan.status.value,
                    version=loan.version,
                    document=document,
                )
            )

    def load(self, loan_id: str) -> Loan:
        with read_connection(self._bind) as connection:
            query = sa.select(LOANS.c.document).where(LOANS.c.loan_id == loan_id)
            document: str | None = connection.execute(query).scalar_one_or_none()
        if document is None:
            raise NotFound("loan", loan_id)
        return decode_loan(document)

    def update(self, loan: Loan, *, expected_version: int) -> None:
        check_loan(loan)
        document = encode_loan(loan)
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
        ids = check_ids(loan_ids)
        unique = list(dict.fromkeys(ids))
        documents: dict[str, str] = {}
        with read_connection(self._bind) as connection:
            for first in range(0, len(unique), _IN_MAX):  # bounded by LOANS_BATCH_MAX / _IN_MAX
                chunk = unique[first : first + _IN_MAX]
                query = sa.select(LOANS.c.loan_id, LOANS.c.document).where(
                    LOANS.c.loan_id.in_(chunk)
                )
                documents.update((row.loan_id, row.document) for row in connection.execute(query))
        found: dict[str, Loan] = {}
        for loan_id in unique:
            document = documents.get(loan_id)
            if document is None:
                raise NotFound("loan", loan_id)
            found[loan_id] = decode_loan(document)
        return found

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
                "new_document": encode_loan(loan),
            }
            for loan, expected in pairs
        ]
        try:
            with write_transaction(self._bind) as connection:
                if connection.dialect.supports_sane_multi_rowcount:
                    if connection.execute(_UPDATE, rows).rowcount != len(rows):
                        raise _Stale
                else:
                    for row in rows:  # bounded by LOANS_BATCH_MAX
                        if connection.execute(_UPDATE, row).rowcount != 1:
                            raise _Stale
        except _Stale:
            self._refuse_stale(pairs)

    def _refuse_stale(self, pairs: Sequence[tuple[Loan, int]]) -> None:
        """The refusal of an ``update_many`` that found a loan missing or moved (nothing written)."""
        ids = [loan.loan_id for loan, _expected in pairs]
        versions: dict[str, int] = {}
        with read_connection(self._bind) as connection:
            for first in range(0, len(ids), _IN_MAX):  # bounded by LOANS_BATCH_MAX / _IN_MAX
                query = sa.select(LOANS.c.loan_id, LOANS.c.version).where(
                    LOANS.c.loan_id.in_(ids[first : first + _IN_MAX])
                )
                versions.update((row.loan_id, row.version) for row in connection.execute(query))
        for loan, expected in pairs:
            if loan.loan_id not in versions:
                raise NotFound("loan", loan.loan_id)
            if versions[loan.loan_id] != expected:
                raise ConcurrentUpdate("loan", loan.loan_id, expected)
        loan, expected = pairs[0]
        raise ConcurrentUpdate("loan", loan.loan_id, expected)

    def customer_loans(self, customer_id: str) -> tuple[str, ...]:
        query = (
            sa.select(LOANS.c.loan_id)
            .where(LOANS.c.customer_id == customer_id)
            .order_by(LOANS.c.loan_id)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

    def loan_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        check_limit(after, limit)
        query = (
            sa.select(LOANS.c.loan_id)
            .where(LOANS.c.loan_id > after)
            .order_by(LOANS.c.loan_id)
            .limit(limit)
        )
        with read_connection(self._bind) as connection:
            return tuple(connection.execute(query).scalars())

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
            for first in range(0, len(ids), _IN_MAX):  # bounded by LOANS_BATCH_MAX / _IN_MAX
                query = sa.select(LOANS.c.loan_id).where(
                    LOANS.c.loan_id.in_(ids[first : first + _IN_MAX])
                )
                known.update(connection.execute(query).scalars())
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
