"""`loancore story` runs the one-loan walkthrough and every check in it comes out clean."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from loancore.app.story import run

PAGE = Path(__file__).resolve().parents[2] / "docs" / "accounting.md"


def test_demo_runs_end_to_end_and_its_books_are_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    assert "clinic paid T+1 on 2026-10-08" in out  # National Day on China's calendar
    assert "balanced: True" in out
    assert "audit: 0 issue(s)" in out
    assert "0 error(s) when beancount re-checks it" in out
    assert "quota journal rebuild matches stored balances: True" in out
    assert "used now 11079.84 CNY" in out  # restored by the principal part only
    # booked through the posting templates: keys derived from the events' own ids
    assert "repayment:L-2026-0001-1" in out
    assert "Dr 3001 1100.16, Cr 1303.01 920.16, Cr 1132 180.00" in out
    assert "loan principal outstanding (1303, loan L-2026-0001): 11079.84 CNY" in out
    assert (tmp_path / "books.sqlite").exists() and (tmp_path / "books.beancount").exists()


def test_demo_can_run_twice_in_the_same_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path) == 0
    assert run(tmp_path) == 0
    assert capsys.readouterr().out.count("balanced: True") == 2


def _money_text(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


def test_accounting_page_shows_the_demo_trial_balance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/accounting.md's worked figures are the demo's: every subject's totals and the sum."""
    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    lines = re.findall(r"^ +(\d[\d.]*) +.*Dr +([\d.]+) Cr +([\d.]+)$", out, flags=re.MULTILINE)
    assert len(lines) == 8
    page = PAGE.read_text(encoding="utf-8")
    rows = [row for row in page.splitlines() if row.startswith("| ")]
    for code, debit, credit in lines:
        cells = f" | {_money_text(debit)} | {_money_text(credit)} | "
        assert any(row.startswith(f"| {code} ") and cells in row for row in rows), code
    total = re.search(r"total +Dr +([\d.]+) Cr +([\d.]+)", out)
    assert total is not None
    debit, credit = (_money_text(x) for x in total.groups())
    assert f"| **Total** | **{debit}** | **{credit}** |" in page
