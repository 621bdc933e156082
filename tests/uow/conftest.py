"""``make`` / ``kind`` / ``uow``: set-up units of work of every kind (memory, SQLite,
PostgreSQL), see uow_kit.py and tests/store_kit.py; ``sql_kind``: the SQL kinds only."""

from __future__ import annotations

import pytest
from uow_kit import make_uow

from store_kit import SQL_KINDS, uow_fixtures

make, kind, uow = uow_fixtures(make_uow)


@pytest.fixture(params=SQL_KINDS)
def sql_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
