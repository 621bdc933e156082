"""``make`` / ``kind`` / ``uow``: set-up credit-line units of work of every kind (memory,
SQLite, PostgreSQL); see lines_kit.py and tests/store_kit.py."""

from lines_kit import make_uow

from store_kit import uow_fixtures

make, kind, uow = uow_fixtures(make_uow)
