"""The allocation waterfall: conservation, ordering, determinism, refusals, presets and the docs.

The generated tables of docs/waterfall.md come from this module: ``python tests/test_waterfall.py``
rewrites them, and ``test_docs_tables_match_the_code`` fails when the page and the code differ.
"""

from __future__ import annotations

import datetime
import json
import random
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.dates import due_dates
from loancore.errors import InvalidInput, InvariantViolation
from loancore.money import Money
from loancore.testing.money import assert_context_independent
from loancore.testing.waterfall import (
    allocation_rules,
    outstanding_items,
    waterfall_payments,
    waterfall_policies,
)
from loancore.waterfall import (
    CHINA_CONSUMER_FINANCE,
    CIVIL_CODE_561,
    FINERACT_ADVANCED,
    FINERACT_EARLY_REPAYMENT,
    FINERACT_HEAVENSFAMILY,
    ITEMS_MAX,
    PRESETS,
    Allocation,
    AllocationLine,
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
    allocate,
    due_state,
    steps,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "waterfall.md"
FINERACT_CASES = json.loads(
    (Path(__file__).parent / "data" / "waterfall_fineract_processor_tests.json").read_text("utf-8")
)
CASH_TYPES = [t for t in TransactionType if t is not TransactionType.WAIVER]
PD, D, NYD = DueState.PAST_DUE, DueState.DUE, DueState.NOT_YET_DUE
PEN, COMP, FEE, INT, PRI = (
    Component.PENALTY,
    Component.COMPOUND,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


# -- an independent reading of the definitions, for the properties ------------------------------


def states_of(
    items: Sequence[OutstandingItem], as_of: datetime.date, grace_days: int = 0
) -> dict[int, DueState]:
    return {i.installment: due_state(i.due_date, as_of, grace_days=grace_days) for i in items}


def remaining_after(
    items: Sequence[OutstandingItem], allocation: Allocation
) -> dict[tuple[int, Component], int]:
    left = {(i.installment, i.component): i.outstanding.minor_units for i in items}
    for line in allocation.lines:
        left[(line.installment, line.component)] -= line.amount.minor_units
    return left


def installment_order(
    items: Sequence[OutstandingItem], states: dict[int, DueState], rule: AllocationRule
) -> list[int]:
    """What is due oldest first, then not-yet-due installments in the overflow rule's order."""
    dates = {i.installment: i.due_date for i in items}
    oldest_first = sorted(dates, key=lambda n: (dates[n], n))
    due = [n for n in oldest_first if states[n] is not NYD]
    future = [n for n in oldest_first if states[n] is NYD]
    if rule.overflow is OverflowRule.LAST_INSTALLMENTS:
        future.reverse()
    return due + future


def allowed(rule: AllocationRule, state: DueState) -> list[Component]:
    return [s.component for s in rule.steps if s.state is state]


def draw_case(
    data: st.DataObject, types: Sequence[TransactionType] = CASH_TYPES
) -> tuple[tuple[OutstandingItem, ...], Payment, Policy, int]:
    items = data.draw(outstanding_items(), label="items")
    payment = data.draw(waterfall_payments(items, transaction_types=types), label="payment")
    policy = data.draw(waterfall_policies(), label="policy")
    grace_days = data.draw(st.sampled_from([0, 0, 3, 15]), label="grace_days")
    return items, payment, policy, grace_days


# -- conservation -------------------------------------------------------------------------------


@given(st.data())
def test_allocation_conserves_payment(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    allocation = allocate(items, payment, policy, grace_days=grace)
    total = sum(line.amount.minor_units for line in allocation.lines)
    assert total + allocation.leftover.minor_units == payment.amount.minor_units
    assert allocation.allocated + allocation.leftover == payment.amount
    zero = Money.zero(payment.amount.currency)
    assert sum(allocation.totals().values(), zero) == allocation.allocated
    assert all(line.amount.is_positive() for line in allocation.lines)


@given(st.data())
def test_no_item_is_overpaid(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    allocation = allocate(items, payment, policy, grace_days=grace)
    assert min(remaining_after(items, allocation).values()) >= 0
    paid = [(line.installment, line.component) for line in allocation.lines]
    assert len(paid) == len(set(paid))  # one line per item


@given(st.data())
def test_lines_follow_the_rule_for_the_installment_state(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    allocation = allocate(items, payment, policy, grace_days=grace)
    rule = policy.rule_for(payment.transaction_type)
    states = states_of(items, payment.as_of, grace)
    for line in allocation.lines:
        assert line.state is states[line.installment]
        assert Step(line.state, line.component) in rule.steps


@given(st.data())
def test_leftover_only_once_everything_the_rule_may_pay_is_paid(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    allocation = allocate(items, payment, policy, grace_days=grace)
    rule = policy.rule_for(payment.transaction_type)
    states = states_of(items, payment.as_of, grace)
    left = remaining_after(items, allocation)
    due_payable = sum(
        i.outstanding.minor_units
        for i in items
        if states[i.installment] is not NYD and i.component in allowed(rule, states[i.installment])
    )
    assert (allocation.overflow is None) == (payment.amount.minor_units <= due_payable)
    if allocation.overflow in (OverflowRule.REAMORTIZE, OverflowRule.CREDIT):
        assert allocation.leftover.minor_units == payment.amount.minor_units - due_payable
    if allocation.leftover.is_positive():
        assert allocation.overflow is rule.overflow
        for (number, component), units in left.items():
            state = states[number]
            in_scope = state is not NYD or rule.overflow in (
                OverflowRule.NEXT_INSTALLMENTS,
                OverflowRule.LAST_INSTALLMENTS,
            )
            if in_scope and component in allowed(rule, state):
                assert units == 0, (number, component)


# -- ordering -------------------------------------------------------------------------------------


@given(st.data())
def test_horizontal_never_pays_installment_k_plus_1_while_k_owes_what_the_rule_allows(
    data: st.DataObject,
) -> None:
    items, payment, policy, grace = draw_case(data)
    rule = policy.rule_for(payment.transaction_type)
    if rule.processing is not Processing.HORIZONTAL:
        rule = attrs.evolve(rule, processing=Processing.HORIZONTAL)
        policy = Policy("horizontal", rule)
    allocation = allocate(items, payment, policy, grace_days=grace)
    states = states_of(items, payment.as_of, grace)
    left = remaining_after(items, allocation)
    order = installment_order(items, states, rule)
    for line in allocation.lines:
        for earlier in order[: order.index(line.installment)]:
            for component in allowed(rule, states[earlier]):
                assert left.get((earlier, component), 0) == 0, (line, earlier, component)
        inside = allowed(rule, line.state)
        for component in inside[: inside.index(line.component)]:
            assert left.get((line.installment, component), 0) == 0, (line, component)


@given(st.data())
def test_vertical_never_pays_a_step_while_an_earlier_step_is_unpaid(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    rule = policy.rule_for(payment.transaction_type)
    if rule.processing is not Processing.VERTICAL:
        rule = attrs.evolve(rule, processing=Processing.VERTICAL)
        policy = Policy("vertical", rule)
    allocation = allocate(items, payment, policy, grace_days=grace)
    states = states_of(items, payment.as_of, grace)
    left = remaining_after(items, allocation)
    order = installment_order(items, states, rule)
    for line in allocation.lines:
        step_index = rule.steps.index(Step(line.state, line.component))
        for earlier in rule.steps[:step_index]:
            for number in order:
                if states[number] is earlier.state:
                    assert left.get((number, earlier.component), 0) == 0, (line, earlier)
        for number in order[: order.index(line.installment)]:
            if states[number] is line.state:
                assert left.get((number, line.component), 0) == 0, (line, number)


@given(st.data())
def test_allocation_is_deterministic_and_independent_of_item_order(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    first = allocate(items, payment, policy, grace_days=grace)
    shuffled = data.draw(st.permutations(items), label="shuffled")
    assert allocate(tuple(shuffled), payment, policy, grace_days=grace) == first
    assert allocate(list(reversed(items)), payment, policy, grace_days=grace) == first


@given(st.data())
def test_allocation_is_independent_of_the_callers_decimal_context(data: st.DataObject) -> None:
    items, payment, policy, grace = draw_case(data)
    big = [attrs.evolve(i, outstanding=Money(i.outstanding.amount * 10**20, "CNY")) for i in items]
    large = attrs.evolve(payment, amount=Money(payment.amount.amount * 10**20, "CNY"))
    assert_context_independent(lambda: allocate(items, payment, policy, grace_days=grace))
    assert_context_independent(lambda: allocate(big, large, policy, grace_days=grace))


# -- waivers ----------------------------------------------------------------------------------


@given(st.data())
def test_waiver_moves_no_cash_and_is_refused_beyond_what_its_rule_may_waive(
    data: st.DataObject,
) -> None:
    items = data.draw(outstanding_items(), label="items")
    payment = data.draw(waterfall_payments(items, transaction_types=[TransactionType.WAIVER]))
    rule = data.draw(allocation_rules(), label="rule")
    policy = Policy("one-rule", rule)
    as_repayment = allocate(
        items, attrs.evolve(payment, transaction_type=TransactionType.REPAYMENT), policy
    )
    if as_repayment.leftover.is_positive():
        with pytest.raises(InvalidInput) as refused:
            allocate(items, payment, policy)
        assert refused.value.field == "payment.amount"
        return
    waiver = allocate(items, payment, policy)
    assert waiver.cash is False and as_repayment.cash is True
    assert waiver.lines == as_repayment.lines


def test_override_applies_to_its_transaction_type_only() -> None:
    items = example_items()
    as_of = datetime.date(2026, 3, 1)
    prepay = allocate(
        items, Payment(cny("2500.00"), TransactionType.PREPAYMENT, as_of), CHINA_CONSUMER_FINANCE
    )
    repay = allocate(
        items, Payment(cny("2500.00"), TransactionType.REPAYMENT, as_of), CHINA_CONSUMER_FINANCE
    )
    assert prepay.overflow is OverflowRule.REAMORTIZE and prepay.leftover == cny("177.30")
    assert repay.overflow is OverflowRule.NEXT_INSTALLMENTS and repay.leftover == cny("0.00")
    refund = allocate(
        items, Payment(cny("5000.00"), TransactionType.REFUND, as_of), FINERACT_ADVANCED
    )
    in_advance = [line.installment for line in refund.lines if line.state is NYD]
    assert in_advance[0] == 12 and in_advance == sorted(in_advance, reverse=True)


# -- the presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_policies(name: str) -> None:
    preset = PRESETS[name]
    assert preset.name == name and preset.source
    rebuilt = attrs.evolve(  # evolve re-runs every validator
        preset,
        rule=attrs.evolve(preset.rule),
        overrides=tuple(attrs.evolve(o, rule=attrs.evolve(o.rule)) for o in preset.overrides),
    )
    assert rebuilt == preset
    for kind in TransactionType:
        assert isinstance(preset.rule_for(kind), AllocationRule)


def test_fineract_orders_as_verified_in_its_processors() -> None:
    """Orders read from Apache Fineract's transaction processors (see docs/waterfall.md)."""

    def order(policy: Policy, state: DueState) -> list[Component]:
        return [c for c in allowed(policy.rule, state) if c is not COMP]

    assert order(PRESETS["fineract/mifos-standard-strategy"], PD) == [PEN, FEE, INT, PRI]
    assert order(FINERACT_HEAVENSFAMILY, D) == [PRI, INT, FEE, PEN]
    assert order(FINERACT_EARLY_REPAYMENT, PD) == [INT, PRI, PEN, FEE]
    assert order(FINERACT_EARLY_REPAYMENT, NYD) == [PRI]
    assert order(CIVIL_CODE_561, PD) == [FEE, PEN, INT, PRI]
    assert CIVIL_CODE_561.rule.processing is Processing.VERTICAL


@pytest.mark.parametrize(
    "case",
    FINERACT_CASES["cases"],
    ids=[f"{c['policy'][9:24]}-{c['test']}" for c in FINERACT_CASES["cases"]],
)
def test_fineract_processor_test_cases_are_reproduced(case: dict[str, object]) -> None:
    """Apache Fineract's own unit tests of two strategies (tests/data, source named there)."""
    currency = FINERACT_CASES["currency"]
    due = datetime.date.fromisoformat(str(case["due_date"]))
    outstanding = case["outstanding"]
    assert isinstance(outstanding, dict)
    items = [OutstandingItem(1, due, k, Money(v, currency)) for k, v in outstanding.items()]
    as_of = datetime.date.fromisoformat(str(case["as_of"]))
    payment = Payment(Money(str(case["payment"]), currency), TransactionType.REPAYMENT, as_of)
    allocation = allocate(items, payment, PRESETS[str(case["policy"])])
    paid = case["paid"]
    assert isinstance(paid, dict)
    totals = allocation.totals()
    assert {k: totals[Component(k)] for k in paid} == {
        k: Money(v, currency) for k, v in paid.items()
    }


# -- refusals -------------------------------------------------------------------------------------


def one_item(**changes: object) -> OutstandingItem:
    values: dict[str, object] = {
        "installment": 1,
        "due_date": datetime.date(2026, 1, 15),
        "component": PRI,
        "outstanding": cny("100.00"),
    }
    values.update(changes)
    return OutstandingItem(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"outstanding": cny("-1.00")}, "item.outstanding"),
        ({"outstanding": Decimal("1.00")}, "item.outstanding"),
        ({"component": "late_fee"}, "component"),
        ({"installment": 0}, "item.installment"),
        ({"installment": True}, "item.installment"),
        ({"due_date": datetime.datetime(2026, 1, 15, 9, 0)}, "item.due_date"),
        ({"due_date": "2026-01-15"}, "item.due_date"),
    ],
)
def test_bad_item_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        one_item(**changes)
    assert refused.value.field == field


def test_off_scale_amount_is_refused_before_it_reaches_the_waterfall() -> None:
    with pytest.raises(InvalidInput):
        one_item(outstanding=cny("1.001"))


def refusal(items: Sequence[object], payment: object, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        allocate(items, payment, CHINA_CONSUMER_FINANCE, **kwargs)  # type: ignore[arg-type]
    return refused.value


PAY = Payment(cny("10.00"), TransactionType.REPAYMENT, datetime.date(2026, 2, 1))


def test_mixed_currencies_are_refused() -> None:
    error = refusal([one_item(outstanding=Money("1.00", "USD"))], PAY)
    assert error.field == "items[0].outstanding"


def test_duplicate_items_are_refused() -> None:
    error = refusal([one_item(), one_item(outstanding=cny("5.00"))], PAY)
    assert error.field == "items[1]" and "duplicate" in str(error)


def test_one_installment_with_two_due_dates_is_refused() -> None:
    error = refusal([one_item(), one_item(component=INT, due_date=datetime.date(2026, 1, 16))], PAY)
    assert error.field == "items[1].due_date"


def test_more_items_than_the_bound_are_refused() -> None:
    day = datetime.date(2026, 1, 15)
    items = [OutstandingItem(n, day, PRI, cny("1.00")) for n in range(1, ITEMS_MAX + 2)]
    assert refusal(items, PAY).field == "items"
    assert allocate(items[:ITEMS_MAX], PAY, CHINA_CONSUMER_FINANCE).leftover == cny("0.00")


@pytest.mark.parametrize(
    ("items", "payment", "kwargs", "field"),
    [
        ("not items", PAY, {}, "items"),
        ([object()], PAY, {}, "items[0]"),
        ([], "10.00", {}, "payment"),
        ([], PAY, {"grace_days": -1}, "grace_days"),
        ([], PAY, {"grace_days": 367}, "grace_days"),
    ],
)
def test_bad_arguments_are_refused(
    items: object, payment: object, kwargs: dict[str, object], field: str
) -> None:
    assert refusal(items, payment, **kwargs).field == field  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "kind", "field"),
    [
        (cny("-0.01"), TransactionType.REPAYMENT, "payment.amount"),
        (cny("1.00"), "gift", "transaction_type"),
    ],
)
def test_bad_payment_is_refused(amount: Money, kind: object, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Payment(amount, kind, datetime.date(2026, 1, 1))  # type: ignore[arg-type]
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("rule_steps", "overflow", "reason"),
    [
        ((), OverflowRule.CREDIT, "at least one step"),
        ((Step(PD, PRI), Step(PD, PRI)), OverflowRule.CREDIT, "twice"),
        ((Step(NYD, PRI), Step(PD, PRI)), OverflowRule.NEXT_INSTALLMENTS, "after all"),
        ((Step(PD, PRI),), OverflowRule.NEXT_INSTALLMENTS, "no not_yet_due step"),
        ((Step(PD, PRI), Step(NYD, PRI)), OverflowRule.CREDIT, "pays nothing in advance"),
    ],
)
def test_invalid_rule_is_refused(
    rule_steps: tuple[Step, ...], overflow: OverflowRule, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        AllocationRule(rule_steps, Processing.HORIZONTAL, overflow)


def test_policy_overriding_a_type_twice_is_refused() -> None:
    rule = CHINA_CONSUMER_FINANCE.rule
    twice = (Override("refund", rule), Override(TransactionType.REFUND, rule))
    with pytest.raises(InvalidInput) as refused:
        Policy("p", rule, twice)
    assert refused.value.field == "policy.overrides[1]"


def test_allocation_that_does_not_conserve_the_payment_is_an_invariant_violation() -> None:
    line = AllocationLine(1, PRI, PD, cny("6.00"))
    with pytest.raises(InvariantViolation):
        Allocation(PAY, "p", (line,), cny("5.00"), None)


# -- due states ---------------------------------------------------------------------------------


def test_due_state_boundaries_with_grace_days() -> None:
    due = datetime.date(2026, 1, 31)
    assert due_state(due, datetime.date(2026, 1, 30), grace_days=3) is NYD
    assert due_state(due, due, grace_days=0) is D
    assert due_state(due, datetime.date(2026, 2, 1), grace_days=0) is PD
    assert due_state(due, datetime.date(2026, 2, 3), grace_days=3) is D
    assert due_state(due, datetime.date(2026, 2, 4), grace_days=3) is PD


def test_grace_days_keep_an_installment_due_for_the_rule() -> None:
    items = [
        one_item(component=PEN, outstanding=cny("5.00")),
        one_item(component=PRI, outstanding=cny("100.00")),
    ]
    only_due = Policy(
        "due-only", AllocationRule((Step(D, PRI), Step(D, PEN)), Processing.HORIZONTAL, "credit")
    )
    pay = Payment(cny("10.00"), TransactionType.REPAYMENT, datetime.date(2026, 1, 18))
    assert allocate(items, pay, only_due, grace_days=2).lines == ()
    in_grace = allocate(items, pay, only_due, grace_days=3)
    assert [line.component for line in in_grace.lines] == [PRI]


# -- the worked example and the docs ----------------------------------------------------------


EXAMPLE_AS_OF = datetime.date(2026, 3, 1)
EXAMPLE_PAYMENT = Payment(cny("2500.00"), TransactionType.REPAYMENT, EXAMPLE_AS_OF)


def example_items() -> tuple[OutstandingItem, ...]:
    """12,000.00 CNY in 12 installments from 2025-12-15: principal 1,000.00 each, interest 1% a
    month on the opening balance, a 20.00 service fee each; installments 1-2 past due on
    2026-03-01 with penalty interest and compound interest, installment 3 not yet due."""
    items = []
    for number, due in enumerate(due_dates(datetime.date(2025, 12, 15), 12, "monthly"), 1):
        interest = Money.from_minor((12 - number + 1) * 1_000, "CNY")
        for component, amount in ((PRI, cny("1000.00")), (INT, interest), (FEE, cny("20.00"))):
            items.append(OutstandingItem(number, due, component, amount))
    first, second = datetime.date(2026, 1, 15), datetime.date(2026, 2, 15)
    items += [
        OutstandingItem(1, first, PEN, cny("35.00")),
        OutstandingItem(1, first, COMP, cny("1.80")),
        OutstandingItem(2, second, PEN, cny("15.50")),
        OutstandingItem(2, second, COMP, cny("0.40")),
    ]
    return tuple(items)


def test_worked_example_china_consumer_finance() -> None:
    allocation = allocate(example_items(), EXAMPLE_PAYMENT, CHINA_CONSUMER_FINANCE)
    assert [
        (ln.installment, ln.component.value, str(ln.amount.amount)) for ln in allocation.lines
    ] == [
        (1, "penalty", "35.00"),
        (1, "compound", "1.80"),
        (1, "fee", "20.00"),
        (1, "interest", "120.00"),
        (1, "principal", "1000.00"),
        (2, "penalty", "15.50"),
        (2, "compound", "0.40"),
        (2, "fee", "20.00"),
        (2, "interest", "110.00"),
        (2, "principal", "1000.00"),
        (3, "fee", "20.00"),
        (3, "interest", "100.00"),
        (3, "principal", "57.30"),
    ]
    assert allocation.overflow is OverflowRule.NEXT_INSTALLMENTS


def test_worked_example_civil_code_pays_costs_then_interest_then_principal_and_keeps_credit() -> (
    None
):
    allocation = allocate(example_items(), EXAMPLE_PAYMENT, CIVIL_CODE_561)
    components = [line.component for line in allocation.lines]
    assert components == [FEE, FEE, PEN, PEN, COMP, COMP, INT, INT, PRI, PRI]
    assert allocation.leftover == cny("177.30") and allocation.overflow is OverflowRule.CREDIT


def _components(components: Sequence[Component]) -> str:
    return ", ".join(c.value for c in components) or "—"


def _rule_cells(rule: AllocationRule) -> list[str]:
    cells = [rule.processing.value]
    cells += [_components(allowed(rule, state)) for state in DueState]
    cells.append(rule.overflow.value.replace("_", " "))
    return cells


def _override_cell(override: Override) -> str:
    processing, past_due, due, advance, overflow = _rule_cells(override.rule)
    return (
        f"{override.transaction_type.value}: {processing}; past due: {past_due}; due: {due}; "
        f"not yet due: {advance}; beyond what is due: {overflow}"
    )


def render_presets_table() -> str:
    head = "| Preset | Processing | Past due | Due | Not yet due | Beyond what is due | Overrides |"
    rows = [head, "|---|---|---|---|---|---|---|"]
    for name, policy in PRESETS.items():
        overrides = "<br>".join(_override_cell(o) for o in policy.overrides)
        rows.append(
            "| " + " | ".join([f"`{name}`", *_rule_cells(policy.rule), overrides or "—"]) + " |"
        )
    return "\n".join(rows)


def render_example_table() -> str:
    head = "| Preset | Installment 1 (past due) | Installment 2 (past due) | Installment 3 (not yet due) | Left over | Beyond what is due |"
    rows = [head, "|---|---|---|---|---|---|"]
    items = example_items()
    for name, policy in PRESETS.items():
        allocation = allocate(items, EXAMPLE_PAYMENT, policy)
        cells: dict[int, list[str]] = {1: [], 2: [], 3: []}
        for position, line in enumerate(allocation.lines, start=1):
            cells[line.installment].append(
                f"{position}. {line.component.value} {line.amount.amount:,}"
            )
        overflow = allocation.overflow.value.replace("_", " ") if allocation.overflow else "—"
        row = [f"`{name}`", *("<br>".join(cells[n]) or "—" for n in (1, 2, 3))]
        rows.append("| " + " | ".join([*row, f"{allocation.leftover.amount:,}", overflow]) + " |")
    return "\n".join(rows)


GENERATED = {"presets": render_presets_table, "example": render_example_table}


def generated_block(text: str, key: str) -> tuple[int, int]:
    start = text.index(f"<!-- generated:{key} -->\n") + len(f"<!-- generated:{key} -->\n")
    return start, text.index(f"<!-- /generated:{key} -->")


def test_docs_tables_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key, render in GENERATED.items():
        start, end = generated_block(text, key)
        assert text[start:end].strip() == render(), (
            f"docs/waterfall.md table {key!r} differs from the code: run "
            "`.venv/bin/python tests/test_waterfall.py` to regenerate it"
        )


def test_example_table_lists_every_line_of_every_preset() -> None:
    table = render_example_table()
    for policy in PRESETS.values():
        lines = allocate(example_items(), EXAMPLE_PAYMENT, policy).lines
        assert f"{len(lines)}. {lines[-1].component.value}" in table


def test_the_example_payment_reaches_every_preset_shuffled() -> None:
    items = list(example_items())
    random.Random(561).shuffle(items)
    for policy in PRESETS.values():
        assert allocate(items, EXAMPLE_PAYMENT, policy) == allocate(
            example_items(), EXAMPLE_PAYMENT, policy
        )


def test_steps_helper_orders_states_outermost() -> None:
    assert steps([PD, D], [FEE, PRI]) == (Step(PD, FEE), Step(PD, PRI), Step(D, FEE), Step(D, PRI))


def test_docs_usage_example_runs_as_shown() -> None:
    text = DOC.read_text(encoding="utf-8")
    code = text[text.index("```python\n") + len("```python\n") : text.index("```\n\n## The model")]
    namespace: dict[str, object] = {}
    exec(code, namespace)
    allocation = namespace["allocation"]
    assert isinstance(allocation, Allocation)
    shown = [(ln.installment, ln.component.value, str(ln.amount)) for ln in allocation.lines]
    assert shown == [
        (1, "penalty", "35.00 CNY"),
        (1, "interest", "120.00 CNY"),
        (1, "principal", "1000.00 CNY"),
        (2, "interest", "45.00 CNY"),
    ]
    assert (allocation.leftover, allocation.overflow, allocation.cash) == (cny("0.00"), None, True)


def rewrite_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key, render in GENERATED.items():
        start, end = generated_block(text, key)
        text = text[:start] + render() + "\n" + text[end:]
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    rewrite_docs()
    sys.exit(0)
