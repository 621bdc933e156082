"""``lender``: a fresh lender facade on a SQLite file or on a new PostgreSQL schema, with the
clinic product, two merchants on T+1 and the reference credit policy (C-WHITE white-listed,
C-BLACK blacklisted)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from loancore.adapters.calendars import china_calendar
from loancore.adapters.sql import create_engine
from loancore.app import Lender
from loancore.credit import ReferencePolicy
from loancore.money import Money, Rounding
from loancore.settlement import MerchantTerms, ServiceFee, SettlementSchedule
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

POLICY = ReferencePolicy(blacklist={"C-BLACK"}, whitelist={"C-WHITE"})


def terms(merchant_id: str) -> MerchantTerms:
    return MerchantTerms(
        merchant_id=merchant_id,
        schedule=SettlementSchedule.t_plus(1),
        fee=ServiceFee(rate="0.006", rounding=Rounding.HALF_UP, fee_min=Money("0.00", "CNY")),
        payee_account=f"6222{merchant_id}",
    )


def engine_for(kind: str, tmp_path: Path, postgres_url: str | None) -> sa.Engine:
    if kind == "sqlite":
        return create_engine(tmp_path / f"lender-{uuid.uuid4().hex[:8]}.sqlite")
    assert postgres_url
    schema = f"app_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture
def make_lender(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], Lender]]:
    made: list[Lender] = []

    def build(kind: str) -> Lender:
        url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
        lender = Lender.open(
            engine_for(kind, tmp_path, url), policy=POLICY, calendar=china_calendar()
        )
        lender.add_product(CLINIC_PRODUCT_TOML)
        for merchant in ("M1", "M2"):
            lender.add_merchant(terms(merchant))
        made.append(lender)
        return lender

    yield build
    for lender in made:
        lender.close()


@pytest.fixture(params=KINDS)
def lender(request: pytest.FixtureRequest, make_lender: Callable[[str], Lender]) -> Lender:
    return make_lender(request.param)
