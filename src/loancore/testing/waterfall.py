"""Hypothesis strategies for the allocation waterfall (needs hypothesis).

``outstanding_items()`` draws what a loan owes (installments with monthly due dates, each with
some of the five components); ``waterfall_payments(items)`` a payment against them, dated around
their due dates; ``allocation_rules()`` and ``waterfall_policies()`` valid rules and policies,
presets included. Usable in an application's own property tests::

    from hypothesis import given, strategies as st
    from loancore.testing.waterfall import outstanding_items, waterfall_payments
    from loancore.waterfall import CHINA_CONSUMER_FINANCE, allocate

    @given(st.data())
    def test_my_ledger_books_every_allocation(data):
        items = data.draw(outstanding_items())
        payment = data.draw(waterfall_payments(items))
        book(allocate(items, payment, CHINA_CONSUMER_FINANCE))
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from hypothesis import strategies as st

from loancore.dates import due_dates
from loancore.money import CURRENCY_MINOR_UNITS, Money
from loancore.waterfall import (
    PRESETS,
    AllocationRule,
    Component,
    DueState,
    OutstandingItem,
    OverflowRule,
    Override,
    Payment,
    Policy,
    Processing,
    Step,
    TransactionType,
)

__all__ = [
    "allocation_rules",
    "outstanding_items",
    "waterfall_payments",
    "waterfall_policies",
]

_START = datetime.date(2026, 1, 15)


@st.composite
def outstanding_items(
    draw: st.DrawFn,
    *,
    currency: str = "CNY",
    installments_max: int = 12,
    amount_max_minor: int = 500_000,
) -> tuple[OutstandingItem, ...]:
    """What a loan owes: 1..``installments_max`` installments due monthly from a drawn start (due
    dates from the anchor, never stepped), each with a non-empty subset of the components and
    amounts of 0..``amount_max_minor`` minor units (zero is rare), in a shuffled order."""
    count = draw(st.integers(min_value=1, max_value=installments_max))
    start = _START + datetime.timedelta(days=draw(st.integers(min_value=0, max_value=60)))
    amounts = st.one_of(
        st.integers(min_value=1, max_value=amount_max_minor),
        st.just(0),
        st.sampled_from([1, 100, 10_000]).filter(lambda v: v <= amount_max_minor),
    )
    items = []
    for number, due in enumerate(due_dates(start, count, "monthly"), start=1):
        components = draw(st.sets(st.sampled_from(list(Component)), min_size=1))
        for component in sorted(components, key=list(Component).index):
            units = draw(amounts)
            items.append(OutstandingItem(number, due, component, Money.from_minor(units, currency)))
    return tuple(draw(st.permutations(items)))


@st.composite
def waterfall_payments(
    draw: st.DrawFn,
    items: Sequence[OutstandingItem],
    *,
    transaction_types: Sequence[TransactionType] = tuple(TransactionType),
) -> Payment:
    """A payment against ``items``: from zero to a little more than all they owe (so overflow
    and leftovers happen), dated from before the first due date to after the last."""
    currency = items[0].outstanding.currency if items else "CNY"
    owed = sum(item.outstanding.minor_units for item in items)
    scale = 10 ** CURRENCY_MINOR_UNITS[currency]
    units = draw(
        st.one_of(
            st.integers(min_value=0, max_value=owed + 2 * scale),
            st.just(owed),
            st.integers(min_value=0, max_value=max(owed // 3, 1)),
        )
    )
    days = [item.due_date for item in items] or [_START]
    as_of = draw(
        st.one_of(
            st.sampled_from(days),
            st.dates(
                min_value=min(days) - datetime.timedelta(days=40),
                max_value=max(days) + datetime.timedelta(days=40),
            ),
        )
    )
    kind = draw(st.sampled_from(list(transaction_types)))
    return Payment(Money.from_minor(units, currency), kind, as_of)


@st.composite
def allocation_rules(draw: st.DrawFn) -> AllocationRule:
    """Valid rules: some (past due / due) steps in any order, then, when the overflow rule pays
    in advance, some not-yet-due steps; either processing mode."""
    due_pairs = [Step(s, c) for s in (DueState.PAST_DUE, DueState.DUE) for c in Component]
    advance_pairs = [Step(DueState.NOT_YET_DUE, c) for c in Component]
    overflow = draw(st.sampled_from(list(OverflowRule)))
    pays_in_advance = overflow in (OverflowRule.NEXT_INSTALLMENTS, OverflowRule.LAST_INSTALLMENTS)
    due_steps = draw(st.lists(st.sampled_from(due_pairs), unique=True, max_size=len(due_pairs)))
    advance_steps: list[Step] = []
    if pays_in_advance:
        advance_steps = draw(
            st.lists(st.sampled_from(advance_pairs), unique=True, min_size=1, max_size=5)
        )
    elif not due_steps:
        due_steps = [draw(st.sampled_from(due_pairs))]
    processing = draw(st.sampled_from(list(Processing)))
    return AllocationRule(tuple(due_steps + advance_steps), processing, overflow)


@st.composite
def waterfall_policies(draw: st.DrawFn, *, presets: bool = True) -> Policy:
    """A preset (when ``presets``) or a random policy: a default rule and overrides for a random
    subset of transaction types."""
    if presets and draw(st.booleans()):
        return draw(st.sampled_from(list(PRESETS.values())))
    types = draw(st.lists(st.sampled_from(list(TransactionType)), unique=True, max_size=3))
    overrides = tuple(Override(kind, draw(allocation_rules())) for kind in types)
    return Policy("random", draw(allocation_rules()), overrides)
