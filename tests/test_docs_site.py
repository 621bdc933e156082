"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a page left out of
the navigation or an API reference to a name that does not exist fails the build), and it holds
what it promises: every page of docs/, the API reference generated from the docstrings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(CONFIG), "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def nav_pages() -> set[str]:
    """The pages named in mkdocs.yml's nav (``... : page.md`` or ``- page.md``)."""
    text = CONFIG.read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return set(re.findall(r"([\w/-]+\.md)\s*$", nav, flags=re.MULTILINE))


def test_every_page_of_docs_is_in_the_navigation() -> None:
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == nav_pages()


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    for page in nav_pages():
        folder = page.removesuffix(".md").removesuffix("index")  # index.md -> its folder
        assert (site / folder / "index.html").is_file(), page


@pytest.mark.parametrize(
    ("page", "anchor"),
    [
        ("reference/services", "loancore.services.book_order"),
        ("reference/ledger", "loancore.ledger.JournalEntry"),
        ("reference/calculators", "loancore.amortization.amortize"),
        ("reference/adapters", "loancore.adapters.fava.open_in_fava"),
        ("reference/testing", "loancore.testing.machines.servicing_machine"),
        ("reference/testing", "loancore.testing.strategies.schedules"),
    ],
)
def test_the_api_reference_documents_the_public_names(site: Path, page: str, anchor: str) -> None:
    html = (site / page / "index.html").read_text(encoding="utf-8")
    assert f'id="{anchor}"' in html


def test_the_getting_started_page_keeps_its_code(site: Path) -> None:
    html = (site / "getting-started" / "index.html").read_text(encoding="utf-8")
    assert "book_order" in html and "MemoryUnitOfWork" in html
