"""docs/servicing.md's table of entries per event is generated here from the engine, by running
reference scenarios that reach every event; the test fails if the page and the code disagree."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from loancore.ledger import default_chart
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.postings import DiscountTreatment, FeeKind, SubjectMapping
from loancore.servicing import (
    Accrue,
    ApplyCredit,
    Cancel,
    ChargeFee,
    Disburse,
    LateFee,
    MerchantRefund,
    Outcome,
    PayOff,
    PayoutFailed,
    Penalty,
    Prepay,
    PrepaymentRules,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingEvent,
    Waive,
    payoff_amount,
)
from loancore.testing.servicing import Harness, clinic_product
from loancore.waterfall import CIVIL_CODE_561, Component

PAGE = Path(__file__).resolve().parents[2] / "docs" / "servicing.md"
HEADING = "## Entries each event books (generated)"
CHART = default_chart()
START = date(2026, 1, 15)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def label(code: str) -> str:
    names = [CHART.get(c).name_zh for c in reversed((code, *CHART.ancestors(code)))]
    return f"{code} {'—'.join(names)}"


def scenarios() -> list[tuple[str, ServicingEvent, Outcome]]:
    """(scenario, event, outcome) for every event of the reference scenarios, in order."""
    steps: list[tuple[str, ServicingEvent, Outcome]] = []

    def run(name: str, harness: Harness, event: ServicingEvent) -> None:
        steps.append((name, event, harness.apply(event)))

    full = clinic_product(
        merchant_discount_rate=Decimal("0.05"),
        origination_fee_rate=Decimal("0.01"),
        management_fee_rate=Decimal("0.002"),
        penalty=Penalty(multiple=Decimal("1.5"), compound=True),
        late_fee=LateFee(fixed=cny("30.00")),
        prepayment=PrepaymentRules(fee_rate=Decimal("0.01")),
    )
    h = Harness.booked(full)
    run("merchant", h, Disburse(event_id="d", as_of=START))
    run("merchant", h, Accrue(event_id="a", as_of=date(2026, 1, 31)))
    run("merchant", h, Accrue(event_id="b", as_of=date(2026, 2, 25)))
    run("merchant", h, Repay(event_id="r1", as_of=date(2026, 2, 26), amount=cny("2500.00")))
    run(
        "merchant",
        h,
        ChargeFee(
            event_id="c", as_of=date(2026, 2, 26), amount=cny("10.00"), fee_kind=FeeKind.LATE
        ),
    )
    run(
        "merchant",
        h,
        Waive(event_id="w", as_of=date(2026, 2, 26), component=Component.FEE, amount=cny("10.00")),
    )
    run("merchant", h, Repay(event_id="r2", as_of=date(2026, 3, 1), amount=cny("100.00")))
    run("merchant", h, ReversePayment(event_id="v", as_of=date(2026, 3, 2), payment_id="r1"))
    run("merchant", h, Prepay(event_id="p", as_of=date(2026, 3, 3), amount=cny("5000.00")))
    run("merchant", h, MerchantRefund(event_id="m", as_of=date(2026, 3, 4), amount=cny("1000.00")))
    quote = payoff_amount(h.loan, h.product, date(2026, 3, 5))
    run("merchant", h, PayOff(event_id="o", as_of=date(2026, 3, 5), amount=quote))

    card = Harness.booked(clinic_product(policy=CIVIL_CODE_561), payee="card")
    run("card", card, Disburse(event_id="d", as_of=START, card="A"))
    run("card", card, PayoutFailed(event_id="f", as_of=START))
    run("card", card, Disburse(event_id="d2", as_of=START, card="B"))
    run("card", card, Repay(event_id="r", as_of=date(2026, 2, 15), amount=cny("1500.00")))
    run("card", card, ApplyCredit(event_id="u", as_of=date(2026, 3, 15)))
    run("card", card, Repay(event_id="r2", as_of=date(2026, 3, 16), amount=cny("2000.00")))
    run("card", card, RefundCredit(event_id="back", as_of=date(2026, 3, 16), amount=cny("100.00")))

    free = clinic_product(
        annual_rate=Decimal(0),
        merchant_discount_rate=Decimal("0.06"),
        mapping=SubjectMapping(discount_treatment=DiscountTreatment.INTEREST_ADJUSTMENT),
    )
    f = Harness.booked(free)
    run("interest-free", f, Disburse(event_id="d", as_of=START))
    run("interest-free", f, Repay(event_id="r", as_of=date(2026, 2, 15), amount=cny("1000.00")))
    run(
        "interest-free",
        f,
        MerchantRefund(event_id="m", as_of=date(2026, 2, 20), amount=cny("11000.00")),
    )

    pending = Harness.booked(clinic_product())
    run("pending", pending, Cancel(event_id="x", as_of=START))
    return steps


def entry_key(entry_id: str, event_id: str) -> str:
    """``interest.accrued:<id>.penalty``: the entry id with the event's id replaced."""
    template, rest = entry_id.split(":", 1)
    if rest.startswith(f"{event_id}."):
        return f"{template}:<id>{rest[len(event_id) :]}"
    if rest == event_id:
        return f"{template}:<id>"
    match = re.match(r"[^.~]+(.*)", rest)
    assert match is not None
    return f"{template}:<payment>{match.group(1).replace(f'~{event_id}', '~<id>')}"


def generated_rows() -> list[str]:
    rows: list[str] = []
    seen: set[str] = set()
    for name, event, outcome in scenarios():
        for entry in outcome.entries:
            template = entry_key(entry.entry_id, event.event_id)
            reversal = " (reversal)" if entry.reverses else ""
            debit = "; ".join(
                label(leg.subject_code) for leg in entry.legs if leg.side is Side.DEBIT
            )
            credit = "; ".join(
                label(leg.subject_code) for leg in entry.legs if leg.side is Side.CREDIT
            )
            row = f"| `{type(event).__name__}` | `{template}`{reversal} | {debit} | {credit} |"
            if row not in seen:
                seen.add(row)
                rows.append(row)
        if not outcome.entries and f"none:{type(event).__name__}" not in seen:
            seen.add(f"none:{type(event).__name__}")
            rows.append(f"| `{type(event).__name__}` | (no entry) | | |")
        del name
    return rows


def page_rows() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    lines = text[text.index(f"\n{HEADING}\n") + 1 :].splitlines()[1:]
    table: list[str] = []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table or line.startswith("#"):
            break
    return table[2:]


def test_servicing_page_lists_exactly_the_entries_each_event_books() -> None:
    expected = generated_rows()
    assert page_rows() == expected, "\n".join(expected)
