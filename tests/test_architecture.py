"""The functional core imports only the standard library, attrs and dateutil, and does no I/O.

"Core" is every module of ``loancore`` except the shell: ``adapters/``, ``cli/`` (``cli.py``),
``services.py``, ``testing/`` and ``demo.py``. The core never reads the clock, the environment,
files or a database (dates come in as ``as_of``), so it is checked for those calls as well.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "loancore"
SHELL = {"adapters", "cli", "cli.py", "services.py", "testing", "demo.py", "__main__.py"}
THIRD_PARTY_ALLOWED = {"attrs", "attr", "dateutil"}
# Standard-library modules that mean I/O, the clock or hidden state: the shell's business.
STDLIB_FORBIDDEN = {
    "asyncio", "http", "multiprocessing", "random", "secrets", "socket", "sqlite3",
    "subprocess", "threading", "time", "urllib",
}  # fmt: skip
IMPURE_ATTRIBUTES = {"today", "now", "utcnow", "environ", "getenv"}
IMPURE_CALLS = {"open", "input", "print"}


def core_modules() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in SHELL:
            continue
        files.append(path)
    return files


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def test_there_is_a_core_to_check() -> None:
    names = {p.name for p in core_modules()}
    assert {"money.py", "errors.py"} <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_only_stdlib_attrs_and_dateutil(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for name in sorted(imported_roots(tree)):
        root = name.split(".")[0]
        if root == "loancore":
            shell_parts = set(name.split(".")[1:2]) | {p + ".py" for p in name.split(".")[1:2]}
            if shell_parts & SHELL:
                bad.append(name)
        elif (
            root in STDLIB_FORBIDDEN
            or root not in sys.stdlib_module_names
            and root not in THIRD_PARTY_ALLOWED
        ):
            bad.append(name)
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_reads_no_clock_environment_or_files(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in IMPURE_ATTRIBUTES:
            bad.append(f"line {node.lineno}: .{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in IMPURE_CALLS
        ):
            bad.append(f"line {node.lineno}: {node.func.id}()")
    assert not bad, f"{path.name}: {bad}"
