"""The README's example runs as written (it is the first code a new user copies)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_an_example_of_about_twenty_lines() -> None:
    blocks = python_blocks()
    assert blocks
    assert len(blocks[0].strip().splitlines()) <= 30


def test_readme_example_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes books.db next to it
    exec(compile(python_blocks()[0], str(README), "exec"), {"__name__": "readme"})
    assert (tmp_path / "books.db").exists()
    assert capsys.readouterr().out.startswith("1201.95 0.18")
