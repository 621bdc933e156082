"""The curated public names: importable, sorted, and the ones the issues promise."""

from __future__ import annotations

import subprocess
import sys

import loancore


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert loancore.__all__ == sorted(loancore.__all__)
    for name in loancore.__all__:
        assert getattr(loancore, name) is not None, name


def test_the_promised_entry_points_are_top_level() -> None:
    promised = {
        "Money",
        "Rounding",
        "LoanTerms",
        "amortize",
        "Schedule",
        "year_fraction",
        "BusinessCalendar",
        "LoancoreError",
        "RejectionCode",
    }
    assert promised <= set(loancore.__all__)


def test_every_public_error_is_a_loancore_error_and_refines_a_builtin() -> None:
    """Callers' ``except ValueError`` / ``except LookupError`` keep working (STYLE.md, Errors)."""
    generic = {Exception, BaseException, object}
    errors = [
        value
        for value in vars(loancore.errors).values()
        if isinstance(value, type)
        and issubclass(value, loancore.LoancoreError)
        and value not in (loancore.LoancoreError, loancore.Rejected)
    ]
    assert len(errors) >= 10
    for error in errors:
        builtins_refined = [
            b for b in error.__mro__ if b.__module__ == "builtins" and b not in generic
        ]
        assert builtins_refined, (
            f"{error.__name__} should also inherit a builtin such as ValueError"
        )


def test_import_loancore_reaches_the_calculator_submodules() -> None:
    # A fresh interpreter, so that no other test's import of loancore.tvm can make this pass.
    code = "import loancore; print(loancore.tvm.pmt(1, 1, 1), loancore.apr.us_actuarial.__name__)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert {"apr", "tvm"} <= set(loancore.__all__)
