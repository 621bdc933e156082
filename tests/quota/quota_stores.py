"""Fresh SQL databases for the quota tests: a SQLite file, or a new PostgreSQL schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["make_quota_engine"]


def make_quota_engine(
    kind: str, tmp_path: Path, postgres_url: str | None, *, pool_size: int = 5
) -> Any:
    """A fresh, empty SQL database: a SQLite file, or a new PostgreSQL schema on ``postgres_url``
    (selected through the connection's ``search_path``, so tests never see each other's rows)."""
    from store_kit import empty_engine

    if kind == "sqlite":
        return empty_engine(kind, tmp_path, postgres_url, prefix="quota")
    return empty_engine(kind, tmp_path, postgres_url, prefix="q", pool_size=pool_size)
