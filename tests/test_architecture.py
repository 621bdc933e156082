"""The layers hold: the core is pure, it never reaches for the shell, and no import cycles.

"Core" is every module of ``loancore`` except the shell (``adapters/``, ``app/``, ``services/``, ``cli/``,
``testing/``, ``demo.py``) and the ports (``ports.py``). The core imports only the standard
library, attrs and dateutil, never reads the clock, the environment, files or a database (dates
come in as ``as_of``), and never imports ``loancore.ports`` or ``loancore.services``, not even
for type checking (docs/architecture.md). Among all loancore modules, the module-level imports
(including ``if TYPE_CHECKING:`` blocks) form no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "loancore"
SHELL = {"adapters", "app", "cli", "cli.py", "services", "testing", "demo.py", "__main__.py"}
PORTS = {"ports.py"}
OUTWARD = ("loancore.ports", "loancore.services")  # what the core may never import
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
        if relative.parts[0] in SHELL or relative.parts[0] in PORTS:
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


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_never_imports_ports_or_services(path: Path) -> None:
    """Anywhere in the file: module level, ``if TYPE_CHECKING:``, inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set(imported_roots(tree))
    for node in ast.walk(tree):  # ``from loancore import ports`` names the module as an alias
        if isinstance(node, ast.ImportFrom) and node.module == "loancore":
            names.update(f"loancore.{alias.name}" for alias in node.names)
    bad = sorted(n for n in names if any(n == o or n.startswith(o + ".") for o in OUTWARD))
    assert not bad, f"{path.name} imports {bad}"


# -- import cycles --------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = ("loancore", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: top-level statements and those nested in
    ``if`` (``TYPE_CHECKING`` included), ``try`` and ``with`` blocks, not in functions/classes."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(reversed(tree.body))
    while pending:  # explicit stack: no recursion
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            for block in blocks:
                pending.extend(reversed(block))
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The loancore module ``name`` loads: itself, or its longest known parent package."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    known = all_modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                ]
            for target in targets:
                if target.split(".")[0] == "loancore":
                    resolved = resolve(target, known)
                    if resolved is not None and resolved != name:
                        graph[name].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that returns to its start, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(graph):
        if root in state:
            continue
        path: list[str] = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph[child])))
    return None


def test_the_import_graph_is_walked() -> None:
    graph = import_graph()
    assert "loancore.ledger.entries" in graph["loancore.ports"]
    assert "loancore.ports" in graph["loancore.services.ledger"]
    assert "loancore.dates" in graph["loancore.apr"]  # ``from loancore import dates``


def test_find_cycle_sees_a_cycle_through_a_type_checking_import() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loancore.b import X\n"
    imports = module_level_imports(ast.parse(source))
    assert [i.module for i in imports if isinstance(i, ast.ImportFrom)] == ["typing", "loancore.b"]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_loancore_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_ports_and_services_never_import_adapters() -> None:
    """Services reach stores only through the ports; an application picks the adapters."""
    graph = import_graph()
    inner = [m for m in graph if m == "loancore.ports" or m.startswith("loancore.services")]
    assert "loancore.services" in inner
    bad = {
        module: sorted(t for t in graph[module] if t.startswith("loancore.adapters"))
        for module in inner
    }
    assert not any(bad.values()), bad
