"""``loancore report portfolio --html`` opened in a real headless Chromium: the page renders,
its charts are drawn (inline SVG with a size on screen), it asks the network for nothing (one
self-contained file) and the browser reports no console error.

Chromium is the machine's (Debian's ``chromium`` package, which ``make test`` installs first when
it is missing, scripts/install-chromium; or the path in ``LOANCORE_CHROMIUM``), driven by Playwright (the ``dev`` extra) through
``executable_path``: Playwright's own browser download needs a network this machine does not
have. The convention of the PostgreSQL tests (tests/conftest.py) holds: without a Chromium the
test is skipped with the reason shown by ``-ra`` off CI, and fails on CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loancore.cli.application import app

CHROMIUM_ENV = "LOANCORE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for a closed network: no background connections, no first-run, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = 3  # balance by bucket over time, vintage curves, roll rates
RUNNER = CliRunner()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def chromium_path() -> str:
    """The Chromium to drive, or a skip (off CI) / failure (on CI) naming what is missing."""
    named = os.environ.get(CHROMIUM_ENV)
    found = named or next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if found:
        return found
    message = (
        f"no Chromium found ({', '.join(CHROMIUM_NAMES)} on PATH or {CHROMIUM_ENV}): "
        "apt-get install chromium"
    )
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "demo.sqlite"
    args = ["demo", "--customers", "30", "--merchants", "3", "--months", "4", "--seed", "5"]
    made = RUNNER.invoke(app, [*args, "--db", str(db)])
    assert made.exit_code == 0, made.output
    page = folder / "report.html"
    written = RUNNER.invoke(app, ["report", "portfolio", "--db", str(db), "--html", str(page)])
    assert written.exit_code == 0, written.output
    return page


def test_the_portfolio_page_renders_its_charts_in_chromium_without_errors(
    report_page: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requested.append(request.url))
            page.goto(report_page.as_uri(), wait_until="load")
            title = page.title()
            headings = page.locator("h2").all_inner_texts()
            charts = page.locator("svg")
            sizes = [charts.nth(i).bounding_box() for i in range(charts.count())]
            drawn = page.locator("svg path").count()
        finally:
            browser.close()
    assert problems == []
    assert requested == [report_page.as_uri()]  # self-contained: nothing else fetched
    assert title.startswith("loancore portfolio")
    assert {"Vintage curves", "Roll rates", "Written off and sold (CNY)"} <= set(headings)
    assert len(sizes) >= CHARTS
    assert all(box is not None and box["width"] > 100 and box["height"] > 100 for box in sizes)
    assert drawn > CHARTS  # the charts hold their lines and bars, not empty frames
