"""The lender facade's own tables (component ``app``, version 1) beside loancore's stores.

``app_applications``: each credit application with its decision (the manual-review queue is
the rows whose outcome is ``review``). ``app_orders``: each order placed at a merchant, its quota
hold and, once confirmed, its loan. Amounts are integer minor units beside a currency code, as in
every loancore table. Both tables are written in the same transaction as the stores a call
touches, first (before the loans, settlement, quota and ledger stores: the lock order).
"""

from __future__ import annotations

import sqlalchemy as sa

from loancore.adapters.sql import METADATA, Bind, amount_column, currency_column, ensure_schema

__all__ = ["APPLICATIONS", "ORDERS", "SCHEMA_VERSION", "ensure_app_schema"]

SCHEMA_VERSION = 1
_TEXT = 200

APPLICATIONS = sa.Table(
    "app_applications",
    METADATA,
    sa.Column("application_id", sa.String(_TEXT), primary_key=True),
    sa.Column("customer_id", sa.String(_TEXT), nullable=False, index=True),
    currency_column(),
    amount_column("requested_minor"),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("applied_on", sa.Date, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
    sa.Column("limit_minor", sa.BigInteger, nullable=True),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(_TEXT), nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
)

ORDERS = sa.Table(
    "app_orders",
    METADATA,
    sa.Column("order_id", sa.String(_TEXT), primary_key=True),
    sa.Column("customer_id", sa.String(_TEXT), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(_TEXT), nullable=False),
    currency_column(),
    amount_column("amount_minor"),
    sa.Column("product_id", sa.String(_TEXT), nullable=False),
    sa.Column("product_version", sa.Integer, nullable=False),
    sa.Column("installments", sa.Integer, nullable=False),
    sa.Column("placed_on", sa.Date, nullable=False),
    sa.Column("hold_expires_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("loan_id", sa.String(_TEXT), nullable=False, unique=True),
    sa.Column("confirmed_on", sa.Date, nullable=True),
)


def ensure_app_schema(bind: Bind) -> None:
    """Create the tables on a new database, or check their version on an existing one."""
    ensure_schema(bind, "app", SCHEMA_VERSION, (APPLICATIONS, ORDERS))
