"""Time value of money in exact ``Decimal``: numpy-financial's functions, names and signs.

``pmt``, ``ipmt``, ``ppmt``, ``pv``, ``fv``, ``nper``, ``rate``, ``npv`` and ``irr`` take the same
arguments in the same order as numpy-financial (and the spreadsheet functions of the same names),
with the same sign convention: money received is positive, money paid out negative, so
``pmt(Decimal("0.01"), 12, 10000)`` is about ``-888.49``. ``when`` is ``"end"`` (0) or
``"begin"`` (1). ``xirr`` takes ``(date, amount)`` pairs and discounts over ACT/365 years, as
spreadsheets do.

Arithmetic runs at 50 significant digits; results are returned at 28 (Python's default
precision) and are *not* rounded to a currency: rounding to money happens in the caller, at a
named point, with a named mode. Floats are refused (:class:`~loancore.errors.FloatNotAllowed`).
Solvers (``rate``, ``irr``, ``xirr``, and :mod:`loancore.apr`'s through :func:`solve_rate`) are
bounded by ``iterations_max`` and return only a verified root: the residual changes sign within
the tolerance around it (or is exactly zero). Otherwise they raise
:class:`~loancore.errors.NoSolution`, never a guess or NaN.

Input limits: every amount and rate passes :func:`loancore.money.to_decimal` (at most
``AMOUNT_DIGITS_MAX`` digits before the point and ``DECIMALS_MAX`` after it); ``nper`` is at
most :data:`NPER_MAX`; a series has at most :data:`CASHFLOWS_MAX` flows; ``iterations_max`` is at
most :data:`ITERATIONS_LIMIT`. Dates are plain ``datetime.date`` values within
:data:`loancore.checks.DATE_MIN` .. ``DATE_MAX``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from loancore.checks import require_date
from loancore.errors import InvalidInput, NoSolution
from loancore.money import to_decimal

__all__ = [
    "CASHFLOWS_MAX",
    "ITERATIONS_LIMIT",
    "ITERATIONS_MAX",
    "NPER_MAX",
    "TOLERANCE",
    "discount_factors",
    "fv",
    "ipmt",
    "irr",
    "nper",
    "npv",
    "pmt",
    "ppmt",
    "pv",
    "rate",
    "solve_rate",
    "xirr",
    "xnpv",
]

ITERATIONS_MAX = 200
"""Default bound on solver iterations."""
ITERATIONS_LIMIT = 1_000
"""The largest ``iterations_max`` a solver accepts (each iteration evaluates every flow)."""
NPER_MAX = Decimal(1_000_000)
"""The most periods ``nper`` may count (in absolute value)."""
CASHFLOWS_MAX = 2_400
"""The most flows one series may have (``npv``, ``irr``, ``xnpv``, ``xirr`` and the APR
functions): twice :data:`loancore.dates.PERIODS_MAX`, room for every installment of the longest
schedule plus as many draws or charges."""
TOLERANCE = Decimal("1e-20")
"""Default solver tolerance on the rate (absolute)."""

_WORK = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_OUT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
_ONE = Decimal(1)
_ZERO = Decimal(0)


def _when(when: Any) -> Decimal:
    if isinstance(when, (bool, float)):  # 1.0 and True compare equal to 1; say what you mean
        raise InvalidInput("when", when, "expected 'end' (0) or 'begin' (1)")
    if when in ("end", 0):
        return _ZERO
    if when in ("begin", 1):
        return _ONE
    raise InvalidInput("when", when, "expected 'end' (0) or 'begin' (1)")


def _nper_value(nper: Any, *, positive: bool = True) -> Decimal:
    value = to_decimal(nper, field="nper")
    if positive and value <= 0:
        raise InvalidInput("nper", nper, "must be positive")
    if abs(value) > NPER_MAX:
        raise InvalidInput("nper", nper, f"must be at most {NPER_MAX} periods (NPER_MAX)")
    return value


def _rate_value(value: Any, field: str = "rate") -> Decimal:
    result = to_decimal(value, field=field)
    if result <= -1:
        raise InvalidInput(field, value, "must be greater than -1")
    return result


def _annuity_factor(r: Decimal, n: Decimal, w: Decimal) -> tuple[Decimal, Decimal]:
    """``((1+r)^n, (1 + r*w) * ((1+r)^n - 1) / r)``, the second being ``n`` when r == 0."""
    try:
        growth = (_ONE + r) ** n
    except decimal.Overflow:
        raise InvalidInput("nper", n, f"(1 + rate)^nper overflows at rate {r}") from None
    if r == 0:
        return growth, n
    return growth, (_ONE + r * w) * (growth - _ONE) / r


def pmt(rate: Any, nper: Any, pv: Any, fv: Any = 0, when: Any = "end") -> Decimal:
    """The level payment per period (negative when ``pv`` is a positive loan)."""
    with decimal.localcontext(_WORK):
        r, n = _rate_value(rate), _nper_value(nper)
        present, future = to_decimal(pv, field="pv"), to_decimal(fv, field="fv")
        growth, factor = _annuity_factor(r, n, _when(when))
        return _OUT.plus(-(future + present * growth) / factor)


def fv(rate: Any, nper: Any, pmt: Any, pv: Any, when: Any = "end") -> Decimal:
    """The future value after ``nper`` periods of payment ``pmt`` on present value ``pv``."""
    with decimal.localcontext(_WORK):
        return _OUT.plus(
            _fv(
                _rate_value(rate),
                _nper_value(nper, positive=False),
                to_decimal(pmt, field="pmt"),
                to_decimal(pv, field="pv"),
                _when(when),
            )
        )


def _fv(r: Decimal, n: Decimal, payment: Decimal, present: Decimal, w: Decimal) -> Decimal:
    growth, factor = _annuity_factor(r, n, w)
    return -(present * growth + payment * factor)


def pv(rate: Any, nper: Any, pmt: Any, fv: Any = 0, when: Any = "end") -> Decimal:
    """The present value of ``nper`` payments of ``pmt`` plus ``fv`` at the end."""
    with decimal.localcontext(_WORK):
        r, n = _rate_value(rate), _nper_value(nper)
        payment, future = to_decimal(pmt, field="pmt"), to_decimal(fv, field="fv")
        growth, factor = _annuity_factor(r, n, _when(when))
        return _OUT.plus(-(future + payment * factor) / growth)


def ipmt(rate: Any, per: Any, nper: Any, pv: Any, fv: Any = 0, when: Any = "end") -> Decimal:
    """The interest part of payment number ``per`` (1-based), as numpy-financial computes it.

    numpy-financial returns NaN for ``per`` outside ``1..nper``; loancore raises ``InvalidInput``.
    """
    with decimal.localcontext(_WORK):
        r, n = _rate_value(rate), _nper_value(nper)
        period = to_decimal(per, field="per")
        if period < 1 or period > n or period != period.to_integral_value():
            raise InvalidInput("per", per, f"expected a whole period from 1 to {nper}")
        w = _when(when)
        payment = pmt(r, n, pv, fv, when)
        present = to_decimal(pv, field="pv")
        if w == 1 and period == 1:
            return _OUT.plus(_ZERO)
        balance = _fv(r, period - 1, payment, present, w)
        interest = balance * r
        if w == 1:
            interest = interest / (_ONE + r)
        return _OUT.plus(interest)


def ppmt(rate: Any, per: Any, nper: Any, pv: Any, fv: Any = 0, when: Any = "end") -> Decimal:
    """The principal part of payment number ``per``: ``pmt - ipmt``."""
    with decimal.localcontext(_WORK):
        total = pmt(rate, nper, pv, fv, when)
        return _OUT.plus(total - ipmt(rate, per, nper, pv, fv, when))


def nper(rate: Any, pmt: Any, pv: Any, fv: Any = 0, when: Any = "end") -> Decimal:
    """The number of periods (fractional) for ``pv`` to reach ``fv`` paying ``pmt`` each period."""
    with decimal.localcontext(_WORK):
        r = _rate_value(rate)
        payment, present = to_decimal(pmt, field="pmt"), to_decimal(pv, field="pv")
        future, w = to_decimal(fv, field="fv"), _when(when)
        if r == 0:
            if payment == 0:
                raise NoSolution("nper", "rate and pmt are both zero")
            return _OUT.plus(-(future + present) / payment)
        try:
            z = payment * (_ONE + r * w) / r
            numerator, denominator = -future + z, present + z
            if denominator == 0 or numerator / denominator <= 0:
                raise NoSolution("nper", "the payment never reaches the future value")
            return _OUT.plus((numerator / denominator).ln() / (_ONE + r).ln())
        except decimal.Overflow:
            raise InvalidInput("pmt", pmt, "out of range: the computation overflows") from None


def npv(rate: Any, values: Sequence[Any]) -> Decimal:
    """Net present value of ``values`` at ``rate``; the first is at t = 0 (as numpy-financial)."""
    with decimal.localcontext(_WORK):
        r = _rate_value(rate)
        flows = _flows(values)
        return _OUT.plus(_npv(r, flows))


def _flows(values: Sequence[Any]) -> tuple[Decimal, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise InvalidInput("values", values, "expected a non-empty sequence of amounts")
    if len(values) > CASHFLOWS_MAX:
        raise InvalidInput("values", values, f"expected at most {CASHFLOWS_MAX} flows")
    return tuple(to_decimal(v, field=f"values[{i}]") for i, v in enumerate(values))


def _npv(r: Decimal, flows: Sequence[Decimal]) -> Decimal:
    discount = _ONE / (_ONE + r)
    total, factor = _ZERO, _ONE
    for value in flows:
        total += value * factor
        factor *= discount
    return total


def solve_rate(
    f: Callable[[Decimal], Decimal],
    *,
    solver: str,
    guess: Any = Decimal("0.1"),
    low: Any = Decimal("-0.99"),
    high: Any = Decimal(10),
    tolerance: Any = TOLERANCE,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """A root of ``f`` in ``[low, high]``: secant steps from ``guess``, then bisection.

    The secant is fast where ``f`` is smooth near the root; its answer is kept only if ``f``
    changes sign within ``tolerance`` of it (a secant that creeps along a steep or flat stretch
    stops with tiny steps far from any root). Otherwise a bracketing scan and bisection take over,
    whose answer lies within ``tolerance`` of a sign change by construction. Every loop is bounded
    by ``iterations_max`` (at most :data:`ITERATIONS_LIMIT`). Raises :class:`NoSolution` when no
    sign change is found or the bound is hit, :class:`InvalidInput` when ``low >= high``, the
    guess lies outside ``[low, high]`` or the tolerance is negative.
    """
    if (
        isinstance(iterations_max, bool)
        or not isinstance(iterations_max, int)
        or not 1 <= iterations_max <= ITERATIONS_LIMIT
    ):
        raise InvalidInput(
            "iterations_max", iterations_max, f"expected an int from 1 to {ITERATIONS_LIMIT}"
        )
    tol = to_decimal(tolerance, field="tolerance")
    if tol < 0:
        raise InvalidInput("tolerance", tolerance, "must not be negative")
    bottom, top = to_decimal(low, field="low"), to_decimal(high, field="high")
    if bottom >= top:
        raise InvalidInput("low", low, f"must be below high ({high})")
    start = to_decimal(guess, field="guess")
    if not bottom <= start <= top:
        raise InvalidInput("guess", guess, f"must lie in [low, high] = [{low}, {high}]")
    with decimal.localcontext(_WORK):
        root = _secant(f, start, bottom, top, tol, iterations_max)
        if root is not None and _changes_sign_near(f, root, tol):
            return root
        try:
            return _bisect(f, solver, bottom, top, tol, iterations_max)
        except (decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow) as exc:
            # Flows so far out (thousands of periods) that discounting leaves the number range.
            raise NoSolution(
                solver, f"the discounted flows leave the number range ({type(exc).__name__})"
            ) from None


_DECIMAL_ERRORS = (decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow)


def _secant(
    f: Callable[[Decimal], Decimal],
    guess: Decimal,
    low: Decimal,
    high: Decimal,
    tolerance: Decimal,
    iterations_max: int,
) -> Decimal | None:
    """Secant steps from ``guess``; a candidate root (unverified) or None."""
    x0, x1 = guess, min(guess + Decimal("0.001"), high)
    if x1 == x0:
        x1 = x0 - Decimal("0.001")
    try:
        f0, f1 = f(x0), f(x1)
        for _ in range(iterations_max):
            if f1 == f0:
                return x1 if f1 == 0 else None
            x2: Decimal = x1 - f1 * (x1 - x0) / (f1 - f0)
            if not low <= x2 <= high:
                return None
            if abs(x2 - x1) <= tolerance:
                return x2
            x0, f0, x1, f1 = x1, f1, x2, f(x2)
    except _DECIMAL_ERRORS:
        return None
    return None


def _changes_sign_near(f: Callable[[Decimal], Decimal], x: Decimal, tolerance: Decimal) -> bool:
    """Whether ``f(x) == 0`` or ``f`` changes sign on ``[x - h, x + h]``, ``h`` being the
    tolerance (at least a unit in the 40th digit of ``x``): the proof that ``x`` is a root."""
    ulp = Decimal(1).scaleb((x.adjusted() if x else 0) - 40)
    h = max(tolerance, ulp)
    try:
        if f(x) == 0:
            return True
        before, after = f(x - h), f(x + h)
    except _DECIMAL_ERRORS:
        return False
    return before == 0 or after == 0 or (before < 0) != (after < 0)


def _bisect(
    f: Callable[[Decimal], Decimal],
    solver: str,
    low: Decimal,
    high: Decimal,
    tolerance: Decimal,
    iterations_max: int,
) -> Decimal:
    # Scan for a sign change on a coarse grid first, so a root anywhere in [low, high] is found.
    steps = 64
    width = (high - low) / steps
    a, fa = low, f(low)
    b = high
    for i in range(1, steps + 1):
        b = low + width * i
        fb = f(b)
        if fa == 0:
            return a
        if (fa < 0) != (fb < 0):
            break
        a, fa = b, fb
    else:
        raise NoSolution(solver, f"no sign change in [{low}, {high}]")
    for _ in range(iterations_max):
        mid: Decimal = (a + b) / 2
        fm = f(mid)
        if fm == 0 or (b - a) / 2 <= tolerance:
            return mid
        if (fm < 0) == (fa < 0):
            a, fa = mid, fm
        else:
            b = mid
    raise NoSolution(solver, f"did not converge within {iterations_max} iterations")


def rate(
    nper: Any,
    pmt: Any,
    pv: Any,
    fv: Any = 0,
    when: Any = "end",
    guess: Any = Decimal("0.1"),
    tol: Any = TOLERANCE,
    *,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """The periodic rate at which ``nper`` payments of ``pmt`` take ``pv`` to ``fv``."""
    with decimal.localcontext(_WORK):
        n = _nper_value(nper)
        payment, present = to_decimal(pmt, field="pmt"), to_decimal(pv, field="pv")
        future, w = to_decimal(fv, field="fv"), _when(when)

        def residual(r: Decimal) -> Decimal:
            # decimal.Overflow escapes on purpose: solve_rate reads it as "out of range here"
            # (a root at a lower rate is still found), not as the caller's bad nper.
            growth = (_ONE + r) ** n
            factor = n if r == 0 else (_ONE + r * w) * (growth - _ONE) / r
            return present * growth + payment * factor + future

        root = solve_rate(
            residual,
            solver="rate",
            guess=to_decimal(guess, field="guess"),
            tolerance=to_decimal(tol, field="tol"),
            iterations_max=iterations_max,
        )
        return _OUT.plus(root)


def irr(
    values: Sequence[Any],
    *,
    guess: Any = Decimal("0.1"),
    tol: Any = TOLERANCE,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """The periodic internal rate of return of ``values`` (the first at t = 0).

    Raises :class:`NoSolution` if the flows never change sign or no root is found in
    (-0.99, 10] per period.
    """
    with decimal.localcontext(_WORK):
        flows = _flows(values)
        if all(v >= 0 for v in flows) or all(v <= 0 for v in flows):
            raise NoSolution("irr", "the cash flows never change sign")
        root = solve_rate(
            lambda r: _npv(r, flows),
            solver="irr",
            guess=to_decimal(guess, field="guess"),
            tolerance=to_decimal(tol, field="tol"),
            iterations_max=iterations_max,
        )
        return _OUT.plus(root)


def _dated(
    cashflows: Sequence[tuple[dt.date, Any]],
) -> tuple[tuple[Fraction, ...], tuple[Decimal, ...]]:
    is_sequence = isinstance(cashflows, Sequence) and not isinstance(cashflows, (str, bytes))
    if not is_sequence or not 2 <= len(cashflows) <= CASHFLOWS_MAX:
        raise InvalidInput(
            "cashflows", cashflows, f"expected 2 to {CASHFLOWS_MAX} (date, amount) pairs"
        )
    days: list[int] = []
    amounts: list[Decimal] = []
    first: dt.date | None = None
    for i, pair in enumerate(cashflows):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"cashflows[{i}]", pair, "expected a (datetime.date, amount) pair")
        day = require_date(f"cashflows[{i}].date", pair[0])
        first = day if first is None else first
        if day < first:
            raise InvalidInput(f"cashflows[{i}]", pair, f"is before the first date {first}")
        days.append((day - first).days)
        amounts.append(to_decimal(pair[1], field=f"cashflows[{i}].amount"))
    return tuple(Fraction(d, 365) for d in days), tuple(amounts)


def discount_factors(rate: Decimal, times: Sequence[Fraction]) -> list[Decimal]:
    """``(1 + rate)^-t`` for each exact time ``t`` (a ``Fraction`` of periods, ``t >= 0``).

    Each distinct denominator ``q`` costs one root ``(1 + rate)^(-1/q)``; every factor is then
    that root to an integer power (a few multiplications), instead of a fractional power per
    flow (an ``exp`` and ``ln`` each): ``xirr`` over 2,400 dated flows runs about ten times
    faster. Computed in the caller's context (loancore's solvers call it in their own); the
    error grows with the power but stays near the 45th significant digit at 50 digits.
    """
    roots: dict[int, Decimal] = {}
    base = _ONE + rate
    factors = []
    for t in times:  # bounded by the caller's flows (CASHFLOWS_MAX)
        root = roots.get(t.denominator)
        if root is None:
            root = roots[t.denominator] = (-base.ln() / t.denominator).exp()
        factors.append(root**t.numerator)
    return factors


def _xnpv(r: Decimal, years: Sequence[Fraction], amounts: Sequence[Decimal]) -> Decimal:
    factors = discount_factors(r, years)
    return sum((a * f for a, f in zip(amounts, factors, strict=True)), _ZERO)


def xnpv(rate: Any, cashflows: Sequence[tuple[dt.date, Any]]) -> Decimal:
    """Net present value of dated flows at annual ``rate``, ACT/365 from the first date."""
    with decimal.localcontext(_WORK):
        years, amounts = _dated(cashflows)
        try:
            return _OUT.plus(_xnpv(_rate_value(rate), years, amounts))
        except (decimal.Overflow, decimal.DivisionByZero):
            raise InvalidInput("rate", rate, "out of range: discounting overflows") from None


def xirr(
    cashflows: Sequence[tuple[dt.date, Any]],
    *,
    guess: Any = Decimal("0.1"),
    tol: Any = TOLERANCE,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """The annual rate ``x`` with ``sum(a_i / (1+x)^((d_i - d_1)/365)) == 0``, as XIRR computes it.

    The first pair's date is the origin; no later pair may be dated before it (as in the
    spreadsheet function). Raises :class:`NoSolution` if the amounts never change sign.
    """
    with decimal.localcontext(_WORK):
        years, amounts = _dated(cashflows)
        if all(a >= 0 for a in amounts) or all(a <= 0 for a in amounts):
            raise NoSolution("xirr", "the cash flows never change sign")
        root = solve_rate(
            lambda r: _xnpv(r, years, amounts),
            solver="xirr",
            guess=to_decimal(guess, field="guess"),
            tolerance=to_decimal(tol, field="tol"),
            iterations_max=iterations_max,
        )
        return _OUT.plus(root)
