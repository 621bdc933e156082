"""Hypothesis strategies for money: ``moneys()``, ``currencies()``, ``ratio_lists()``.

Usable in an application's own property tests::

    from hypothesis import given
    from loancore.testing.strategies import moneys

    @given(moneys(currency="CNY", min_value=0))
    def test_fee_never_negative(amount): ...
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from loancore.money import CURRENCY_MINOR_UNITS, Money

__all__ = [
    "amounts",
    "assert_context_independent",
    "currencies",
    "hostile_decimal_contexts",
    "moneys",
    "ratio_lists",
]

# A spread of scales: 0 (JPY), 2 (CNY, USD, EUR), 3 (KWD), 4 (CLF).
COMMON_CURRENCIES = ("CNY", "USD", "EUR", "JPY", "KWD", "CLF")


def currencies(*, common_only: bool = True) -> st.SearchStrategy[str]:
    """ISO 4217 codes; by default a few that cover every minor-unit scale."""
    if common_only:
        return st.sampled_from(COMMON_CURRENCIES)
    return st.sampled_from(sorted(CURRENCY_MINOR_UNITS))


def amounts(
    currency: str, *, min_value: int | Decimal | None = None, max_value: int | Decimal = 10**9
) -> st.SearchStrategy[Decimal]:
    """Decimals at ``currency``'s scale between ``min_value`` and ``max_value`` (major units)."""
    scale = CURRENCY_MINOR_UNITS[currency]
    low = (
        -int(Decimal(max_value).scaleb(scale))
        if min_value is None
        else int(Decimal(min_value).scaleb(scale))
    )
    high = int(Decimal(max_value).scaleb(scale))
    return st.integers(min_value=low, max_value=high).map(
        lambda units: Decimal(units).scaleb(-scale)
    )


@st.composite
def moneys(
    draw: st.DrawFn,
    *,
    currency: str | None = None,
    min_value: int | Decimal | None = None,
    max_value: int | Decimal = 10**9,
) -> Money:
    """:class:`~loancore.money.Money` values; a random common currency unless one is given."""
    code = currency if currency is not None else draw(currencies())
    return Money(draw(amounts(code, min_value=min_value, max_value=max_value)), code)


def ratio_lists(*, size_max: int = 6) -> st.SearchStrategy[list[Decimal]]:
    """Non-empty lists of non-negative ratios with a positive sum (shares, splits)."""
    ratio = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
    return st.lists(ratio, min_size=1, max_size=size_max).filter(lambda rs: sum(rs) > 0)


def hostile_decimal_contexts() -> tuple[decimal.Context, ...]:
    """Decimal contexts a caller may have set globally: a low precision, every trap (including
    ``Inexact`` and ``Rounded``), another rounding. loancore's results must not depend on them."""
    every_trap = [
        decimal.Inexact,
        decimal.Rounded,
        decimal.FloatOperation,
        decimal.Subnormal,
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ]
    return (
        decimal.Context(prec=6),
        decimal.Context(traps=every_trap),
        decimal.Context(prec=9, rounding=decimal.ROUND_FLOOR, traps=[decimal.Inexact]),
    )


def assert_context_independent(compute: Callable[[], Any]) -> Any:
    """Run ``compute`` in a default context and in each hostile one; the results must be equal.

    Returns the default-context result. Raises ``AssertionError`` naming the context that
    changed (or broke) the result.
    """
    with decimal.localcontext(decimal.Context()):
        expected = compute()
    for context in hostile_decimal_contexts():
        with decimal.localcontext(context):
            try:
                got = compute()
            except Exception as exc:  # the point is to report which context broke it
                raise AssertionError(f"raised {exc!r} under {context}") from exc
        assert got == expected, f"{got!r} != {expected!r} under {context}"
    return expected
