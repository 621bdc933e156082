"""Shared fixtures and the CI rule that PostgreSQL tests really run.

``postgres_url`` hands a test the URL of the throwaway server that ``scripts/with-postgres`` starts
(``make test`` and ``.ci/run`` both use it). Off CI a missing server skips those tests; on CI
(``CI`` set) a missing server, or any PostgreSQL test that did not pass, fails the run.
"""

from __future__ import annotations

import decimal
import os

import pytest
from hypothesis import HealthCheck, settings

POSTGRES_ENV = "LOANCORE_TEST_POSTGRES_URL"

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(autouse=True)
def _trap_float_operations():
    """Any float mixed into Decimal arithmetic inside a test raises (STYLE.md, Money)."""
    context = decimal.getcontext()
    previous = context.traps[decimal.FloatOperation]
    context.traps[decimal.FloatOperation] = True
    yield
    context.traps[decimal.FloatOperation] = previous


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if _in_ci():
            pytest.fail(f"{POSTGRES_ENV} is not set: in CI the PostgreSQL tests must run")
        pytest.skip(f"{POSTGRES_ENV} is not set (run through `make test` to start a server)")
    return url


_postgres_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.when == "call" or report.outcome != "passed":
        _postgres_outcomes[report.nodeid] = report.outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _in_ci() or session.config.option.collectonly:
        return
    not_passed = sorted(n for n, outcome in _postgres_outcomes.items() if outcome != "passed")
    if not _postgres_outcomes or not_passed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "CI rule: PostgreSQL tests must run and pass; " + (
            f"not passed: {not_passed}" if not_passed else "none ran"
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
