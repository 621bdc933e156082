"""Reading and writing the facade's rows (:mod:`loancore.app.schema`) on the call's connection."""

from __future__ import annotations

from datetime import date

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.app.schema import APPLICATIONS, ORDERS
from loancore.app.values import ApplicationRecord, OrderRecord, OrderRequest, OrderStatus
from loancore.credit import CreditApplication, Decision, Outcome
from loancore.errors import IdempotencyConflict, NotFound
from loancore.money import Money

__all__ = [
    "CANCELLED",
    "CONFIRMED",
    "HELD",
    "application",
    "approved",
    "in_review",
    "insert_application",
    "insert_order",
    "merchants",
    "order",
    "order_of_loan",
    "replay_application",
    "replay_order",
    "replayed",
    "replayed_order",
    "set_order_status",
    "update_decision",
    "with_status",
]

HELD, CONFIRMED, CANCELLED = OrderStatus.HELD, OrderStatus.CONFIRMED, OrderStatus.CANCELLED
REVIEW_QUEUE_MAX = 10_000
_SEPARATOR = "\n"


def _application_of(row: sa.Row[tuple[object, ...]]) -> ApplicationRecord:
    m = row._mapping
    currency = str(m["currency"])
    application = CreditApplication(
        application_id=m["application_id"],
        customer_id=m["customer_id"],
        requested_limit=Money.from_minor(int(m["requested_minor"]), currency),
        score=int(m["score"]),
        applied_on=m["applied_on"],
    )
    limit = m["limit_minor"]
    decision = Decision(
        outcome=Outcome(m["outcome"]),
        limit=None if limit is None else Money.from_minor(int(limit), currency),
        reasons=tuple(str(m["reasons"]).split(_SEPARATOR)) if m["reasons"] else (),
        decided_by=m["decided_by"],
    )
    return ApplicationRecord(application=application, decision=decision, decided_on=m["decided_on"])


def application(connection: Connection, application_id: str) -> ApplicationRecord | None:
    query = sa.select(APPLICATIONS).where(APPLICATIONS.c.application_id == application_id)
    row = connection.execute(query).first()
    return None if row is None else _application_of(row)


def _decision_values(record: ApplicationRecord) -> dict[str, object]:
    decision = record.decision
    return {
        "outcome": decision.outcome.value,
        "limit_minor": None if decision.limit is None else decision.limit.minor_units,
        "reasons": _SEPARATOR.join(decision.reasons),
        "decided_by": decision.decided_by,
        "decided_on": record.decided_on,
    }


def insert_application(connection: Connection, record: ApplicationRecord) -> None:
    app = record.application
    connection.execute(
        APPLICATIONS.insert().values(
            application_id=app.application_id,
            customer_id=app.customer_id,
            currency=app.requested_limit.currency,
            requested_minor=app.requested_limit.minor_units,
            score=app.score,
            applied_on=app.applied_on,
            **_decision_values(record),
        )
    )


def update_decision(connection: Connection, record: ApplicationRecord) -> None:
    key = APPLICATIONS.c.application_id == record.application.application_id
    connection.execute(APPLICATIONS.update().where(key).values(**_decision_values(record)))


def replayed(record: ApplicationRecord) -> ApplicationRecord:
    return attrs.evolve(record, replayed=True)


def replay_application(stored: ApplicationRecord, asked: CreditApplication) -> ApplicationRecord:
    """The stored record again, or IdempotencyConflict if ``asked`` differs from it."""
    if stored.application != asked:
        raise IdempotencyConflict(asked.application_id, "a different application has this id")
    return replayed(stored)


def in_review(connection: Connection) -> tuple[ApplicationRecord, ...]:
    query = (
        sa.select(APPLICATIONS)
        .where(APPLICATIONS.c.outcome == Outcome.REVIEW.value)
        .order_by(APPLICATIONS.c.applied_on, APPLICATIONS.c.application_id)
        .limit(REVIEW_QUEUE_MAX)
    )
    return tuple(_application_of(row) for row in connection.execute(query))


def approved(connection: Connection, customer_id: str) -> bool:
    query = sa.select(sa.func.count()).where(
        APPLICATIONS.c.customer_id == customer_id,
        APPLICATIONS.c.outcome == Outcome.APPROVED.value,
    )
    return bool(connection.execute(query).scalar_one())


def _order_of(row: sa.Row[tuple[object, ...]]) -> OrderRecord:
    m = row._mapping
    request = OrderRequest(
        order_id=m["order_id"],
        customer_id=m["customer_id"],
        merchant_id=m["merchant_id"],
        amount=Money.from_minor(int(m["amount_minor"]), str(m["currency"])),
        product_id=m["product_id"],
        product_version=int(m["product_version"]),
        installments=int(m["installments"]),
        placed_on=m["placed_on"],
        hold_days=(m["hold_expires_on"] - m["placed_on"]).days,
    )
    return OrderRecord(
        request=request,
        status=OrderStatus(m["status"]),
        hold_expires_on=m["hold_expires_on"],
        confirmed_on=m["confirmed_on"],
    )


def order(connection: Connection, order_id: str) -> OrderRecord | None:
    row = connection.execute(sa.select(ORDERS).where(ORDERS.c.order_id == order_id)).first()
    return None if row is None else _order_of(row)


def order_of_loan(connection: Connection, loan_id: str) -> str:
    query = sa.select(ORDERS.c.order_id).where(ORDERS.c.loan_id == loan_id)
    found = connection.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound("order of loan", loan_id)
    return str(found)


def insert_order(connection: Connection, record: OrderRecord) -> None:
    request = record.request
    connection.execute(
        ORDERS.insert().values(
            order_id=request.order_id,
            customer_id=request.customer_id,
            merchant_id=request.merchant_id,
            currency=request.amount.currency,
            amount_minor=request.amount.minor_units,
            product_id=request.product_id,
            product_version=request.product_version,
            installments=request.installments,
            placed_on=request.placed_on,
            hold_expires_on=record.hold_expires_on,
            status=record.status.value,
            loan_id=request.loan_id,
            confirmed_on=record.confirmed_on,
        )
    )


def set_order_status(
    connection: Connection, order_id: str, status: OrderStatus, confirmed_on: date | None
) -> None:
    key = ORDERS.c.order_id == order_id
    values = {"status": status.value, "confirmed_on": confirmed_on}
    connection.execute(ORDERS.update().where(key).values(**values))


def with_status(record: OrderRecord, status: OrderStatus) -> OrderRecord:
    return attrs.evolve(record, status=status)


def replayed_order(record: OrderRecord) -> OrderRecord:
    return attrs.evolve(record, replayed=True)


def replay_order(stored: OrderRecord, asked: OrderRequest) -> OrderRecord:
    """The stored order again, or IdempotencyConflict if ``asked`` differs from it."""
    if stored.request != asked:
        raise IdempotencyConflict(asked.order_id, "a different order has this id")
    return replayed_order(stored)


def merchants(connection: Connection) -> list[str]:
    query = sa.select(ORDERS.c.merchant_id).distinct().order_by(ORDERS.c.merchant_id)
    return [str(value) for value in connection.execute(query).scalars()]
