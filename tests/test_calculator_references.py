"""Every published reference case in tests/data/calculator_reference_cases.json, one test each.

Each case names its source (spreadsheet and numpy-financial documentation, Regulation Z Appendix J,
the EU consumer-credit directives' worked examples, Chinese banks' calculator figures). Where a
source prints a figure loancore deliberately does not give (a total from the unrounded payment
x n, a closed-form total interest), the case lists it under ``published_differs`` and the test
checks that loancore's figure differs by no more than rounding (docs/calculators.md explains).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loancore import apr, tvm
from loancore.amortization import LoanTerms, amortize
from loancore.dates import due_dates

DATA = Path(__file__).parent / "data" / "calculator_reference_cases.json"
CASES = json.loads(DATA.read_text(encoding="utf-8"))["cases"]


def number(value: Any) -> Any:
    """ "0.075/12" -> Decimal quotient; other strings -> Decimal; ints and lists pass through."""
    if isinstance(value, list):
        return [number(v) for v in value]
    if isinstance(value, str):
        if "/" in value:
            top, bottom = value.split("/")
            return Decimal(top) / Decimal(bottom)
        return Decimal(value)
    return value


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_there_are_at_least_forty_cases_each_with_a_source() -> None:
    assert len(CASES) >= 40
    assert all(case.get("source") for case in CASES)
    assert len({case["id"] for case in CASES}) == len(CASES)


def check_tvm(case: dict) -> None:
    got = getattr(tvm, case["function"])(*[number(a) for a in case["args"]])
    assert abs(got - Decimal(case["expected"])) <= Decimal(case["tolerance"]), got


def check_xirr(case: dict) -> None:
    got = tvm.xirr([(day(d), Decimal(a)) for d, a in case["flows"]])
    assert abs(got - Decimal(case["expected"])) <= Decimal(case["tolerance"]), got


def check_us_actuarial_periods(case: dict) -> None:
    flows = [(Decimal(a), q, number(f)) for a, q, f in case["flows"]]
    got = apr.us_actuarial_periods(
        flows, unit_periods_per_year=number(case["unit_periods_per_year"])
    )
    assert apr.round_percent(got, case["places"]) == Decimal(case["expected_percent"]), got


def check_us_actuarial_dated(case: dict) -> None:
    start, advance = day(case["advance"][0]), Decimal(case["advance"][1])
    dates = due_dates(start, case["count"], case["frequency"], first_due=day(case["first_due"]))
    flows = [(start, advance)] + [(d, Decimal(case["payment"])) for d in dates]
    got = apr.us_actuarial(flows, unit_period=case["frequency"])
    assert apr.round_percent(got, case["places"]) == Decimal(case["expected_percent"]), got


def check_us_actuarial_flows(case: dict) -> None:
    flows = [(day(d), Decimal(a)) for d, a in case["flows"]]
    got = apr.us_actuarial(flows, unit_period=case["unit_period"])
    assert apr.round_percent(got, case["places"]) == Decimal(case["expected_percent"]), got


def check_eu(case: dict) -> None:
    got = apr.eu([(day(d), Decimal(a)) for d, a in case["flows"]], time_basis=case["time_basis"])
    assert abs(got - Decimal(case["expected"])) <= Decimal(case["tolerance"]), got


def schedule_figure(schedule, key: str) -> Decimal:
    match = re.fullmatch(r"(\w+)\[(\d+)\]", key)
    if match:
        return getattr(schedule, match[1])[int(match[2])]
    return getattr(schedule, key)


def check_schedule(case: dict) -> None:
    raw = dict(case["terms"])
    raw["start_date"] = day(raw["start_date"])
    terms = LoanTerms(
        **{k: (Decimal(v) if k in ("principal", "annual_rate") else v) for k, v in raw.items()}
    )
    schedule = amortize(terms)
    for key, expected in case["expect"].items():
        assert schedule_figure(schedule, key) == Decimal(expected), key
    for key, published in case.get("published_differs", {}).items():
        # A different rounding point, not a different loan: within half a fen per installment.
        gap = abs(schedule_figure(schedule, key) - Decimal(published))
        assert Decimal(0) < gap <= Decimal("0.005") * len(schedule), (key, gap)


CHECKS = {
    "tvm": check_tvm,
    "xirr": check_xirr,
    "us_actuarial_periods": check_us_actuarial_periods,
    "us_actuarial_dated": check_us_actuarial_dated,
    "us_actuarial_flows": check_us_actuarial_flows,
    "eu": check_eu,
    "schedule": check_schedule,
}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case(case: dict) -> None:
    CHECKS[case["kind"]](case)
