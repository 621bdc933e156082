"""The ``loancore`` command line: schedules and their disclosure, the demo, and one-line errors.

Most tests drive the typer application in process (typer's ``CliRunner``); a few run the
installed console script and ``python -m loancore`` in a subprocess, because that is what a user
runs and what crashed with ``ModuleNotFoundError`` before the CLI existed.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loancore import __version__, apr
from loancore.amortization import LoanTerms, Method, amortize
from loancore.cli import main
from loancore.cli.application import app

RUNNER = CliRunner()
TERMS = [
    "--principal", "12000.00", "--currency", "CNY", "--rate", "0.18", "--installments", "12",
    "--method", "equal_installment", "--start", "2026-01-15", "--rounding", "HALF_UP",
]  # fmt: skip
SCRIPT = Path(sys.executable).with_name("loancore")


def with_option(name: str, value: str) -> list[str]:
    """TERMS with ``name`` set to ``value`` (replaced if present, appended otherwise)."""
    return with_option_in(TERMS, name, value)


def with_option_in(base: list[str], name: str, value: str) -> list[str]:
    args = list(base)
    if name in args:
        args[args.index(name) + 1] = value
        return args
    return [*args, name, value]


def schedule(*args: str) -> Result:
    return RUNNER.invoke(app, ["schedule", *args])


def test_schedule_table_shows_every_installment_and_the_disclosure() -> None:
    result = schedule(*TERMS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("1,100.16") == 11 and "1,100.19" in out  # the residue in the last one
    assert "2027-01-15" in out and "13,201.95" in out and "1,201.95" in out
    assert "APR (IRR, nominal" in out and "18.00%" in out
    assert "APR (Regulation Z, actuarial method)" in out and "APRC (EU" in out
    assert result.stderr == ""


def test_schedule_json_carries_the_library_figures_exactly() -> None:
    result = schedule(*TERMS, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    terms = LoanTerms(
        principal=Decimal("12000.00"), currency="CNY", annual_rate=Decimal("0.18"),
        installments=12, method="equal_installment", start_date=date(2026, 1, 15),
        rounding="HALF_UP",
    )  # fmt: skip
    expected = amortize(terms)
    rows = document["installments"]
    assert [Decimal(r["total"]) for r in rows] == list(expected.totals)
    assert [r["due_date"] for r in rows] == [d.isoformat() for d in expected.due_dates]
    assert sum(Decimal(r["principal"]) for r in rows) == Decimal("12000.00")
    assert document["totals"]["total_interest"] == "1201.95"
    assert document["terms"]["method"] == "equal_installment"
    assert document["terms"]["rounding"] == "ROUND_HALF_UP"
    disclosure = document["disclosure"]
    assert Decimal(disclosure["irr_nominal"]) == apr.irr_annualized(expected).nominal
    assert Decimal(disclosure["us_actuarial"]) == apr.us_actuarial(expected)
    assert Decimal(disclosure["eu"]) == apr.eu(expected)
    assert disclosure["notes"] == []


def test_schedule_csv_is_clean_csv_with_the_disclosure_on_stderr() -> None:
    result = schedule(*TERMS, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 12
    assert list(rows[0]) == [
        "number", "due_date", "principal", "interest", "fee", "total", "balance_after",
    ]  # fmt: skip
    assert rows[0]["total"] == "1100.16" and rows[-1]["balance_after"] == "0.00"
    assert "APRC (EU Directive 2008/48/EC)" in result.stderr


@pytest.mark.parametrize("method", [m.value for m in Method])
def test_schedule_runs_every_method_and_principal_parts_sum_to_the_principal(method: str) -> None:
    args = with_option("--method", method)
    if method == "fee_installment":  # a fee instead of interest
        args = [*with_option_in(args, "--rate", "0"), "--fee-rate", "0.006"]
    result = schedule(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["installments"]
    assert sum(Decimal(r["principal"]) for r in rows) == Decimal("12000.00")


def test_schedule_takes_the_optional_terms() -> None:
    result = schedule(
        *TERMS, "--interest-basis", "daily", "--day-count", "ACT/365F", "--first-due", "2026-02-20",
        "--fee-rate", "0.001", "--fee-timing", "upfront", "--grace-periods", "2",
        "--installment-multiple", "1", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["terms"]["interest_basis"] == "daily"
    assert document["terms"]["first_due_date"] == "2026-02-20"
    assert document["totals"]["fee_upfront"] == "144.00"  # 12000 x 0.001 x 12, at disbursement
    assert document["installments"][0]["principal"] == "0.00"  # principal grace


def test_schedule_shows_not_applicable_where_a_method_does_not_apply() -> None:
    args = [*TERMS, "--frequency", "every_n_days", "--every-days", "10"]
    result = schedule(*args)
    assert result.exit_code == 0, result.output
    assert "Regulation Z" in result.stdout and "n/a" in result.stdout
    document = json.loads(schedule(*args, "--format", "json").stdout)
    assert document["disclosure"]["us_actuarial"] is None
    assert "unit_period" in document["disclosure"]["notes"][0]


BAD_VALUES = [
    (with_option("--rate", "abc"), "annual_rate"),
    (with_option("--principal", "-5"), "principal"),
    (with_option("--principal", "12000.001"), "principal"),
    (with_option("--start", "2026-02-30"), "start_date"),
    (with_option("--start", "15/01/2026"), "start_date"),
    (with_option("--start", "1800-01-01"), "start_date"),
    (with_option("--installments", "twelve"), "installments"),
    (with_option("--installments", "0"), "installments"),
    (with_option("--method", "fee_based"), "method"),
    (with_option("--rounding", "NEAREST"), "rounding"),
    (with_option("--currency", "XXX"), "currency"),
    (with_option("--format", "xml"), "format"),
    (with_option("--first-due", "tomorrow"), "first_due_date"),
    (with_option("--fee-rate", "1.5"), "fee_rate_per_period"),
    (with_option("--grace-periods", "12"), "grace_periods"),
    ([*TERMS, "--bogus", "1"], "--bogus"),
    (TERMS[2:], "--principal"),  # a required option missing
]


@pytest.mark.parametrize(("args", "named"), BAD_VALUES, ids=[n for _, n in BAD_VALUES])
def test_bad_values_give_one_error_line_naming_the_field(args: list[str], named: str) -> None:
    result = schedule(*args)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("loancore: error: ") and named in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_solver_failure_is_one_error_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from loancore.errors import NoSolution

    def no_solution(*_args: object, **_options: object) -> None:
        raise NoSolution("irr_annualized", "did not converge")

    monkeypatch.setattr("loancore.cli.schedule.amortize", no_solution)
    result = schedule(*TERMS)
    assert result.exit_code == 1
    assert result.stderr == "loancore: error: irr_annualized: no solution (did not converge)\n"


def test_version_prints_the_package_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"loancore {__version__}\n"


def test_bare_loancore_prints_the_help_listing_the_commands() -> None:
    result = RUNNER.invoke(app, [])
    assert result.exit_code == 0
    assert "schedule" in result.stdout and "demo" in result.stdout


def test_main_returns_the_status_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["schedule", *with_option("--rate", "abc")]) == 2
    assert capsys.readouterr().err.startswith(
        "loancore: error: annual_rate: expected plain ASCII digits"
    )


def test_story_writes_its_books_into_the_folder_given(tmp_path: Path) -> None:
    out = tmp_path / "books"
    result = RUNNER.invoke(app, ["story", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "books.sqlite").exists() and (out / "books.beancount").exists()
    assert "balanced: True" in result.stdout and "0 error(s)" in result.stdout


def test_story_into_a_file_is_one_error_line(tmp_path: Path) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("")
    result = RUNNER.invoke(app, ["story", "--out", str(a_file)])
    assert result.exit_code != 0
    assert len(result.stderr.splitlines()) == 1 and "is a file" in result.stderr


# -- the demo portfolio and the commands over its book -------------------------------------------


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    args = ["demo", "--customers", "30", "--merchants", "3", "--months", "4", "--seed", "5"]
    result = RUNNER.invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return db, result.stdout


def test_demo_prints_every_report_and_a_clean_beancount_export(demo_book: tuple[Path, str]) -> None:
    db, out = demo_book
    for title in ("Trial balance", "Balance sheet", "Income statement", "Portfolio aging",
                  "Five-level classification", "Written off and sold", "Vintage", "Roll rates",
                  "Merchant settlement"):  # fmt: skip
        assert title in out, title
    assert "assets = liabilities + equity: True" in out
    assert "0 error(s) when beancount's loader re-checks it" in out
    assert db.with_suffix(".beancount").exists()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["report", "trial-balance"], "balanced"),
        (["report", "aging", "--as-of", "2025-04-30"], "Aging on 2025-04-30"),
        (["report", "bill", "--customer", "C00001"], "Bill of C00001"),
        (["report", "settlement"], "Merchant settlement"),
        (["report", "written-off"], "Written off and sold"),
        (["eod", "--date", "2025-04-30"], "closed 2025-04-30"),
        (["settle", "--date", "2025-04-30"], "settlement up:2025-04-30"),
    ],
)
def test_commands_over_the_demo_book(
    demo_book: tuple[Path, str], args: list[str], shown: str
) -> None:
    db, _out = demo_book
    result = RUNNER.invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert shown in result.stdout


def test_eod_on_worker_processes_closes_what_one_process_closes(
    demo_book: tuple[Path, str], tmp_path: Path
) -> None:
    """``loancore eod --workers 2`` on one copy of the demo book, plain ``eod`` on another: the
    same loans brought to the day, the same buckets, the same trial balance."""
    db, _out = demo_book
    copies = [tmp_path / "workers.sqlite", tmp_path / "alone.sqlite"]
    for copy in copies:
        shutil.copy(db, copy)
    outputs = []
    for copy, workers in zip(copies, ("2", "0"), strict=True):
        args = ["eod", "--date", "2025-05-06", "--workers", workers, "--db", str(copy)]
        result = RUNNER.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert "closed 2025-05-06" in outputs[0] and outputs[0] == outputs[1]
    assert " 0 loans brought" not in outputs[0]
    balances = []
    for copy in copies:
        result = RUNNER.invoke(app, ["report", "trial-balance", "--db", str(copy)])
        assert result.exit_code == 0, result.output
        balances.append(result.stdout)
    assert balances[0] == balances[1]


def test_export_beancount_writes_a_file_beancount_accepts(
    demo_book: tuple[Path, str], tmp_path: Path
) -> None:
    db, _out = demo_book
    target = tmp_path / "book.beancount"
    result = RUNNER.invoke(app, ["export", "beancount", "--db", str(db), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stdout and target.exists()


def bad_db_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100)
    empty = tmp_path / "empty.sqlite"
    import sqlite3

    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    return [
        (["report", "portfolio", "--db", str(tmp_path / "missing.sqlite")], "no such file"),
        (["report", "portfolio", "--db", str(text)], "db"),
        (["report", "portfolio", "--db", str(empty)], "not a loancore database"),
        (["report", "portfolio", "--db", str(tmp_path)], "is a directory"),
        (["eod", "--date", "2025-02-30", "--db", str(empty)], "date"),
        (["eod", "--date", "2025-02-03", "--workers", "-1", "--db", str(empty)], "workers"),
        (["eod", "--date", "2025-02-03", "--workers", "2", "--db", "sqlite://"], "workers"),
        (["demo", "--workers", "many"], "workers"),
        (["export", "csv", "--db", str(empty)], "format"),
        (["report", "nonsense", "--db", str(empty)], "name"),
        (["report", "bill", "--db", str(empty)], "customer"),
        (["demo", "--customers", "abc"], "customers"),
        (["demo", "--months", "99"], "months"),
        (["demo", "--db", str(tmp_path)], "is a directory"),
        (["report", "portfolio", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"], "db"),
        (["fava", "--db", str(tmp_path / "missing.sqlite"), "--no-browser"], "no such file"),
        (["fava", "--db", str(empty), "--no-browser"], "not a loancore database"),
        (["fava", "--db", str(empty), "--port", "70000"], "port"),
        (["fava", "--db", str(empty), "--host", " "], "host"),
    ]


def test_bad_options_or_a_bad_database_are_one_error_line_never_a_traceback(tmp_path: Path) -> None:
    for args, named in bad_db_cases(tmp_path):
        result = RUNNER.invoke(app, args)
        assert result.exit_code != 0, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("loancore: error:"), (args, result.stderr)
        assert named in lines[0], (args, lines[0])
        assert "Traceback" not in result.output


def test_without_the_cli_extra_main_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "typer", None)  # as if typer were not installed
    monkeypatch.delitem(sys.modules, "loancore.cli.application")
    assert main(["--version"]) == 2
    assert "pip install 'loancore[cli]'" in capsys.readouterr().err


# -- the real thing: the installed console script, in a subprocess -------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_installed_console_script_prints_a_schedule() -> None:
    done = run_script("schedule", *TERMS, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["total_paid"] == "13201.95"


def test_installed_console_script_refuses_a_bad_rate_in_one_line() -> None:
    done = run_script("schedule", *with_option("--rate", "abc"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("loancore: error: annual_rate: expected plain ASCII digits")
    assert done.stderr.endswith("(got 'abc')\n") and done.stderr.count("\n") == 1


def test_python_dash_m_loancore_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loancore", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == f"loancore {__version__}\n"


def test_terms_from_options_refuses_unknown_fields_and_missing_required_ones() -> None:
    from loancore.cli.schedule import terms_from_options
    from loancore.errors import InvalidInput

    given: dict[str, str | None] = {"principal": "100", "currency": "cny", "annual_rate": "0.1", "installments": "3",
             "method": "flat", "start_date": "2026-01-31", "rounding": "HALF_UP"}  # fmt: skip
    assert terms_from_options(given).currency == "CNY"
    with pytest.raises(InvalidInput, match="^options: not LoanTerms fields"):
        terms_from_options({**given, "principle": "100"})
    with pytest.raises(InvalidInput, match="^rounding: is required"):
        terms_from_options({**given, "rounding": None})


def test_a_narrow_terminal_never_cuts_a_figure_short() -> None:
    args = with_option("--principal", "123456789.12")
    result = RUNNER.invoke(app, ["schedule", *args], env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout


@pytest.mark.parametrize(
    ("text", "fraction"), [("18%", "0.18"), (" 0.6% ", "0.006"), ("0.18", "0.18")]
)
def test_a_rate_is_a_fraction_or_an_exact_percentage(text: str, fraction: str) -> None:
    from loancore.cli.options import parse_rate

    assert parse_rate("annual_rate", text) == Decimal(fraction)


def test_a_percentage_rate_gives_the_same_schedule_as_its_fraction() -> None:
    as_fraction = schedule(*TERMS, "--format", "json").stdout
    as_percent = schedule(*with_option("--rate", "18%"), "--format", "json").stdout
    assert json.loads(as_percent)["installments"] == json.loads(as_fraction)["installments"]
    assert "annual_rate" in schedule(*with_option("--rate", "abc%")).stderr


def test_portfolio_html_is_one_self_contained_page_with_its_charts(
    demo_book: tuple[Path, str], tmp_path: Path
) -> None:
    db, _out = demo_book
    page = tmp_path / "report.html"
    result = RUNNER.invoke(app, ["report", "portfolio", "--db", str(db), "--html", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 3
    for heading in ("Balance by bucket over time", "Vintage curves", "Roll rates",
                    "Income statement", "Merchant settlement", "loans due within 3 days"):  # fmt: skip
        assert heading in text, heading
    # nothing fetched from elsewhere (XML namespaces are names, not resources)
    assert 'href="http' not in text and "src=" not in text and "<script" not in text


def test_html_is_refused_for_any_report_but_the_portfolio(demo_book: tuple[Path, str]) -> None:
    db, _out = demo_book
    result = RUNNER.invoke(app, ["report", "aging", "--db", str(db), "--html", "x.html"])
    assert result.exit_code == 2 and "html" in result.stderr


# -- loancore fava ---------------------------------------------------------------------------------


FAVA_WAIT_SECONDS = 120  # bounded: Fava loads the book; a loaded machine is slow


def interrupt_after_fetching(
    url: str, pages: list[str], failures: list[BaseException], done: threading.Event
) -> None:
    """Poll ``url`` until Fava answers, keep its balance sheet page, then press Ctrl-C in the main
    thread (a real SIGINT to the thread running the command, which waits on Fava), unless the
    command has already ended (``done``): a late Ctrl-C would interrupt the test run itself."""
    deadline = time.monotonic() + FAVA_WAIT_SECONDS
    slug = ""
    try:
        while not done.is_set():
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    slug = urllib.parse.urlsplit(response.geturl()).path.strip("/").split("/")[0]
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if not done.is_set():
            with urllib.request.urlopen(f"{url}{slug}/balance_sheet/", timeout=60) as response:
                pages.append(response.read().decode("utf-8"))
            time.sleep(0.5)  # the command is past on_ready, waiting on Fava
    except (OSError, ValueError) as error:  # reported by the test, never lost in the thread
        failures.append(error)
    finally:
        if not done.is_set():
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def test_fava_serves_the_books_balance_sheet_until_ctrl_c(
    demo_book: tuple[Path, str], tmp_path: Path
) -> None:
    from loancore.adapters.fava import free_port

    db, _out = demo_book
    port = free_port()
    pages: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()
    target = tmp_path / "fava.beancount"
    url = f"http://127.0.0.1:{port}/"
    helper = threading.Thread(target=interrupt_after_fetching, args=(url, pages, failures, done))
    helper.start()
    args = ["fava", "--db", str(db), "--port", str(port), "--no-browser", "--out", str(target)]
    try:
        result = RUNNER.invoke(app, args)
    finally:
        # The command ended (by the helper's Ctrl-C, or on its own): a Ctrl-C the helper was
        # about to send must not reach the test run.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        done.set()
        helper.join()
        signal.signal(signal.SIGINT, previous)
    assert not failures, failures
    assert result.exit_code == 0, result.output
    assert f"at http://127.0.0.1:{port}/" in result.stdout and "balance_sheet" in result.stdout
    assert "Assets:1303-Loans:Principal" in pages[0]  # Fava shows the book's loan principal
    assert target.exists()
    with pytest.raises(urllib.error.URLError):  # stopped with the command
        urllib.request.urlopen(url, timeout=5)


def test_fava_on_a_port_taken_is_one_error_line(
    demo_book: tuple[Path, str], tmp_path: Path
) -> None:
    db, _out = demo_book
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: Fava cannot bind it and exits
        port = taken.getsockname()[1]
        args = ["fava", "--db", str(db), "--port", str(port), "--no-browser"]
        result = RUNNER.invoke(app, [*args, "--out", str(tmp_path / "b.beancount")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Fava exited" in lines[0], result.stderr
