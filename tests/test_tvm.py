"""Time value of money: numpy-financial's functions in Decimal, with its names and signs."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from loancore import tvm
from loancore.errors import FloatNotAllowed, InvalidInput, NoSolution
from loancore.testing.calculators import cashflows
from loancore.testing.money import assert_context_independent

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
    assert close(
        tvm.ipmt(D("0.01"), 3, 12, 1000, when="begin"), npf.ipmt(0.01, 3, 12, 1000, when="begin")
    )
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


# -- review: overflow, solver bounds, references, the caller's decimal context -------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: tvm.pmt(D("0.01"), 10**9, 1000),
        lambda: tvm.pv(D("9"), 10**7, 100),
        lambda: tvm.fv(D("9"), 10**7, 100, 1000),
        lambda: tvm.ipmt(D("9"), 2, 10**7, 1000),
        lambda: tvm.rate(12, D("-88.85"), 1000, iterations_max=5.5),
        lambda: tvm.rate(12, D("-88.85"), 1000, iterations_max=True),
        lambda: tvm.rate(12, D("-88.85"), 1000, tol=-1),
        lambda: tvm.irr([-1, 2], guess=None),
        lambda: tvm.xirr([(dt.datetime(2024, 1, 1), -1000), (dt.date(2025, 1, 2), 1100)]),
        lambda: tvm.xirr([(dt.date(2024, 1, 1), -1000), (dt.datetime(2025, 1, 2, 9), 1100)]),
    ],
)
def test_out_of_range_input_raises_invalid_input(call) -> None:
    # Found in review: decimal.Overflow, TypeError (float bound, datetime vs date) escaped, and
    # iterations_max=True ran one iteration ("did not converge within True iterations").
    with pytest.raises(InvalidInput):
        call()


@given(
    st.integers(1, 20_000),
    st.integers(1, 480),
    st.integers(-(10**9), 10**9),
    st.integers(-(10**9), 10**9),
    st.sampled_from(["end", "begin"]),
)
def test_pv_fv_nper_match_numpy_financial(
    rate_bp: int, n: int, pmt_minor: int, pv_minor: int, when: str
) -> None:
    rate, pmt, pv = D(rate_bp) / 120_000, D(pmt_minor) / 100, D(pv_minor) / 100
    scale = abs(pmt) * n + abs(pv) + 1
    got = tvm.fv(rate, n, pmt, pv, when)
    expected = npf.fv(float(rate), n, float(pmt), float(pv), when)
    assert abs(got - D(repr(float(expected)))) <= abs(got) * D("1e-9") + scale * D("1e-9")
    got_pv = tvm.pv(rate, n, pmt, pv, when)
    expected_pv = npf.pv(float(rate), n, float(pmt), float(pv), when)
    assert abs(got_pv - D(repr(float(expected_pv)))) <= scale * D("1e-9")


def _bisection_root(f, low: Decimal, high: Decimal) -> Decimal:
    """A plain bisection on a bracket with a sign change: the reference for irr and xirr."""
    low_negative = f(low) < 0
    for _ in range(64):  # 11 / 2**64 < 1e-18
        middle = (low + high) / 2
        if (f(middle) < 0) == low_negative:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@given(cashflows(count_max=6))
def test_xirr_matches_a_bisection_reference(flows) -> None:
    first = flows[0][0]

    def xnpv(r: Decimal) -> Decimal:
        return sum(a / (1 + r) ** (D((d - first).days) / 365) for d, a in flows)

    # Lender-view flows (one advance, then repayments) have exactly one root above -100%.
    low, high = D("-0.99"), D("10")
    assume((xnpv(low) < 0) != (xnpv(high) < 0))
    with decimal.localcontext(prec=34):
        expected = _bisection_root(xnpv, low, high)
    assert abs(tvm.xirr(flows) - expected) <= D("1e-15")


@pytest.mark.parametrize(
    "flows",
    [
        [D(-100), D(230), D(-132)],  # two roots (10% and 20%): one of them, within bounds
        [D(-1), D(3), D(-3), D("1.0001")],
        [D(-100), D(50), D(-100), D(50)],
    ],
)
def test_irr_with_many_sign_changes_returns_a_root(flows) -> None:
    rate = tvm.irr(flows)
    assert abs(tvm.npv(rate, flows)) <= D("1e-12")


def test_irr_with_no_root_in_range_raises_no_solution() -> None:
    # npv(r) = 1 - 1/(1+r) + 1/(1+r)^2 > 0 for every r > -1: sign changes but no root.
    with pytest.raises(NoSolution):
        tvm.irr([D(1), D(-1), D(1)])


def test_tvm_does_not_depend_on_the_callers_decimal_context() -> None:
    flows = [(dt.date(2024, 1, 1), D("-1000")), (dt.date(2024, 7, 1), D("1100"))]
    assert_context_independent(
        lambda: (
            tvm.pmt(D("0.015"), 12, D("12345678.91")),
            tvm.ipmt(D("0.015"), 3, 12, D("12345678.91")),
            tvm.nper(D("0.01"), -100, 1000),
            tvm.rate(12, D("-88.85"), 1000),
            tvm.irr([-1000, 300, 400, 500]),
            tvm.xirr(flows),
            tvm.xnpv(D("0.1"), flows),
        )
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: tvm.nper(D("0.01"), D("-1e999999"), 100), InvalidInput),
        (
            lambda: tvm.xnpv(D("1e999999"), [(dt.date(2024, 1, 1), 1), (dt.date(2025, 1, 1), 1)]),
            InvalidInput,
        ),
        (
            lambda: tvm.solve_rate(lambda r: D(1) / (1 + r) ** 10**6 - D("0.5"), solver="far"),
            NoSolution,
        ),
    ],
)
def test_numbers_leaving_the_decimal_range_raise_loancore_errors(call, error) -> None:
    # Found in review: decimal.Overflow / DivisionByZero escaped from nper, xnpv and the bisection
    # (flows 10**6 unit periods out in us_actuarial_periods underflow to a division by zero).
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("when", [True, False, 1.0, 0.0])
def test_when_is_a_word_or_an_int_not_a_bool_or_float(when) -> None:
    # Found in review: when=True and when=1.0 were silently taken as "begin".
    with pytest.raises(InvalidInput):
        tvm.pmt(D("0.01"), 12, 1000, 0, when)


# -- issue 10: solvers never return an unconverged guess; inputs are bounded -------------------


@pytest.mark.parametrize("guess", [D("0.1"), D("0.05"), D("0.5")])
def test_rate_returns_the_root_or_raises_never_the_guess(guess: Decimal) -> None:
    # Found in review: rate(100000, -1100, 12000) returned its guess (0.1) unchanged.
    got = tvm.rate(100000, -1100, 12000, guess=guess)
    assert abs(got - D(1100) / D(12000)) < D("1e-18")


def test_a_secant_that_stalls_beside_a_minimum_is_not_a_root() -> None:
    # (r - 0.05)^2 + 1e-30 has no root; the secant creeps toward 0.05 in ever smaller steps.
    with pytest.raises(NoSolution):
        tvm.solve_rate(lambda r: (r - D("0.05")) ** 2 + D("1e-30"), solver="test")


@given(st.integers(-5000, 50000), st.integers(1, 30))
def test_solve_rate_result_brackets_a_sign_change(root_bp: int, power: int) -> None:
    root = D(root_bp) / 10000

    def f(r: Decimal) -> Decimal:
        return (r - root) ** (2 * power - 1)

    got = tvm.solve_rate(f, solver="test", tolerance=D("1e-20"))
    assert abs(got - root) <= D("1e-18")


def test_solve_rate_refuses_an_empty_or_reversed_bracket_and_a_guess_outside_it() -> None:
    # Found in review: low > high returned a wrong root.
    with pytest.raises(InvalidInput) as caught:
        tvm.solve_rate(lambda r: r - D("0.05"), solver="x", low=D(10), high=D("-0.99"))
    assert caught.value.field == "low"
    with pytest.raises(InvalidInput) as caught:
        tvm.solve_rate(lambda r: r - D("0.05"), solver="x", guess=D(20))
    assert caught.value.field == "guess"
    with pytest.raises(InvalidInput) as caught:
        tvm.solve_rate(lambda r: r, solver="x", iterations_max=tvm.ITERATIONS_LIMIT + 1)
    assert caught.value.field == "iterations_max"
    with pytest.raises(InvalidInput) as caught:
        tvm.solve_rate(lambda r: r, solver="x", tolerance=D("NaN"))
    assert caught.value.field == "tolerance"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: tvm.pmt(D("0.01"), 12, D("1E+999999")), "pv"),
        (lambda: tvm.pv(D("1E+50"), 12, -100), "rate"),
        (lambda: tvm.fv(D("0.01"), 10**7, -100, 0), "nper"),
        (lambda: tvm.npv(D("0.01"), [1] * (tvm.CASHFLOWS_MAX + 1)), "values"),
        (lambda: tvm.irr([-100, D("1E+50")]), "values[1]"),
        (lambda: tvm.nper(D("0.01"), "1" * 100, 1000), "pmt"),
    ],
)
def test_out_of_range_inputs_are_typed_errors(call, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field


@pytest.mark.parametrize(
    "first",
    [dt.datetime(2025, 1, 1, 12), "2025-01-01", dt.date(1800, 1, 1), dt.date(3000, 1, 1)],
)
def test_xirr_dates_are_plain_dates_in_range(first: object) -> None:
    flows = [(first, D(-1000)), (dt.date(2025, 6, 1), D(1100))]
    with pytest.raises(InvalidInput) as caught:
        tvm.xirr(flows)  # type: ignore[arg-type]
    assert caught.value.field == "cashflows[0].date"


@given(cashflows(count_max=12), st.integers(-5000, 20000))
def test_discount_factors_are_the_fractional_powers(flows, rate_bp: int) -> None:
    # The root-and-integer-power shortcut agrees with (1 + r)^-t to far more than 28 digits.
    rate = D(rate_bp) / 10000
    start = flows[0][0]
    times = [Fraction((d - start).days, 365) for d, _ in flows]
    with decimal.localcontext(decimal.Context(prec=50)):
        got = tvm.discount_factors(rate, times)
        for t, factor in zip(times, got, strict=True):
            exact = (1 + rate) ** -(D(t.numerator) / D(t.denominator))
            assert abs(factor - exact) <= abs(exact) * D("1e-40")


def test_rate_without_a_root_is_no_solution_even_where_the_growth_overflows() -> None:
    # (1 + r)^1,000,000 leaves the number range above r ~ 9: that is no root, not a bad nper.
    with pytest.raises(NoSolution):
        tvm.rate(10**6, 1, 1)
