"""pyproject.toml: each extra brings what its modules import, and nothing a user did not ask for.

Read from pyproject.toml itself (the installed metadata of an editable install can be older than
the file). The extras name each other (``loancore[sqlite,postgresql]``), so requirements are
resolved through those references first.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "loancore"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS: dict[str, list[str]] = PROJECT["project"]["optional-dependencies"]
SELF = re.compile(r"^loancore\[(?P<extras>[^\]]+)\]$")


def requirements(extra: str) -> set[str]:
    """Every requirement string ``extra`` brings, following ``loancore[...]`` references."""
    found: set[str] = set()
    pending, seen = [extra], set()
    while pending:  # an explicit walk: extras may name each other
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in EXTRAS[name]:
            match = SELF.match(requirement)
            if match:
                pending.extend(e.strip() for e in match["extras"].split(","))
            else:
                found.add(requirement)
    return found


def distributions(extra: str) -> set[str]:
    """Normalized distribution names (with their own extras) ``extra`` installs."""
    return names_of(requirements(extra))


def names_of(requirement_strings: set[str] | list[str]) -> set[str]:
    names = set()
    for requirement in requirement_strings:
        name = re.split(r"[<>=!~;\s]", requirement, maxsplit=1)[0]
        names.add(name.lower().replace("_", "-"))
    return names


def third_party_imports(paths: list[Path]) -> set[str]:
    """Top-level modules imported by ``paths`` that are neither loancore nor the stdlib."""
    roots = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return {r for r in roots if r != "loancore" and r not in sys.stdlib_module_names}


def test_the_sqlite_extra_needs_no_postgresql_driver() -> None:
    assert "sqlalchemy" in {d.split("[")[0] for d in distributions("sqlite")}
    assert not any(d.startswith("psycopg") for d in distributions("sqlite"))


def test_the_postgresql_extra_leaves_the_driver_build_to_the_application() -> None:
    assert "psycopg" in distributions("postgresql")
    assert not any("[" in d for d in distributions("postgresql") if d.startswith("psycopg"))
    assert "psycopg[binary]" in distributions("dev")


def test_sql_is_an_alias_of_both_backends() -> None:
    assert requirements("sql") == requirements("sqlite") | requirements("postgresql")


def test_fava_is_for_development_only() -> None:
    users = [name for name in EXTRAS if name != "dev"]
    assert all("fava" not in distributions(name) for name in users)


# Shell modules -> the extra whose installation must make them importable.
MODULE_EXTRAS = [
    ("adapters/sql", "sqlite"),
    ("adapters/calendars.py", "calendars"),
    ("adapters/beancount_export.py", "beancount"),
    ("cli", "cli"),
    ("demo.py", "cli"),  # `loancore demo`
]


@pytest.mark.parametrize(("where", "extra"), MODULE_EXTRAS)
def test_each_extra_brings_what_its_modules_import(where: str, extra: str) -> None:
    target = PACKAGE / where
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    providers = importlib.metadata.packages_distributions()
    core = names_of(PROJECT["project"]["dependencies"])
    installed = {d.split("[")[0] for d in distributions(extra) | core}
    missing = {
        module
        for module in third_party_imports(paths)
        if not {p.lower() for p in providers.get(module, [module])} & installed
    }
    # psycopg is imported by the SQL adapters only on PostgreSQL connections (lazily).
    if extra == "sqlite":
        missing.discard("psycopg")
    assert not missing, f"{where} imports {missing}, which the {extra!r} extra does not install"


def test_build_backend_supports_the_license_expression() -> None:
    requires = PROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d)(\.\d+)*", r) for r in requires)
    assert PROJECT["project"]["license"] == "MIT"


def test_package_data_names_only_files_that_exist() -> None:
    for pattern in PROJECT["tool"]["setuptools"]["package-data"]["loancore"]:
        assert list(PACKAGE.glob(pattern)), f"package-data {pattern!r} matches nothing"


def test_the_dev_extra_keeps_the_pinned_static_checkers() -> None:
    dev = requirements("dev")
    assert any(r.startswith("ruff==") for r in dev) and any(r.startswith("mypy==") for r in dev)
