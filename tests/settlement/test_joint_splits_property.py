"""Property tests of the joint splits of a servicing history (pure): every split conserves its
amount to the fen, a reversal splits its amount back with its sign, the partners' entries
net to their parts, a write-off closes each funder's principal on what it lent, and the same
history replayed gives the same splits."""

from __future__ import annotations

import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.postings import Component, WrittenOff
from loancore.servicing.loan import Transaction, TransactionKind
from loancore.settlement import (
    FunderKind,
    FundingShare,
    JointLoan,
    ShareRule,
    replay_splits,
    split_entries,
    write_off_split,
)

DAY = datetime.date(2026, 1, 15)
RATIOS = [("0.5", "0.3", "0.2"), ("0.7", "0.3"), ("0.4", "0.6"), ("1",)]
KINDS = [TransactionKind.REPAYMENT, TransactionKind.PREPAYMENT, TransactionKind.CREDIT_APPLIED]


def shares(ratios: tuple[str, ...]) -> list[FundingShare]:
    return [
        FundingShare(
            funder_id=f"F{i}", kind=FunderKind.LENDER if i == 0 else FunderKind.PARTNER, ratio=r
        )
        for i, r in enumerate(ratios)
    ]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[FundingShare], list[Transaction]]:
    """A loan of 10,000.00 and up to 30 collections (lines on random components), some
    reversed (each reversal undoes one earlier unreversed payment)."""
    funders = shares(draw(st.sampled_from(RATIOS)))
    history: list[Transaction] = [
        Transaction(event_id="book", as_of=DAY, kind=TransactionKind.BOOKED)
    ]
    principal_left = 1_000_000
    for n in range(draw(st.integers(1, 30))):
        if draw(st.booleans()) and n > 2:
            open_ = [
                t for t in history if t.kind is TransactionKind.REPAYMENT and t.reversed_by is None
            ]
            if open_:
                target = draw(st.sampled_from(open_))
                rid = f"rev{n}"
                history = [
                    Transaction(**{**_fields(t), "reversed_by": rid}) if t is target else t
                    for t in history
                ]
                history.append(
                    Transaction(event_id=rid, as_of=DAY, kind=TransactionKind.PAYMENT_REVERSED)
                )
                continue
        lines = []
        for component in draw(st.lists(st.sampled_from(list(Component)), min_size=1, max_size=4)):
            limit = min(principal_left, 50_000) if component is Component.PRINCIPAL else 5_000
            minor = draw(st.integers(0, limit))
            if component is Component.PRINCIPAL:
                principal_left -= minor
            lines.append((1, component.value, minor))
        kind = draw(st.sampled_from(KINDS))
        history.append(Transaction(event_id=f"p{n}", as_of=DAY, kind=kind, lines=lines))
    return funders, history


def _fields(txn: Transaction) -> dict[str, object]:
    return {
        "event_id": txn.event_id, "as_of": txn.as_of, "kind": txn.kind, "amount": txn.amount,
        "lines": txn.lines, "credit_change": txn.credit_change,
        "principal_repaid": txn.principal_repaid,
    }  # fmt: skip


def disbursed(funders: list[FundingShare]) -> JointLoan:
    return JointLoan.disburse(
        "L1", Money("10000.00", "CNY"), funders, rule=ShareRule(share_min="0.01")
    )


@settings(max_examples=150, deadline=None)
@given(histories())
def test_splits_conserve_every_amount_and_reversals_split_back_with_their_sign(
    case: tuple[list[FundingShare], list[Transaction]],
) -> None:
    funders, history = case
    joint = disbursed(funders)
    splits, after = replay_splits(joint, history)
    by_source = {t.event_id: t for t in history}
    net = {c: Decimal(0) for c in Component}
    for split in splits:
        txn = by_source[split.source_id.removesuffix(".reversed")]
        sums = {c: Decimal(0) for c in Component}
        for _n, value, minor in txn.lines:
            sums[Component(value)] += Decimal(minor) / 100
        sign = -1 if split.kind == "taken_back" else 1
        for component, parts in split.parts:
            assert sum(p.amount for p in parts) == sign * sums[component]
            assert all(sign * p.amount >= 0 for p in parts)  # the step's sign, never the other
            net[component] += sign * sums[component]
    # The running totals are the split of what is collected net of reversals.
    for component in Component:
        stream = "principal" if component is Component.PRINCIPAL else component.value
        totals = after.totals(stream)
        assert sum(t.amount for t in totals) == net[component]
        assert all(t.amount >= 0 for t in totals)
    again, _same = replay_splits(joint, history)
    assert again == splits


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(0, 200_000))
def test_the_partners_entries_carry_their_parts_and_a_write_off_closes_the_principal(
    case: tuple[list[FundingShare], list[Transaction]], fee_lost: int
) -> None:
    funders, history = case
    joint = disbursed(funders)
    splits, after = replay_splits(joint, history)
    dims = {"loan": "L1"}
    partner_due = Decimal(0)
    for split in splits:
        for entry in split_entries(joint, split, dims):
            for leg in entry.legs:
                if leg.subject_code == "2241.02":
                    partner_due += leg.amount.amount * (1 if leg.side is Side.CREDIT else -1)
    partners = [i for i, s in enumerate(funders) if s.kind is FunderKind.PARTNER]
    expected = Decimal(0)
    for stream in ("principal", "interest", "penalty", "compound", "fee"):
        totals = after.totals(stream)
        expected += sum((totals[i].amount for i in partners), Decimal(0))
    assert partner_due == expected
    left = Money("10000.00", "CNY") - sum(after.totals("principal"), Money.zero("CNY"))
    event = WrittenOff(
        event_id="wo", accounting_date=DAY, dimensions=dims, principal=left,
        fee=Money.from_minor(fee_lost, "CNY"),
    )  # fmt: skip
    lost, closed = write_off_split(after, event)
    assert closed.totals("principal") == joint.disbursed  # each funder: lent = back + lost
    assert sum(sum(p.amount for p in parts) for _c, parts in lost.parts) == (
        left.amount + Decimal(fee_lost) / 100
    )
