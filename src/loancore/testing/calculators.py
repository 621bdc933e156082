"""Hypothesis strategies for the calculators: ``loan_terms()``, ``cashflows()``, ``annual_rates()``.

Usable in an application's own property tests::

    from hypothesis import given
    from loancore.testing.calculators import loan_terms
    from loancore.amortization import amortize

    @given(loan_terms(methods=["equal_installment"]))
    def test_schedule_repays_principal(terms):
        assert amortize(terms).total_principal == terms.principal
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from loancore.amortization import LoanTerms, Method
from loancore.dates import Frequency
from loancore.money import Rounding

__all__ = ["annual_rates", "cashflows", "loan_terms", "principals", "start_dates"]

_ROUNDINGS = (Rounding.HALF_UP, Rounding.HALF_EVEN, Rounding.DOWN, Rounding.UP)


def principals(
    *, min_minor: int = 100, max_minor: int = 10**10, scale: int = 2
) -> st.SearchStrategy[Decimal]:
    """Loan principals at a currency scale (default 1.00 .. 100,000,000.00)."""
    return st.integers(min_minor, max_minor).map(lambda m: Decimal(m).scaleb(-scale))


def annual_rates(*, max_bp: int = 3600) -> st.SearchStrategy[Decimal]:
    """Annual rates as fractions, whole basis points from 0 to ``max_bp`` (36% by default)."""
    return st.integers(0, max_bp).map(lambda bp: Decimal(bp).scaleb(-4))


def start_dates() -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31))


@st.composite
def loan_terms(
    draw: st.DrawFn,
    *,
    methods: Sequence[Method | str] = tuple(Method),
    currency: str = "CNY",
    installments_max: int = 60,
    frequencies: Sequence[Frequency] = (Frequency.MONTHLY, Frequency.WEEKLY, Frequency.QUARTERLY),
    options: bool = True,
    rate_bp_max: int = 3600,
    first_period_days_max: int = 60,
) -> LoanTerms:
    """Valid :class:`LoanTerms`; with ``options``, also fees, grace, free and odd periods.

    ``rate_bp_max`` bounds the annual rate in basis points (up to 99,999: 999.99%), and
    ``first_period_days_max`` the length of an odd first period, so tests can reach the corners
    (a rate whose interest exceeds the level installment, a first period of a year or more).
    """
    method = Method(draw(st.sampled_from(list(methods))))
    installments = draw(st.integers(1, installments_max))
    start = draw(start_dates())
    extra: dict[str, Any] = {}
    if options and draw(st.booleans()):
        if method is not Method.BULLET and installments > 1:
            extra["grace_periods"] = draw(st.integers(0, installments - 1))
        extra["interest_free_periods"] = draw(st.integers(0, installments))
        extra["fee_timing"] = draw(st.sampled_from(["per_installment", "upfront"]))
        # Up front, all the periods' fees together must stay below the principal.
        upfront = extra["fee_timing"] == "upfront"
        fee_bp_max = min(200, 9999 // installments) if upfront else 200
        extra["fee_rate_per_period"] = Decimal(draw(st.integers(0, fee_bp_max))).scaleb(-4)
        if draw(st.booleans()):
            days = draw(st.integers(1, first_period_days_max))
            extra["first_due_date"] = start + dt.timedelta(days=days)
        if draw(st.booleans()):
            extra["interest_basis"] = "daily"
            extra["day_count"] = draw(st.sampled_from(["ACT/360", "ACT/365F", "30/360 US"]))
    rate = (
        Decimal(0) if method is Method.FEE_INSTALLMENT else draw(annual_rates(max_bp=rate_bp_max))
    )
    if method is Method.FEE_INSTALLMENT and "fee_rate_per_period" not in extra:
        extra["fee_rate_per_period"] = Decimal(draw(st.integers(0, 200))).scaleb(-4)
    return LoanTerms(
        # At least one minor unit per installment (LoanTerms refuses less).
        principal=draw(principals(min_minor=max(100, installments), max_minor=10**9)),
        currency=currency,
        annual_rate=rate,
        installments=installments,
        method=method,
        start_date=start,
        rounding=draw(st.sampled_from(_ROUNDINGS)),
        frequency=draw(st.sampled_from(list(frequencies))),
        **extra,
    )


@st.composite
def cashflows(
    draw: st.DrawFn,
    *,
    count_max: int = 24,
    scale: int = 2,
) -> list[tuple[dt.date, Decimal]]:
    """Dated flows for XIRR / APR: one negative advance first, then positive repayments."""
    start = draw(start_dates())
    advance = draw(st.integers(10_000, 10**9))
    count = draw(st.integers(1, count_max))
    gaps = draw(st.lists(st.integers(1, 120), min_size=count, max_size=count))
    amounts = draw(st.lists(st.integers(1, advance), min_size=count, max_size=count))
    flows = [(start, -Decimal(advance).scaleb(-scale))]
    day = start
    for gap, amount in zip(gaps, amounts, strict=True):
        day = day + dt.timedelta(days=gap)
        flows.append((day, Decimal(amount).scaleb(-scale)))
    return flows
