"""SqlQuotaStore specifics: an application's own transaction, the schema record, exact storage."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sa = pytest.importorskip("sqlalchemy")

from loancore.adapters.sql import schema_version  # noqa: E402
from loancore.adapters.sql.quota import (  # noqa: E402
    QUOTA_COMPONENT,
    QUOTA_SCHEMA_VERSION,
    SqlQuotaStore,
)
from loancore.money import Money  # noqa: E402
from loancore.quota import Draw, Grant  # noqa: E402
from quota_stores import make_quota_engine  # noqa: E402

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


@pytest.fixture(params=KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = make_quota_engine(request.param, tmp_path, url)
    yield engine
    engine.dispose()


def test_quota_writes_commit_and_roll_back_with_the_application(engine: Any) -> None:
    store = SqlQuotaStore(engine)
    assert store.apply(Grant("g-M", "M", "b1", cny("1000.00"), DAY, LATER), as_of=DAY).ok
    with engine.connect() as connection:
        mine = store.using(connection)
        assert mine.apply(Draw("d1", "M", cny("100.00")), as_of=DAY).ok
        assert mine.balance("M").used_minor == 10_000  # the application's transaction sees it
        connection.rollback()
    assert store.balance("M").used_minor == 0 and store.result("d1") is None
    with engine.connect() as connection:
        assert store.using(connection).apply(Draw("d1", "M", cny("100.00")), as_of=DAY).ok
        connection.commit()
    assert store.balance("M").used_minor == 10_000 and store.check() == ()


def test_schema_is_recorded_and_amounts_are_integer_minor_units(engine: Any) -> None:
    store = SqlQuotaStore(engine)
    assert schema_version(engine, QUOTA_COMPONENT) == QUOTA_SCHEMA_VERSION
    big = Money(Decimal("90000000000000.01"), "CNY")  # 9e15 fen: near BIGINT's 9.2e18 / 1000
    refused = store.apply(Grant("g-M", "M", "b1", big, DAY, LATER), as_of=DAY)
    assert refused.code.name == "QUOTA_BORROWER_CAP_EXCEEDED"
    assert store.apply(Grant("g-X", "X", "b1", cny("199999.99"), DAY, LATER), as_of=DAY).ok
    with engine.connect() as connection:
        query = sa.text("SELECT limit_permanent_minor FROM quota_lines")
        stored = connection.execute(query).scalar_one()
    assert stored == 19_999_999 and isinstance(stored, int)
    SqlQuotaStore(engine)  # opening again finds the schema in place


def test_the_journal_is_read_in_pages(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import loancore.adapters.sql.quota as sql_quota

    store = SqlQuotaStore(engine)
    assert store.apply(Grant("g-M", "M", "b1", cny("1000.00"), DAY, LATER), as_of=DAY).ok
    for index in range(6):
        assert store.apply(Draw(f"d{index}", "M", cny("1.00")), as_of=DAY).ok
    everything = list(store.journal())
    monkeypatch.setattr(sql_quota, "_PAGE", 2)
    assert list(store.journal()) == everything and len(everything) == 7
