"""Settlement runs: National Day, netting, carry-forward, determinism and conservation."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from settlement_support import at, t1

from loancore.calendar import BusinessCalendar
from loancore.errors import InvalidInput, InvariantViolation
from loancore.ledger.entries import JournalEntry
from loancore.postings import DEFAULT_MAPPING
from loancore.settlement import (
    Capture,
    CarryForward,
    Deduction,
    DeductionKind,
    MerchantTerms,
    SettlementRun,
    SettlementSchedule,
    run_settlement,
)
from loancore.testing.settlement import captures, cny, deductions, merchant_terms

D = datetime.date
PAYABLE, CLEARING, FEES = (
    DEFAULT_MAPPING.merchant_payable,
    DEFAULT_MAPPING.clearing,
    DEFAULT_MAPPING.fee_income,
)


def capture(order: str, merchant: str, fen: int, when: datetime.datetime) -> Capture:
    return Capture(order_id=order, merchant_id=merchant, amount=cny(fen), captured_at=when)


def refund(ref: str, merchant: str, fen: int, when: datetime.datetime) -> Deduction:
    return Deduction(
        deduction_id=ref, kind=DeductionKind.REFUND, merchant_id=merchant, order_id=ref,
        amount=cny(fen), occurred_at=when,
    )  # fmt: skip


def balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str | None], int]:
    """Signed minor units (debit positive) by (subject, merchant)."""
    out: dict[tuple[str, str | None], int] = defaultdict(int)
    for entry in entries:
        assert sum(leg.signed_minor for leg in entry.legs) == 0
        for leg in entry.legs:
            out[(leg.subject_code, leg.dimension("merchant"))] += leg.signed_minor
    return out


def test_national_day_orders_settle_on_9_october_one_line_per_merchant(
    cn: BusinessCalendar,
) -> None:
    terms = {"M1": t1("M1", cutoff=datetime.time(22)), "M2": t1("M2")}
    orders = [
        capture("O1", "M1", 1_000_000, at(2025, 9, 30, 9)),
        capture("O2", "M1", 250_000, at(2025, 9, 30, 23, 30)),  # after cut-off: counts 1 Oct
        capture("O3", "M2", 80_000, at(2025, 10, 3)),  # during the holiday
        capture("O4", "M2", 99_900, at(2025, 10, 9)),  # settles 10 Oct: not in this run
    ]
    run = run_settlement(D(2025, 10, 9), channel="up", calendar=cn, terms=terms, captures=orders)
    m1, m2 = run.batch.lines
    assert (m1.merchant_id, m1.order_ids, m1.captured, m1.fees) == (
        "M1",
        ("O1", "O2"),
        cny(1_250_000),
        cny(7_500),
    )
    assert m1.payment == cny(1_242_500)
    assert (m2.order_ids, m2.payment) == (("O3",), cny(80_000 - 480))
    assert [i.line_id for i in run.instructions] == ["up:2025-10-09:M1", "up:2025-10-09:M2"]
    assert run.batch.batch_id == "up:2025-10-09"
    assert run.carry_forward == ()
    (e1, _e2) = run.entries
    assert e1.entry_id == e1.idempotency_key == "payout.instructed:up:2025-10-09:M1"
    assert balances(run.entries)[(PAYABLE, "M1")] == 1_250_000
    assert balances(run.entries)[(CLEARING, "M1")] == -1_242_500
    assert balances(run.entries)[(FEES, "M1")] == -7_500


def test_make_up_sunday_run_pays_on_china_calendar_not_on_a_closed_channel(
    cn: BusinessCalendar, closed_makeup: BusinessCalendar
) -> None:
    terms = {"M1": t1("M1")}
    orders = [capture("O1", "M1", 10_000, at(2025, 9, 26))]
    sunday = D(2025, 9, 28)
    assert run_settlement(
        sunday, channel="c", calendar=cn, terms=terms, captures=orders
    ).instructions
    closed = run_settlement(
        sunday, channel="c", calendar=closed_makeup, terms=terms, captures=orders
    )
    assert closed.instructions == ()
    monday = run_settlement(
        D(2025, 9, 29), channel="c", calendar=closed_makeup, terms=terms, captures=orders
    )
    assert monday.instructions[0].amount == cny(10_000 - 60)


def test_refund_after_payout_is_netted_into_the_next_batch(cn: BusinessCalendar) -> None:
    terms = {"M1": t1("M1")}
    first = [capture("O1", "M1", 100_000, at(2025, 10, 13))]
    paid = run_settlement(D(2025, 10, 14), channel="c", calendar=cn, terms=terms, captures=first)
    assert paid.instructions[0].amount == cny(99_400)
    # O1 refunded on Tue 14 after it was paid; O2 captured the same day. The store hands the
    # run only what no batch settled yet: O2 and the refund.
    later = [capture("O2", "M1", 300_000, at(2025, 10, 14))]
    refunds = [refund("R1", "M1", 100_000, at(2025, 10, 14, 15))]
    run = run_settlement(
        D(2025, 10, 15), channel="c", calendar=cn, terms=terms, captures=later,
        deductions=refunds,
    )  # fmt: skip
    (line,) = run.batch.lines
    assert (line.order_ids, line.deduction_ids) == (("O2",), ("R1",))
    assert (line.refunded, line.fees) == (cny(100_000), cny(1_800))
    assert line.payment == cny(300_000 - 1_800 - 100_000)


def test_refunds_above_a_weeks_sales_carry_forward_and_are_recovered(cn: BusinessCalendar) -> None:
    terms = {
        "M1": MerchantTerms(
            merchant_id="M1", schedule=SettlementSchedule.weekly(0), fee=t1("M1").fee
        )
    }
    week1 = [capture("O1", "M1", 200_000, at(2025, 10, 14))]
    refunds = [refund("R1", "M1", 500_000, at(2025, 10, 16))]  # orders of the week before
    run1 = run_settlement(
        D(2025, 10, 20), channel="c", calendar=cn, terms=terms, captures=week1, deductions=refunds
    )
    (line,) = run1.batch.lines
    assert line.payment == cny(0) and run1.instructions == ()
    assert line.carried_out == cny(-(500_000 - 200_000 + 1_200))
    assert run1.carry_forward == (CarryForward(merchant_id="M1", balance=cny(-301_200)),)
    # The fee is still earned: Dr payable 12.00, Cr fee income 12.00, nothing to clearing.
    assert balances(run1.entries)[(FEES, "M1")] == -1_200
    assert (CLEARING, "M1") not in balances(run1.entries)
    week2 = [capture("O2", "M1", 1_000_000, at(2025, 10, 21))]
    run2 = run_settlement(
        D(2025, 10, 27), channel="c", calendar=cn, terms=terms, captures=week2,
        carry_forward=run1.carry_forward,
    )  # fmt: skip
    assert run2.instructions[0].amount == cny(1_000_000 - 6_000 - 301_200)
    assert run2.carry_forward == ()


def test_a_receivable_alone_passes_through_a_run_untouched(cn: BusinessCalendar) -> None:
    carried = (CarryForward(merchant_id="M1", balance=cny(-500)),)
    run = run_settlement(
        D(2025, 10, 9), channel="c", calendar=cn, terms={"M1": t1("M1")}, captures=(),
        carry_forward=carried,
    )  # fmt: skip
    assert run.batch.lines == () and run.carry_forward == carried


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("captures[0].merchant_id", {"captures": [capture("O", "X", 1, at(2025, 10, 9))]}),
        ("captures[1].order_id", {"captures": [capture("O", "M1", 1, at(2025, 10, 9))] * 2}),
        ("channel", {"channel": ""}),
        ("run_date", {"run_date": datetime.datetime(2025, 10, 9)}),
        (
            "carry_forward[0].balance",
            {
                "carry_forward": [
                    CarryForward(merchant_id="M1", balance=cny(1).__class__.zero("USD"))
                ]
            },
        ),
    ],
)
def test_bad_run_inputs_name_the_field(
    cn: BusinessCalendar, field: str, kwargs: dict[str, object]
) -> None:
    args: dict[str, object] = {
        "run_date": D(2025, 10, 10), "channel": "c", "calendar": cn, "terms": {"M1": t1("M1")},
        "captures": (),
    }  # fmt: skip
    args.update(kwargs)
    run_date = args.pop("run_date")
    with pytest.raises(InvalidInput) as raised:
        run_settlement(run_date, **args)  # type: ignore[arg-type]
    assert raised.value.field == field


MERCHANTS = ["M1", "M2", "M3"]
DAY = D(2025, 10, 13)


@st.composite
def run_inputs(draw: st.DrawFn) -> dict[str, object]:
    terms = {m: draw(merchant_terms(m)) for m in MERCHANTS}
    carried = [
        CarryForward(merchant_id=m, balance=cny(draw(st.integers(-100_000, 100_000))))
        for m in draw(st.lists(st.sampled_from(MERCHANTS), unique=True))
    ]
    return {
        "terms": terms,
        "captures": draw(captures(MERCHANTS, DAY)),
        "deductions": draw(deductions(MERCHANTS, DAY)),
        "carry_forward": carried,
    }


def _run(cn: BusinessCalendar, inputs: dict[str, object]) -> SettlementRun:
    return run_settlement(D(2025, 10, 14), channel="c", calendar=cn, **inputs)  # type: ignore[arg-type]


@given(inputs=run_inputs(), order=st.randoms(use_true_random=False))
def test_a_run_repeated_or_reordered_yields_identical_outputs(
    cn: BusinessCalendar, inputs: dict[str, object], order: object
) -> None:
    first = _run(cn, inputs)
    assert _run(cn, inputs) == first
    shuffled = dict(inputs)
    for key in ("captures", "deductions", "carry_forward"):
        items = list(inputs[key])  # type: ignore[call-overload]
        order.shuffle(items)  # type: ignore[attr-defined]
        shuffled[key] = items
    assert _run(cn, shuffled) == first


@given(inputs=run_inputs())
def test_a_run_conserves_every_fen_and_never_pays_a_negative_amount(
    cn: BusinessCalendar, inputs: dict[str, object]
) -> None:
    run = _run(cn, inputs)
    for line in run.batch.lines:
        assert not line.payment.is_negative() and not line.carried_out.is_positive()
        assert line.payment + line.carried_out == line.net
        assert not (line.payment.is_positive() and line.carried_out.is_negative())
    # The merchant payable after the run (loan side: Cr captures, Dr deductions, the opening
    # carry) equals minus what is carried forward: nothing owed is lost or paid twice.
    payable: dict[str, int] = defaultdict(int)
    for item in inputs["carry_forward"]:  # type: ignore[attr-defined]
        payable[item.merchant_id] -= item.balance.minor_units
    terms: dict[str, MerchantTerms] = inputs["terms"]  # type: ignore[assignment]
    due = D(2025, 10, 14)
    for c in inputs["captures"]:  # type: ignore[attr-defined]
        if terms[c.merchant_id].settlement_date(c.captured_at, cn) == due:  # not after cut-off
            payable[c.merchant_id] -= c.amount.minor_units
    for d in inputs["deductions"]:  # type: ignore[attr-defined]
        if terms[d.merchant_id].settlement_date(d.occurred_at, cn) == due:
            payable[d.merchant_id] += d.amount.minor_units
    for (subject, merchant), minor in balances(run.entries).items():
        if subject == PAYABLE:
            assert merchant is not None
            payable[merchant] += minor
    carried = {c.merchant_id: c.balance.minor_units for c in run.carry_forward}
    for merchant in MERCHANTS:
        assert payable[merchant] == -carried.get(merchant, 0)


def test_terms_filed_under_another_merchant_are_refused(cn: BusinessCalendar) -> None:
    orders = [capture("O1", "M1", 100, at(2025, 10, 9))]
    with pytest.raises(InvalidInput) as raised:
        run_settlement(
            D(2025, 10, 10), channel="c", calendar=cn, terms={"M1": t1("M2")}, captures=orders
        )
    assert raised.value.field == "terms['M1']"


def test_merchant_ids_longer_than_the_derived_ids_allow_are_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        t1("M" * 101)
    assert raised.value.field == "merchant_id"


def test_an_owed_balance_of_a_merchant_without_terms_is_refused(cn: BusinessCalendar) -> None:
    carried = [
        CarryForward(merchant_id="M1", balance=cny(-5)),
        CarryForward(merchant_id="MX", balance=cny(5)),
    ]
    with pytest.raises(InvalidInput) as raised:
        run_settlement(
            D(2025, 10, 10), channel="c", calendar=cn, terms={"M1": t1("M1")}, captures=(),
            carry_forward=carried,
        )  # fmt: skip
    assert raised.value.field == "carry_forward[1].merchant_id"


def test_an_owed_balance_alone_is_paid_in_the_next_run(cn: BusinessCalendar) -> None:
    carried = [CarryForward(merchant_id="M1", balance=cny(700))]
    run = run_settlement(
        D(2025, 10, 10), channel="c", calendar=cn, terms={"M1": t1("M1")}, captures=(),
        carry_forward=carried,
    )  # fmt: skip
    assert run.instructions[0].amount == cny(700) and run.carry_forward == ()


def test_something_else_than_a_capture_is_refused(cn: BusinessCalendar) -> None:
    with pytest.raises(InvalidInput) as raised:
        run_settlement(
            D(2025, 10, 10),
            channel="c",
            calendar=cn,
            terms={"M1": t1("M1")},
            captures=["O1"],  # type: ignore[list-item]
        )
    assert raised.value.field == "captures[0]"


def test_a_day_without_a_run_is_caught_up_by_the_next_run(cn: BusinessCalendar) -> None:
    orders = [
        capture("O1", "M1", 10_000, at(2025, 10, 13)),  # due Tue 14 Oct: no run that day
        capture("O2", "M1", 20_000, at(2025, 10, 14)),  # due Wed 15 Oct
        capture("O3", "M1", 40_000, at(2025, 10, 15)),  # due Thu 16 Oct: left for its day
    ]
    run = run_settlement(
        D(2025, 10, 15), channel="c", calendar=cn, terms={"M1": t1("M1")}, captures=orders
    )
    (line,) = run.batch.lines
    assert line.order_ids == ("O1", "O2") and line.payment == cny(30_000 - 180)


def test_a_line_whose_payment_does_not_split_its_net_cannot_be_built(cn: BusinessCalendar) -> None:
    run = run_settlement(
        D(2025, 10, 9), channel="c", calendar=cn, terms={"M1": t1("M1")},
        captures=[capture("O1", "M1", 10_000, at(2025, 9, 30))],
    )  # fmt: skip
    (line,) = run.batch.lines
    with pytest.raises(InvariantViolation):
        attrs.evolve(line, payment=line.payment + cny(1))
