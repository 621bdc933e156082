"""Time value of money: numpy-financial's functions in Decimal, with its names and signs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore import tvm
from loancore.errors import FloatNotAllowed, InvalidInput, NoSolution
from loancore.testing.calculators import cashflows

D = Decimal


def close(a: Decimal, b: float, places: int = 8) -> bool:
    return abs(a - D(repr(float(b)))) < D(10) ** -places


@given(st.integers(0, 3000), st.integers(1, 360), st.integers(1, 10**8))
def test_pmt_matches_numpy_financial(rate_bp: int, nper: int, pv_minor: int) -> None:
    rate = D(rate_bp) / 10000 / 12
    principal = D(pv_minor) / 100
    expected = npf.pmt(float(rate), nper, float(principal))
    gap = abs(tvm.pmt(rate, nper, principal) - D(repr(float(expected))))
    assert gap <= abs(principal) * D("1e-9")


@given(st.integers(1, 3000), st.integers(2, 120), st.integers(1, 10**7), st.data())
def test_ipmt_plus_ppmt_is_pmt(rate_bp: int, nper: int, pv_minor: int, data) -> None:
    rate, principal = D(rate_bp) / 120000, D(pv_minor) / 100
    per = data.draw(st.integers(1, nper))
    total = tvm.ipmt(rate, per, nper, principal) + tvm.ppmt(rate, per, nper, principal)
    assert abs(total - tvm.pmt(rate, nper, principal)) < D("1e-18")


@given(st.integers(1, 3000), st.integers(1, 120), st.integers(1, 10**7))
def test_rate_inverts_pmt(rate_bp: int, nper: int, pv_minor: int) -> None:
    rate, principal = D(rate_bp) / 120000, D(pv_minor) / 100
    payment = tvm.pmt(rate, nper, principal)
    assert abs(tvm.rate(nper, payment, principal) - rate) < D("1e-15")


def test_begin_mode_and_zero_rate() -> None:
    assert close(tvm.pmt(D("0.01"), 12, 1000, when="begin"), npf.pmt(0.01, 12, 1000, when="begin"))
    assert tvm.pmt(0, 10, 1000) == D(-100)
    assert tvm.fv(0, 10, -100, 0) == D(1000)
    assert tvm.nper(0, -100, 1000) == D(10)
    assert close(tvm.ipmt(D("0.01"), 3, 12, 1000, when="begin"),
                 npf.ipmt(0.01, 3, 12, 1000, when="begin"))
    assert tvm.ipmt(D("0.01"), 1, 12, 1000, when="begin") == 0


def test_irr_and_npv_agree() -> None:
    flows = [-100, 39, 59, 55, 20]
    rate = tvm.irr(flows)
    assert abs(tvm.npv(rate, flows)) < D("1e-15")


def test_xirr_roots_xnpv() -> None:
    flows = [
        (dt.date(2024, 1, 1), D(-1000)),
        (dt.date(2024, 7, 1), D(600)),
        (dt.date(2025, 1, 1), D(600)),
    ]
    rate = tvm.xirr(flows)
    assert abs(tvm.xnpv(rate, flows)) < D("1e-12")


@pytest.mark.parametrize(
    "call",
    [
        lambda: tvm.irr([100, 50]),
        lambda: tvm.xirr([(dt.date(2024, 1, 1), -1), (dt.date(2024, 2, 1), -1)]),
        lambda: tvm.nper(D("0.1"), -1, 1000),
        lambda: tvm.irr([-100, 1, 1], iterations_max=2),
    ],
)
def test_solvers_raise_no_solution(call) -> None:
    with pytest.raises(NoSolution):
        call()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: tvm.pmt(0.01, 12, 100), FloatNotAllowed),
        (lambda: tvm.pmt(D("0.01"), 0, 100), InvalidInput),
        (lambda: tvm.pmt(D("-1"), 12, 100), InvalidInput),
        (lambda: tvm.pmt(D("0.01"), 12, 100, when="middle"), InvalidInput),
        (lambda: tvm.ipmt(D("0.01"), 13, 12, 100), InvalidInput),
        (lambda: tvm.npv(D("0.1"), []), InvalidInput),
        (lambda: tvm.xirr([(dt.date(2024, 2, 1), -1), (dt.date(2024, 1, 1), 2)]), InvalidInput),
        (lambda: tvm.irr([-1, 2], iterations_max=0), InvalidInput),
    ],
)
def test_bad_input(call, error) -> None:
    with pytest.raises(error):
        call()


@given(cashflows())
def test_xirr_is_a_root_of_xnpv(flows) -> None:
    try:
        rate = tvm.xirr(flows)
    except NoSolution:
        return  # e.g. repayments so small that the rate is below -99% a year
    scale = sum(abs(a) for _, a in flows)
    assert abs(tvm.xnpv(rate, flows)) <= scale * D("1e-12")
