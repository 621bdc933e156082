"""Conformance suite: every LedgerStore (memory, SQLite, PostgreSQL) behaves the same.

Each test takes the ``ledger_store`` fixture (a fresh store with the default chart). Rejections
are checked for their typed error and code AND for changing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PostingRejected,
    RejectionCode,
)
from loancore.ledger import (
    GeneralLedgerLine,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
    Side,
    Subject,
    default_chart,
)
from loancore.money import Money
from loancore.ports import LedgerStore
from loancore.services import audit
from loancore.testing.ledger import journal_entries

D1, D2, D3 = date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)
Code = RejectionCode


def cny(text: str) -> Money:
    return Money(text, "CNY")


def disburse(
    n: int, day: date = D1, amount: str = "1000.00", loan: str = "L1", **fields
) -> JournalEntry:
    """放款: Dr 1303.01 loan principal, Cr 1002 bank."""
    legs = fields.pop("legs", None) or (
        Leg.debit("1303.01", cny(amount), {"loan": loan, "merchant": "M1"}),
        Leg.credit("1002", cny(amount)),
    )
    return JournalEntry(
        entry_id=fields.pop("entry_id", f"e{n}"),
        idempotency_key=fields.pop("idempotency_key", f"k{n}"),
        accounting_date=day,
        legs=legs,
        memo=fields.pop("memo", "disbursement"),
        **fields,
    )


def snapshot(store: LedgerStore) -> tuple:
    return (
        tuple(store.entries()),
        store.trial_balance(as_of=date(2100, 1, 1)),
        tuple(store.memo_postings()),
        store.closed_through(),
    )


def assert_rejected(
    store: LedgerStore, code: RejectionCode, action: Callable[[], object]
) -> PostingRejected:
    before = snapshot(store)
    with pytest.raises(PostingRejected) as info:
        action()
    assert code in {issue.code for issue in info.value.issues}
    assert snapshot(store) == before
    return info.value


# -- posting ----------------------------------------------------------------------------------


def test_balanced_entry_posts_and_reads_back_exactly(ledger_store: LedgerStore) -> None:
    entry = disburse(1)
    (booked,) = ledger_store.post([entry])
    assert booked == entry
    assert ledger_store.get_entry("e1") == entry
    assert ledger_store.find_by_key("k1") == entry
    assert ledger_store.find_by_key("nope") is None
    assert list(ledger_store.entries()) == [entry]
    assert ledger_store.get_entry("e1").legs[0].dimensions == (("loan", "L1"), ("merchant", "M1"))


def test_unknown_entry_is_not_found(ledger_store: LedgerStore) -> None:
    with pytest.raises(NotFound):
        ledger_store.get_entry("missing")


def test_multi_currency_entry_balances_per_currency(ledger_store: LedgerStore) -> None:
    usd = Money("10.00", "USD")
    entry = disburse(1, legs=(*disburse(0).legs, Leg.debit("1011", usd), Leg.credit("3001", usd)))
    ledger_store.post([entry])
    assert ledger_store.balance("1011", "USD", as_of=D1) == usd
    assert ledger_store.balance("1011", "CNY", as_of=D1) == cny("0.00")
    assert ledger_store.trial_balance(as_of=D1).is_balanced()


def _closed_chart_store(store: LedgerStore) -> None:
    store.save_chart(
        default_chart().with_subjects(
            Subject("1221.01", "已关闭", "Closed", "asset", parent_code="1221", close_date=D1),
            Subject("1221.02", "未开立", "Not yet open", "asset", parent_code="1221", open_date=D3),
        )
    )


def legs(debit: str, credit: str, debit_amount: str, credit_amount: str | None = None) -> tuple:
    """Two legs: ``debit_amount`` on ``debit``, ``credit_amount`` (default: the same) on ``credit``."""
    return (
        Leg.debit(debit, cny(debit_amount)),
        Leg.credit(credit, cny(credit_amount or debit_amount)),
    )


REJECTIONS = {
    "unbalanced": (Code.ENTRY_UNBALANCED, {"legs": legs("1303.01", "1002", "5.00", "4.99")}),
    "zero_leg": (Code.LEG_NOT_POSITIVE, {"legs": legs("1303.01", "1002", "0.00")}),
    "negative_leg": (Code.LEG_NOT_POSITIVE, {"legs": legs("1303.01", "1002", "-5.00")}),
    "unknown_subject": (Code.SUBJECT_UNKNOWN, {"legs": legs("1999", "1002", "5.00")}),
    "subject_closed": (Code.SUBJECT_CLOSED, {"day": D2, "legs": legs("1221.01", "1002", "5.00")}),
    "subject_not_open_yet": (
        Code.SUBJECT_CLOSED,
        {"day": D2, "legs": legs("1221.02", "1002", "5")},
    ),
    "entry_id_taken": (Code.ENTRY_ID_TAKEN, {"entry_id": "e1"}),
    "reverses_unknown": (Code.ENTRY_UNKNOWN, {"reverses": "nope"}),
    "reversal_not_mirrored": (Code.REVERSAL_MISMATCH, {"reverses": "e1"}),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_every_rule_rejects_with_its_code_and_changes_nothing(
    ledger_store: LedgerStore, case: str
) -> None:
    _closed_chart_store(ledger_store)
    ledger_store.post([disburse(1)])
    code, fields = REJECTIONS[case]
    assert_rejected(ledger_store, code, lambda: ledger_store.post([disburse(2, **fields)]))


def test_one_bad_entry_in_a_batch_of_100_posts_nothing(ledger_store: LedgerStore) -> None:
    batch = [disburse(i) for i in range(100)]
    batch[57] = disburse(57, legs=legs("1303.01", "1002", "5.00", "5.01"))
    error = assert_rejected(ledger_store, Code.ENTRY_UNBALANCED, lambda: ledger_store.post(batch))
    assert [i.entry_id for i in error.issues] == ["e57"]
    assert list(ledger_store.entries()) == []


def test_all_issues_of_a_batch_are_reported_at_once(ledger_store: LedgerStore) -> None:
    bad = [
        disburse(1, legs=(Leg.debit("1999", cny("5.00")), Leg.credit("1002", cny("5.00")))),
        disburse(2, legs=(Leg.debit("1303.01", cny("5.00")), Leg.credit("1002", cny("6.00")))),
    ]
    error = assert_rejected(ledger_store, Code.SUBJECT_UNKNOWN, lambda: ledger_store.post(bad))
    assert {i.code for i in error.issues} == {Code.SUBJECT_UNKNOWN, Code.ENTRY_UNBALANCED}
    assert error.code is Code.SUBJECT_UNKNOWN


def test_off_scale_amounts_cannot_even_be_built() -> None:
    with pytest.raises(InvalidInput):
        cny("1.001")


# -- idempotency ------------------------------------------------------------------------------


def test_replay_returns_the_original_and_posts_nothing(ledger_store: LedgerStore) -> None:
    original = disburse(1)
    ledger_store.post([original])
    retry = disburse(1, entry_id="e1-retry")  # same key and content, fresh id
    before = snapshot(ledger_store)
    assert ledger_store.post([retry]) == (original,)
    assert snapshot(ledger_store) == before


def test_conflicting_replay_is_refused_and_changes_nothing(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1)])
    before = snapshot(ledger_store)
    with pytest.raises(IdempotencyConflict):
        ledger_store.post([disburse(2), disburse(1, entry_id="e9", amount="999.00")])
    assert snapshot(ledger_store) == before


def test_a_key_repeated_inside_a_batch_is_booked_once(ledger_store: LedgerStore) -> None:
    first = disburse(1)
    results = ledger_store.post([first, disburse(1, entry_id="e1-again")])
    assert results == (first, first)
    assert list(ledger_store.entries()) == [first]


# -- reversal ---------------------------------------------------------------------------------


def test_reversal_is_a_new_linked_entry_that_nets_to_zero(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1)])
    reversal = ledger_store.reverse(
        "e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D2
    )
    assert reversal.reverses == "e1"
    assert [leg.side for leg in reversal.legs] == [Side.CREDIT, Side.DEBIT]
    assert ledger_store.reversal_of("e1") == reversal
    assert ledger_store.reversal_of("r1") is None
    assert ledger_store.get_entry("e1") == disburse(1)  # the original is untouched
    assert ledger_store.balance("1303", "CNY", as_of=D1) == cny("1000.00")
    assert ledger_store.balance("1303", "CNY", as_of=D2) == cny("0.00")
    replay = ledger_store.reverse(
        "e1", reversal_id="r1-retry", idempotency_key="rk1", accounting_date=D2
    )
    assert replay == reversal


def test_double_reversal_is_refused(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1)])
    ledger_store.reverse("e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D2)
    assert_rejected(
        ledger_store,
        Code.ENTRY_ALREADY_REVERSED,
        lambda: ledger_store.reverse(
            "e1", reversal_id="r2", idempotency_key="rk2", accounting_date=D2
        ),
    )


def test_reversal_of_unknown_entry_is_refused(ledger_store: LedgerStore) -> None:
    assert_rejected(
        ledger_store,
        Code.ENTRY_UNKNOWN,
        lambda: ledger_store.reverse(
            "nope", reversal_id="r1", idempotency_key="rk1", accounting_date=D2
        ),
    )


def test_reversal_dated_before_the_original_is_refused(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1, day=D2)])
    assert_rejected(
        ledger_store,
        Code.REVERSAL_MISMATCH,
        lambda: ledger_store.reverse(
            "e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D1
        ),
    )


def test_two_reversals_of_one_entry_in_one_batch_are_refused(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1)])
    mirrored = tuple(leg.mirrored() for leg in disburse(1).legs)
    batch = [disburse(2, legs=mirrored, reverses="e1"), disburse(3, legs=mirrored, reverses="e1")]
    assert_rejected(ledger_store, Code.ENTRY_ALREADY_REVERSED, lambda: ledger_store.post(batch))


# -- balances ---------------------------------------------------------------------------------


def test_balance_as_of_dates_rolls_up_and_filters_by_dimension(ledger_store: LedgerStore) -> None:
    interest = Leg.debit("1303.03", cny("12.34"), {"loan": "L2"})
    ledger_store.post(
        [
            disburse(1, day=D1, amount="1000.00", loan="L1"),
            disburse(2, day=D2, amount="500.00", loan="L2"),
            disburse(3, day=D3, legs=(interest, Leg.credit("6011", cny("12.34"), {"loan": "L2"}))),
        ]
    )
    assert ledger_store.balance("1303.01", "CNY", as_of=D1 - timedelta(days=1)) == cny("0.00")
    assert ledger_store.balance("1303.01", "CNY", as_of=D1) == cny("1000.00")
    assert ledger_store.balance("1303.01", "CNY", as_of=D2) == cny("1500.00")
    assert ledger_store.balance("1303", "CNY", as_of=D3) == cny("1512.34")  # rolled up
    assert ledger_store.balance("1303", "CNY", as_of=D3, dimensions={"loan": "L2"}) == cny("512.34")
    assert ledger_store.balance(
        "1303", "CNY", as_of=D3, dimensions={"loan": "L2", "merchant": "M1"}
    ) == cny("500.00")
    assert ledger_store.balance("1303", "CNY", as_of=D3, dimensions={"loan": "L9"}) == cny("0.00")
    assert ledger_store.balance("1002", "CNY", as_of=D3) == cny("-1500.00")  # overdrawn: other side
    assert ledger_store.balance("6011", "CNY", as_of=D3) == cny("12.34")  # credit-normal, positive
    with pytest.raises(NotFound):
        ledger_store.balance("1999", "CNY", as_of=D3)


def test_backdated_entries_count_in_balances_as_of_their_date(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1, day=D3)])
    ledger_store.post([disburse(2, day=D1, amount="1.00")])
    assert ledger_store.balance("1303.01", "CNY", as_of=D2) == cny("1.00")
    assert ledger_store.balance("1303.01", "CNY", as_of=D3) == cny("1001.00")


def test_trial_balance_lists_debits_and_credits_and_balances(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1, day=D1), disburse(2, day=D2, amount="1.00")])
    report = ledger_store.trial_balance(as_of=D1)
    assert report.is_balanced()
    assert report.totals("CNY") == (cny("1000.00"), cny("1000.00"))
    line = report.line("1303.01", "CNY")
    assert (
        line is not None and line.debit_total == cny("1000.00") and line.credit_total == cny("0.00")
    )
    assert ledger_store.trial_balance(as_of=D2).totals("CNY") == (cny("1001.00"), cny("1001.00"))


def test_general_ledger_detail_has_opening_lines_in_date_order_and_closing(
    ledger_store: LedgerStore,
) -> None:
    ledger_store.post(
        [
            disburse(1, day=D1),
            disburse(3, day=D3, amount="3.00"),
            disburse(2, day=D2, amount="2.00"),
        ]
    )
    detail = ledger_store.general_ledger("1303", "CNY", start=D2, end=D3)
    assert detail.opening == cny("1000.00")
    assert [line.entry_id for line in detail.lines] == ["e2", "e3"]
    assert [line.balance_after for line in detail.lines] == [cny("1002.00"), cny("1005.00")]
    assert detail.closing == cny("1005.00")
    assert detail.lines[0].subject_code == "1303.01" and detail.lines[0].memo == "disbursement"
    only = ledger_store.general_ledger("1303", "CNY", start=D1, end=D3, dimensions={"loan": "L1"})
    assert only.closing == cny("1005.00") and len(only.lines) == 3


# -- period close -----------------------------------------------------------------------------


def test_period_close_refuses_postings_into_the_closed_period(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1, day=D1)])
    assert ledger_store.closed_through() is None
    ledger_store.close_period(D1)
    ledger_store.close_period(D1)  # closing again is a no-op
    assert ledger_store.closed_through() == D1
    assert ledger_store.period_closes() == ((D1, 1),)
    assert_rejected(
        ledger_store, Code.PERIOD_CLOSED, lambda: ledger_store.post([disburse(2, day=D1)])
    )
    ledger_store.post([disburse(3, day=D1 + timedelta(days=1))])
    # an entry of the closed period is reversed in the open one
    ledger_store.reverse("e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D2)
    with pytest.raises(InvalidInput):
        ledger_store.close_period(D1 - timedelta(days=1))
    assert audit(ledger_store) == []


def test_removing_a_posted_subject_from_the_chart_is_refused(ledger_store: LedgerStore) -> None:
    ledger_store.post([disburse(1)])
    smaller = default_chart().subjects
    without = [s for s in smaller if s.code != "1002"]
    from loancore.ledger import Chart

    with pytest.raises(InvalidInput):
        ledger_store.save_chart(Chart(without))
    assert "1002" in ledger_store.load_chart()


def test_saved_chart_loads_back_equal(ledger_store: LedgerStore) -> None:
    _closed_chart_store(ledger_store)
    assert ledger_store.load_chart().subjects == ledger_store.load_chart().subjects
    assert ledger_store.load_chart().get("1221.01").close_date == D1
    assert ledger_store.load_chart().get("1231").normal_side is Side.CREDIT


# -- memo registers ---------------------------------------------------------------------------


def memo(
    n: int, direction: MemoDirection, amount: str, day: date = D1, loan: str = "L1", **fields
) -> MemoPosting:
    return MemoPosting(
        posting_id=fields.pop("posting_id", f"m{n}"),
        idempotency_key=fields.pop("idempotency_key", f"mk{n}"),
        register=fields.pop("register", MemoRegister.OFF_BALANCE_INTEREST),
        accounting_date=day,
        direction=direction,
        amount=cny(amount),
        dimensions={"loan": loan},
        memo="non-accrual interest",
    )


def test_memo_registers_keep_their_own_balances(ledger_store: LedgerStore) -> None:
    up, down = MemoDirection.INCREASE, MemoDirection.DECREASE
    ledger_store.post_memo(
        [memo(1, up, "30.00"), memo(2, up, "20.00", loan="L2"), memo(3, down, "10.00", day=D2)]
    )
    ledger_store.post_memo([memo(4, up, "500.00", register=MemoRegister.WRITTEN_OFF_LOANS)])
    reg = MemoRegister.OFF_BALANCE_INTEREST
    assert ledger_store.memo_balance(reg, "CNY", as_of=D1) == cny("50.00")
    assert ledger_store.memo_balance(reg, "CNY", as_of=D2) == cny("40.00")
    assert ledger_store.memo_balance(reg, "CNY", as_of=D2, dimensions={"loan": "L1"}) == cny(
        "20.00"
    )
    assert ledger_store.memo_balance(MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=D2) == cny(
        "500.00"
    )
    assert ledger_store.trial_balance(as_of=D3).lines == ()  # off balance sheet
    assert (
        ledger_store.post_memo([memo(1, up, "30.00", posting_id="m1-retry")])[0].posting_id == "m1"
    )
    with pytest.raises(IdempotencyConflict):
        ledger_store.post_memo([memo(1, up, "31.00")])
    assert len(list(ledger_store.memo_postings())) == 4


def test_memo_decrease_beyond_balance_is_refused(ledger_store: LedgerStore) -> None:
    ledger_store.post_memo([memo(1, MemoDirection.INCREASE, "30.00", day=D2)])
    assert_rejected(
        ledger_store,
        Code.MEMO_BALANCE_INSUFFICIENT,
        lambda: ledger_store.post_memo([memo(2, MemoDirection.DECREASE, "30.01", day=D2)]),
    )
    assert_rejected(  # as of its date, the increase had not happened yet
        ledger_store,
        Code.MEMO_BALANCE_INSUFFICIENT,
        lambda: ledger_store.post_memo([memo(2, MemoDirection.DECREASE, "1.00", day=D1)]),
    )
    ledger_store.post_memo([memo(3, MemoDirection.DECREASE, "30.00", day=D3)])
    assert_rejected(  # back-dated: fine as of D2, but the register would end negative
        ledger_store,
        Code.MEMO_BALANCE_INSUFFICIENT,
        lambda: ledger_store.post_memo([memo(4, MemoDirection.DECREASE, "1.00", day=D2)]),
    )
    ledger_store.close_period(D2)
    assert_rejected(
        ledger_store,
        Code.PERIOD_CLOSED,
        lambda: ledger_store.post_memo([memo(5, MemoDirection.INCREASE, "1.00", day=D2)]),
    )


# -- properties -------------------------------------------------------------------------------

CHART = default_chart()


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(journal_entries(CHART, currencies=("CNY", "USD")), max_size=4), max_size=4
    )
)
def test_any_sequence_of_balanced_entries_keeps_the_trial_balance_balanced(
    ledger_store_factory: Callable[[], LedgerStore], batches: list[list[JournalEntry]]
) -> None:
    store = ledger_store_factory()
    for batch in batches:
        store.post(batch)
    for day in (date(2026, 1, 1), date(2026, 6, 30), date(2026, 12, 31)):
        assert store.trial_balance(as_of=day).is_balanced()
    assert audit(store) == []


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=st.lists(journal_entries(CHART), max_size=8),
    as_of=st.dates(min_value=date(2025, 12, 31), max_value=date(2027, 1, 1)),
    code=st.sampled_from(["1303", "1303.01", "1002", "6011", "2241", "3001"]),
)
def test_balance_as_of_a_date_is_the_sum_of_legs_up_to_it(
    ledger_store_factory: Callable[[], LedgerStore],
    entries: list[JournalEntry],
    as_of: date,
    code: str,
) -> None:
    store = ledger_store_factory()
    store.post(entries)
    subtree = set(CHART.subtree_codes(code))
    net = sum(
        leg.signed_minor
        for e in entries
        if e.accounting_date <= as_of
        for leg in e.legs
        if leg.subject_code in subtree
    )
    expected = net if CHART.get(code).normal_side is Side.DEBIT else -net
    assert store.balance(code, "CNY", as_of=as_of) == Money.from_minor(expected, "CNY")


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(journal_entries(CHART), min_size=1, max_size=10), data=st.data())
def test_a_balance_and_ledger_by_dimension_are_the_legs_carrying_those_dimensions(
    ledger_store_factory: Callable[[], LedgerStore],
    entries: list[JournalEntry],
    data: st.DataObject,
) -> None:
    """The filter is drawn from a posted leg (its dimension, its subject or the subject's root),
    so it matches legs on and around the chosen dates."""
    tagged = [leg for e in entries for leg in e.legs if leg.dimensions]
    assume(tagged)
    leg = data.draw(st.sampled_from(tagged))
    wanted = dict([data.draw(st.sampled_from(leg.dimensions))])
    if data.draw(st.booleans()) and len(leg.dimensions) > 1:
        wanted.update([data.draw(st.sampled_from(leg.dimensions))])
    code = data.draw(st.sampled_from([leg.subject_code, *CHART.ancestors(leg.subject_code)]))
    as_of = data.draw(st.sampled_from(sorted({e.accounting_date for e in entries})))
    store = ledger_store_factory()
    store.post(entries)
    subtree = set(CHART.subtree_codes(code))
    matching = [
        (e, leg)
        for e in entries
        for leg in e.legs
        if leg.subject_code in subtree
        and all(leg.dimension(key) == value for key, value in wanted.items())
    ]
    net = sum(leg.signed_minor for e, leg in matching if e.accounting_date <= as_of)
    expected = net if CHART.get(code).normal_side is Side.DEBIT else -net
    assert store.balance(code, "CNY", as_of=as_of, dimensions=wanted) == Money.from_minor(
        expected, "CNY"
    )
    start = as_of - timedelta(days=90)
    detail = store.general_ledger(code, "CNY", start=start, end=as_of, dimensions=wanted)
    before = start - timedelta(days=1)
    assert detail.opening == store.balance(code, "CNY", as_of=before, dimensions=wanted)
    expected_lines = [
        (e.accounting_date, e.entry_id, leg.subject_code, leg.signed_minor, leg.dimensions)
        for e, leg in matching
        if start <= e.accounting_date <= as_of
    ]
    lines = [
        (line.accounting_date, line.entry_id, line.subject_code, _signed(line), line.dimensions)
        for line in detail.lines
    ]
    assert sorted(lines) == sorted(expected_lines)
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)  # in date order


def _signed(line: GeneralLedgerLine) -> int:
    minor = line.amount.minor_units
    return minor if line.side is Side.DEBIT else -minor
