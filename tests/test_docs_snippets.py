"""Every ```python block in README.md and docs/*.md runs as written (readers copy them).

The blocks of one page run in order in one namespace (a later block may use an earlier block's
names, as a reader going down the page would), in a fresh temporary folder (so files a snippet
writes land there). A block is left out only when the line right before its fence is an explicit
``<!-- no-run: reason -->`` comment with a reason. Lines of ```sh blocks that start with
``loancore `` are run through the command line and must succeed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import attrs
import pytest

from loancore.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^```(?P<language>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)
NO_RUN = re.compile(r"<!--\s*no-run:(?P<reason>.*?)-->\s*$")


@attrs.frozen
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    body: str
    no_run_reason: str | None


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` in order, each with the no-run reason written above it."""
    return parse_blocks(page.read_text(encoding="utf-8"), page)


def parse_blocks(text: str, page: Path) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_RUN.search(before)
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                language=match["language"],
                body=match["body"],
                no_run_reason=None if marker is None else marker["reason"].strip(),
            )
        )
    return found


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.language == "python"]


def run_page(page: Path) -> dict[str, object]:
    """Execute ``page``'s python blocks in order in one namespace; return the namespace."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for block in python_blocks(page):
        if block.no_run_reason is not None:
            continue
        # Compiled with the block's own line numbers, so a failure points into the page.
        source = "\n" * block.line + block.body
        exec(compile(source, str(page), "exec"), namespace)
    return namespace


def test_fences_are_all_found() -> None:
    """The fence pattern sees every opening fence (an unclosed or odd fence would hide a block)."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = len(re.findall(r"^```", text, flags=re.MULTILINE))
        assert fences == 2 * len(blocks(page)), page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_block_is_left_out_only_with_a_reason(page: Path) -> None:
    for block in python_blocks(page):
        if block.no_run_reason is not None:
            assert block.no_run_reason, f"{page.name}:{block.line}: no-run needs a reason"


def test_only_the_line_right_before_a_fence_opts_it_out() -> None:
    text = (
        "<!-- no-run: needs a server -->\n```python\nraise SystemExit\n```\n"
        "<!-- no-run: too far -->\n\nSome words.\n```python\nx = 1\n```\n"
    )
    first, second = parse_blocks(text, README)
    assert first.no_run_reason == "needs a server" and first.line == 2
    assert second.no_run_reason is None and second.body == "x = 1\n"


# -- README specifics ---------------------------------------------------------------------------


def test_readme_has_an_example_of_about_twenty_lines() -> None:
    first = python_blocks(README)[0]
    assert len(first.body.strip().splitlines()) <= 30


def test_readme_example_prints_what_its_comment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes books.db next to it
    run_page(README)
    assert (tmp_path / "books.db").exists()
    assert capsys.readouterr().out.startswith("1201.95 0.18")


def test_readme_says_which_extra_the_example_needs_before_it() -> None:
    text = README.read_text(encoding="utf-8")
    example = text.index("```python")
    assert re.search(r"pip install ['\"]?loancore\[[a-z,]*sqlite", text[:example])


def command_lines() -> list[str]:
    lines = []
    for page in PAGES:
        for block in blocks(page):
            if block.language in ("sh", "console", "shell") and block.no_run_reason is None:
                joined = re.sub(r"\\\n\s*", " ", block.body)  # backslash continuations
                lines += [line for line in joined.splitlines() if line.startswith("loancore ")]
    return lines


def test_the_readme_shows_the_command_line() -> None:
    assert any(line.startswith("loancore schedule ") for line in command_lines())


@pytest.mark.parametrize("line", command_lines())
def test_every_documented_command_line_runs(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = line.split("#", 1)[0]
    assert main(shlex.split(command)[1:]) == 0
