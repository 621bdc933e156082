"""``make`` / ``kind`` / ``uow``: set-up servicing units of work of every kind (memory, SQLite,
PostgreSQL); see loans_kit.py and tests/store_kit.py."""

from loans_kit import make_uow

from store_kit import uow_fixtures

make, kind, uow = uow_fixtures(make_uow)
