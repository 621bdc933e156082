"""Read a chart of accounts from a file: the I/O half of ``chart_from_toml``/``chart_from_csv``."""

from __future__ import annotations

from pathlib import Path

from loancore.errors import InvalidInput
from loancore.ledger.charts import chart_from_csv, chart_from_toml
from loancore.ledger.subjects import Chart

__all__ = ["load_chart"]


def load_chart(path: str | Path) -> Chart:
    """Load a chart from a ``.toml`` or ``.csv`` file (UTF-8; a CSV byte-order mark is ignored)."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise InvalidInput("path", str(path), "expected a .toml or .csv chart file")
    text = file.read_text(encoding="utf-8-sig")
    return chart_from_toml(text) if suffix == ".toml" else chart_from_csv(text)
