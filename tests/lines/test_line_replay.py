"""The pure core's replay rule, which a payment reversal stands on: an account's figures do not
depend on how often it was accrued between its money events, and a reversal leaves the account
exactly as the history without the payment would (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from lines_kit import LINE_PRODUCT_TOML, OPENED

from loancore.money import Money
from loancore.servicing import (
    Accrue,
    CreditLineAccount,
    Draw,
    Repay,
    ReversePayment,
    ServicingEvent,
    apply_line,
    credit_line_product_from_toml,
    open_line,
)

PRODUCT = credit_line_product_from_toml(LINE_PRODUCT_TOML)
FIGURES = (
    "principal",
    "interest_accrued",
    "interest_billed",
    "penalty",
    "fees",
    "credit",
    "minimum_unpaid",
    "statement",
    "principal_drawn",
    "principal_repaid",
)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["draw", "repay"]),
        st.integers(1, 2_000_000),
        st.integers(0, 35),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


def _opened() -> CreditLineAccount:
    return open_line(PRODUCT, account_id="A1", line_id="Q1", opened_on=OPENED, statement_day=10)


def _run(events: list[ServicingEvent]) -> CreditLineAccount:
    account = _opened()
    for event in events:
        account = apply_line(account, PRODUCT, event).account
    return account


def _events(steps: list[tuple[str, int, int, bool]]) -> tuple[list[ServicingEvent], date]:
    """The money events and, where the flag says so, a day-close accrual the day before each."""
    events: list[ServicingEvent] = []
    day = OPENED
    for number, (kind, minor, days, accrue_before) in enumerate(steps):
        day += timedelta(days=days)
        if accrue_before and day - timedelta(days=1) >= events_last(events):
            events.append(Accrue(event_id=f"a{number}", as_of=day - timedelta(days=1)))
        cls = Draw if kind == "draw" else Repay
        events.append(cls(event_id=f"e{number}", as_of=day, amount=Money.from_minor(minor, "CNY")))
    return events, day


def events_last(events: list[ServicingEvent]) -> date:
    return events[-1].as_of if events else OPENED


def _figures(account: CreditLineAccount) -> tuple[object, ...]:
    return tuple(getattr(account, name) for name in FIGURES)


@settings(max_examples=150, deadline=None)
@given(STEPS, st.integers(0, 60))
def test_the_figures_do_not_depend_on_how_often_the_account_was_accrued(
    steps: list[tuple[str, int, int, bool]], after: int
) -> None:
    events, last = _events(steps)
    end = Accrue(event_id="end", as_of=last + timedelta(days=after))
    with_accruals = _run([*events, end])
    money_only = _run([e for e in events if not isinstance(e, Accrue)] + [end])
    assert _figures(with_accruals) == _figures(money_only)


@settings(max_examples=150, deadline=None)
@given(STEPS, st.data(), st.integers(0, 40))
def test_a_reversal_leaves_the_account_as_the_history_without_the_payment(
    steps: list[tuple[str, int, int, bool]], data: st.DataObject, after: int
) -> None:
    events, last = _events(steps)
    payments = [e.event_id for e in events if isinstance(e, Repay)]
    if not payments:
        return
    target = data.draw(st.sampled_from(payments))
    on = last + timedelta(days=after)
    reversal = ReversePayment(event_id="rv", as_of=on, payment_id=target)
    outcome = apply_line(_run(events), PRODUCT, reversal)  # no refunds: it always stands
    without = _run([e for e in events if e.event_id != target] + [Accrue(event_id="x", as_of=on)])
    assert _figures(outcome.account) == _figures(without)
    (entry,) = [e for e in outcome.entries if e.entry_id == "payment.reversed:rv"]
    assert sum(leg.signed_minor for leg in entry.legs) == 0
    cash = {leg.subject_code: leg.signed_minor for leg in entry.legs}.get("3001")
    amount = next(e for e in events if e.event_id == target).amount.minor_units  # type: ignore[attr-defined]
    assert cash == -amount  # the bounced cash leaves clearing, nothing else of cash moves
