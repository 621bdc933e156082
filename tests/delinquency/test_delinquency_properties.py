"""Invariants of the delinquency core, by hypothesis."""

from __future__ import annotations

import decimal
import functools
import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.delinquency import (
    BucketScheme,
    ClassificationHistory,
    DelinquencyPolicy,
    Judgement,
    ProvisionRates,
    classify,
    classify_day,
    dpd,
    exposure,
    interest_on_books,
    loan_provision,
    portfolio_required,
    provision_adjustment,
    reinstate_interest,
    required_allowance,
    suspend_interest,
    write_off,
)
from loancore.ledger import default_chart
from loancore.ledger.entries import MemoRegister
from loancore.money import Money, Rounding
from loancore.postings import (
    ALLOWANCE_ROLE,
    DEFAULT_MAPPING,
    ProvisionCharged,
    ProvisionReleased,
    Stage,
    entries_for,
)
from loancore.servicing import Loan
from loancore.testing.delinquency import (
    DISBURSED_ON,
    FIRST_DUE,
    bucket_schemes,
    delinquency_policies,
    judgements,
    post,
    provision_rates,
    unpaid_clinic_loan,
)

DIMS = {"loan": "L1"}
days_after = st.integers(0, 800).map(lambda n: DISBURSED_ON + timedelta(days=n))
minor = st.integers(0, 10**13)


@functools.cache
def unpaid() -> Loan:
    return unpaid_clinic_loan().loan


def allowance(store: MemoryLedgerStore, stage: Stage, on: date) -> Money:
    code = DEFAULT_MAPPING.code(ALLOWANCE_ROLE[stage])
    return store.balance(code, "CNY", as_of=on, dimensions=DIMS)


@given(grace=st.integers(0, 10), first=days_after, second=days_after)
def test_dpd_is_monotone_while_nothing_is_paid(grace: int, first: date, second: date) -> None:
    early, late = sorted((first, second))
    assert dpd(unpaid(), early, grace) <= dpd(unpaid(), late, grace)
    days = dpd(unpaid(), late, grace)
    assert days == 0 or days > grace  # within the grace a loan is not late at all


@given(policy=delinquency_policies(), judgement=judgements(), on=days_after)
def test_classification_is_never_better_than_its_dpd_floor(
    policy: DelinquencyPolicy, judgement: Judgement, on: date
) -> None:
    result = classify(unpaid(), on, policy, judgement)
    floor, _bound = policy.rules.floor(result.dpd)
    assert result.risk_class >= floor
    assert result.risk_class >= judgement.assessed
    if result.dpd > policy.stages.stage_2_dpd or judgement.significant_increase:
        assert result.stage >= Stage.TWO
    if result.dpd > policy.stages.stage_3_dpd or judgement.credit_impaired:
        assert result.stage is Stage.THREE
    assert result.non_accrual == (result.dpd > policy.non_accrual_days)
    assert policy.buckets.bucket_of(result.dpd).label == result.bucket


@given(scheme=bucket_schemes(), days=st.integers(0, 2000))
def test_every_dpd_falls_in_exactly_one_bucket(scheme: BucketScheme, days: int) -> None:
    buckets = scheme.buckets()
    assert sum(1 for b in buckets if b.holds(days)) == 1
    assert buckets[0].label == "M0"
    assert buckets[-1].label.endswith("+")


@given(required=minor, current=minor)
def test_provision_adjustment_brings_the_balance_exactly_to_the_required_amount(
    required: int, current: int
) -> None:
    store = MemoryLedgerStore(default_chart())
    on = date(2026, 6, 30)
    opening = provision_adjustment(
        Money.from_minor(current, "CNY"),
        Money.from_minor(0, "CNY"),
        stage=Stage.THREE,
        event_id="opening",
        accounting_date=on,
        dimensions=DIMS,
    )
    if opening is not None:
        store.post(entries_for(opening))
    event = provision_adjustment(
        Money.from_minor(required, "CNY"),
        allowance(store, Stage.THREE, on),
        stage=Stage.THREE,
        event_id="run",
        accounting_date=on,
        dimensions=DIMS,
    )
    assert (event is None) == (required == current)
    if event is not None:
        store.post(entries_for(event))
    assert allowance(store, Stage.THREE, on).minor_units == required


@given(rates=provision_rates(), judgement=judgements(), on=days_after, opening=minor)
def test_a_loan_provision_run_leaves_only_its_stage_funded_and_a_rerun_books_nothing(
    rates: ProvisionRates, judgement: Judgement, on: date, opening: int
) -> None:
    loan = unpaid()
    standing = classify(loan, on, DelinquencyPolicy(grace_days=3), judgement)
    store = MemoryLedgerStore(default_chart())
    opened = provision_adjustment(
        Money.from_minor(opening, "CNY"),
        Money.zero("CNY"),
        stage=Stage.ONE,
        event_id="opening",
        accounting_date=on,
        dimensions=DIMS,
    )
    if opened is not None:
        store.post(entries_for(opened))

    def run(event_id: str) -> tuple[object, ...]:
        current = {stage: allowance(store, stage, on) for stage in Stage}
        booking = loan_provision(
            loan,
            standing,
            current=current,
            rates=rates,
            rounding=Rounding.HALF_UP,
            event_id=event_id,
        )
        if booking.entries:
            store.post(booking.entries)
        return booking.entries

    run("first")
    assert run("again") == ()
    for stage in Stage:
        held = allowance(store, stage, on).minor_units
        assert held >= 0
        assert held == 0 or stage is standing.stage


@given(lines=st.lists(st.tuples(minor, provision_rates()), max_size=20))
def test_a_pool_rounded_once_is_within_half_a_unit_a_loan_of_the_loans_rounded_each(
    lines: list[tuple[int, ProvisionRates]],
) -> None:
    pairs = [(exposure, dict(rates.rates)[1]) for exposure, rates in lines]
    pool = portfolio_required(pairs, rounding=Rounding.HALF_UP)
    each = sum(required_allowance(m, r, rounding=Rounding.HALF_UP) for m, r in pairs)
    assert 2 * abs(pool - each) <= len(pairs)


@given(
    exposure=st.integers(0, 10**13),
    rate=st.decimals(min_value=0, max_value=1, places=6),
    rounding=st.sampled_from(list(Rounding)),
)
def test_the_requirement_is_the_exact_product_rounded_once_in_decimal_too(
    exposure: int, rate: Decimal, rounding: Rounding
) -> None:
    # The requirement is worked in integers (the rate's ratio kept per rate); decimal, with
    # room for every digit, rounds the same product to the same minor unit in every mode.
    exact = decimal.Context(prec=60).multiply(Decimal(exposure), rate)
    expected = int(exact.quantize(Decimal(1), rounding=rounding.value))
    assert required_allowance(exposure, rate, rounding=rounding) == expected
    assert portfolio_required([(exposure, rate)], rounding=rounding) == expected


@given(
    required=st.integers(0, 10**9),
    current=st.integers(0, 10**9),
    stage=st.sampled_from(list(Stage)),
)
def test_an_adjustment_moves_the_allowance_by_the_difference_and_only_then(
    required: int, current: int, stage: Stage
) -> None:
    event = provision_adjustment(
        Money.from_minor(required, "CNY"),
        Money.from_minor(current, "CNY"),
        stage=stage,
        event_id="p",
        accounting_date=DISBURSED_ON,
        dimensions={"loan": "L1"},
    )
    if required == current:
        assert event is None
        return
    assert event is not None
    kind = ProvisionCharged if required > current else ProvisionReleased
    assert type(event) is kind
    assert event.amount == Money.from_minor(abs(required - current), "CNY")
    assert event.stage is stage


@given(steps=st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_a_history_run_day_by_day_records_only_changes_and_reruns_change_nothing(
    steps: list[int],
) -> None:
    policy = DelinquencyPolicy(grace_days=3)
    history = ClassificationHistory(loan_id="L1")
    day = DISBURSED_ON
    for step in steps:
        day += timedelta(days=step)
        history = classify_day(history, unpaid(), day, policy)
        assert classify_day(history, unpaid(), day, policy) == history
    keys = [change.classification.key() for change in history.changes]
    assert all(a != b for a, b in itertools.pairwise(keys))
    assert history.current == (None if not keys else history.changes[-1].classification)
    if history.current is not None:
        assert history.current.key() == classify(unpaid(), day, policy).key()


def loan_balances(store: MemoryLedgerStore, on: date) -> dict[str, Money]:
    codes = ("1303.01", "1303.03", "1132", "1221", "1304.03", "6011", "6702")
    return {code: store.balance(code, "CNY", as_of=on, dimensions=DIMS) for code in codes}


@given(late=st.integers(0, 500))
def test_suspending_then_reinstating_interest_leaves_every_subject_where_it_was(late: int) -> None:
    on = FIRST_DUE + timedelta(days=late)
    harness = unpaid_clinic_loan(on)
    before = loan_balances(harness.store, on)
    post(harness, suspend_interest(harness.loan, as_of=on, event_id="na"))
    suspended = loan_balances(harness.store, on)
    assert suspended["1132"].is_zero() and suspended["1303.03"].is_zero()
    post(harness, reinstate_interest(harness.loan, as_of=on, event_id="cure"))
    assert loan_balances(harness.store, on) == before
    register = MemoRegister.OFF_BALANCE_INTEREST
    assert harness.store.memo_balance(register, "CNY", as_of=on, dimensions=DIMS).is_zero()
    harness.check()


@given(late=st.integers(0, 500), held=st.integers(0, 2_000_000), suspended=st.booleans())
def test_a_write_off_clears_the_loan_and_never_overdraws_the_allowance(
    late: int, held: int, suspended: bool
) -> None:
    on = FIRST_DUE + timedelta(days=late)
    harness = unpaid_clinic_loan(on, late_fee=True)
    if suspended:
        post(harness, suspend_interest(harness.loan, as_of=on, event_id="na"))
    opening = provision_adjustment(
        Money.from_minor(held, "CNY"),
        Money.zero("CNY"),
        stage=Stage.THREE,
        event_id="opening",
        accounting_date=on,
        dimensions=DIMS,
    )
    if opening is not None:
        harness.store.post(entries_for(opening))
    owed = exposure(harness.loan, non_accrual=False)
    post(
        harness,
        write_off(
            harness.loan,
            allowance=allowance(harness.store, Stage.THREE, on),
            interest_suspended=suspended,
            as_of=on,
            event_id="wo",
        ),
    )
    after = loan_balances(harness.store, on)
    for code in ("1303.01", "1303.03", "1132", "1221"):
        assert after[code].is_zero(), code
    assert after["1304.03"].minor_units == max(
        held - (owed - interest_on_books(harness.loan).total), 0
    )
    pursued = harness.store.memo_balance(
        MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=on, dimensions=DIMS
    )
    assert pursued.minor_units == owed  # principal, fees and every unpaid interest
    register = MemoRegister.OFF_BALANCE_INTEREST
    assert harness.store.memo_balance(register, "CNY", as_of=on, dimensions=DIMS).is_zero()
