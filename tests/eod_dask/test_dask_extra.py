"""The ``dask`` extra brings what ``loancore.adapters.dask_batch`` imports."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_the_dask_extra_brings_distributed_and_the_postgresql_stores() -> None:
    dask = EXTRAS["dask"]
    assert any(r.startswith("dask[distributed]>=") for r in dask)
    assert "loancore[postgresql]" in dask
    assert any("dask" in r for r in EXTRAS["dev"] if r.startswith("loancore["))


def test_the_adapter_imports_only_what_the_extra_brings() -> None:
    import ast

    source = (ROOT / "src" / "loancore" / "adapters" / "dask_batch.py").read_text()
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
    import sys

    third_party = {r for r in roots if r not in sys.stdlib_module_names and r != "loancore"}
    assert third_party <= {"attrs", "distributed", "sqlalchemy"}
