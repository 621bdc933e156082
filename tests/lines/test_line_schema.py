"""The loans schema's version 2 (the credit lines' tables): a database made at version 1 (loans
and products only, as loancore wrote it before lines were stored) opens and migrates in place
on SQLite and PostgreSQL, its loans and products intact; the documents round-trip exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from lines_kit import cny, make_engine, open_a1, set_up

from loancore.adapters.sql.base import ensure_schema, schema_version
from loancore.adapters.sql.lines_codec import (
    LINE_FORMAT,
    decode_line,
    decode_line_record,
    decode_statement,
    encode_line,
    encode_line_record,
    encode_statement,
)
from loancore.adapters.sql.loans import (
    LOANS,
    LOANS_COMPONENT,
    LOANS_SCHEMA_VERSION,
    PRODUCTS,
)
from loancore.adapters.sql.loans_codec import encode_loan
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvariantViolation
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import apply_line_event, close_lines_day, line_statements
from loancore.servicing import (
    Draw,
    Repay,
    ReversePayment,
    Waive,
    book_loan,
    product_from_toml,
)
from loancore.testing.servicing import CLINIC_PRODUCT_TOML
from loancore.waterfall import Component
from store_kit import dispose

KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _version_1_database(engine: sa.Engine) -> None:
    """The loans component as schema 1 made it: its two tables, a product and a loan."""
    ensure_schema(engine, LOANS_COMPONENT, 1, (PRODUCTS, LOANS))
    product = product_from_toml(CLINIC_PRODUCT_TOML)
    loan = book_loan(
        product,
        event_id="o1",
        loan_id="L1",
        hold_id="L1-hold",
        principal=Money("1200.00", "CNY"),
        installments=12,
        start_date=date(2026, 1, 15),
        payee="card",
    ).loan
    with engine.begin() as connection:
        connection.execute(
            PRODUCTS.insert().values(
                product_id=product.product_id, version=product.version, toml=CLINIC_PRODUCT_TOML
            )
        )
        connection.execute(
            LOANS.insert().values(
                loan_id="L1",
                customer_id="C1",
                product_id=product.product_id,
                product_version=product.version,
                currency="CNY",
                status=loan.status.value,
                version=loan.version,
                document=encode_loan(loan),
            )
        )


@pytest.mark.parametrize("kind", KINDS)
def test_a_version_1_loans_database_migrates_in_place_and_stores_lines(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    engine = make_engine(kind, tmp_path, url)
    _version_1_database(engine)
    assert schema_version(engine, LOANS_COMPONENT) == 1
    uow: UnitOfWork = SqlUnitOfWork(engine)
    try:
        assert schema_version(engine, LOANS_COMPONENT) == LOANS_SCHEMA_VERSION == 2
        with uow:
            assert uow.loans.load("L1").loan_id == "L1"  # the old rows are intact
            assert uow.loans.product("clinic-12", 1).product_id == "clinic-12"
        set_up(uow)
        open_a1(uow)
        draw = Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("100.00"))
        assert apply_line_event(uow, "A1", draw).record.version == 2
        close_lines_day(uow, date(2026, 3, 10))
        assert [s.number for s in line_statements(uow, "A1")] == [1]
        SqlUnitOfWork(engine)  # opening again: nothing left to migrate
        assert schema_version(engine, LOANS_COMPONENT) == 2
    finally:
        dispose(uow)


def test_line_documents_round_trip_exactly(make: Callable[..., UnitOfWork]) -> None:
    uow = make("memory")
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900")))
    paid = apply_line_event(
        uow, "A1", Repay(event_id="r1", as_of=date(2026, 4, 5), amount=cny("80.00"))
    )
    account = paid.account
    assert account.statement is not None and account.overdue_changes  # every part filled
    text = encode_line(account)
    assert decode_line(text) == account and encode_line(decode_line(text)) == text
    record_text = encode_line_record(paid.record)
    assert decode_line_record(record_text) == paid.record
    for statement in line_statements(uow, "A1"):
        assert decode_statement(encode_statement(statement)) == statement
    with pytest.raises(InvariantViolation):
        decode_line(text.replace(f'"format":{LINE_FORMAT}', '"format":9'))
    with pytest.raises(InvariantViolation):
        decode_line(text.replace('"principal":', '"principal":1.5,"x":'))


def test_a_history_round_trips_and_a_format_1_document_reads_with_an_empty_one(
    make: Callable[..., UnitOfWork],
) -> None:
    uow = make("memory")
    open_a1(uow)
    for event in (
        Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00")),
        Repay(event_id="r1", as_of=date(2026, 3, 3), amount=cny("100.00")),
        Waive(event_id="w1", as_of=date(2026, 3, 4), component="interest", amount=cny("0.10")),
        ReversePayment(event_id="v1", as_of=date(2026, 3, 5), payment_id="r1"),
    ):
        account = apply_line_event(uow, "A1", event).account
    assert [(t.kind.value, t.component, t.reversed_by) for t in account.history] == [
        ("draw", None, None),
        ("repay", None, "v1"),
        ("waive", Component.INTEREST, None),
    ]
    text = encode_line(account)
    assert decode_line(text) == account and encode_line(decode_line(text)) == text
    old = json.loads(text)
    for name in ("history", "minimums", "principal_written_off", "written_off_on"):
        del old[name]
    old["format"] = 1
    assert decode_line(json.dumps(old)) == attrs.evolve(account, history=())
