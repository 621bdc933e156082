"""The PostgreSQL server that `make test` starts is real: connect, create a table, read it back."""

from __future__ import annotations

import pytest

sa = pytest.importorskip("sqlalchemy")

pytestmark = pytest.mark.postgres


def test_postgres_round_trips_a_row(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS smoke_money"))
            connection.execute(
                sa.text(
                    "CREATE TABLE smoke_money (id serial PRIMARY KEY, minor BIGINT, ccy CHAR(3))"
                )
            )
            connection.execute(
                sa.text("INSERT INTO smoke_money (minor, ccy) VALUES (:m, :c)"),
                {"m": 1_234_567_890_123, "c": "CNY"},
            )
        with engine.connect() as connection:
            row = connection.execute(sa.text("SELECT minor, ccy FROM smoke_money")).one()
            server = connection.execute(sa.text("SHOW server_version")).scalar_one()
        assert row == (1_234_567_890_123, "CNY")
        assert int(server.split(".")[0]) >= 13
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS smoke_money"))
        engine.dispose()
