"""``make`` / ``kind`` / ``uow``: end-of-day books of every kind (memory, SQLite, PostgreSQL);
see eod_kit.py and tests/store_kit.py."""

from eod_kit import make_uow

from store_kit import uow_fixtures

make, kind, uow = uow_fixtures(make_uow)
