"""Which refusal a quota command gets: closed masters bind their sub-lines' limit changes and
freezes, a freeze never passes the limit, and when several refusals apply the documented order
of checks (docs/quota.md, "Which code wins") names the one raised."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from loancore.errors import QuotaRejected, RejectionCode
from loancore.money import Money
from loancore.quota import (
    AddTemporaryLimit,
    AdjustLimit,
    Capture,
    Close,
    Command,
    Draw,
    Freeze,
    Grant,
    Hold,
    Unfreeze,
    Void,
)

C = RejectionCode
DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def grant(
    store: Any, line_id: str, limit: str, master_id: str | None = None, starts_on: Any = DAY
) -> None:
    command = Grant(
        key=f"g-{line_id}", line_id=line_id, borrower_id="b1", limit=cny(limit),
        starts_on=starts_on, expires_on=LATER, master_id=master_id,
    )  # fmt: skip
    store.apply(command, as_of=DAY)


def refusal(store: Any, command: Command, as_of: datetime.date = DAY) -> RejectionCode:
    before = store.snapshot(), tuple(store.journal())
    with pytest.raises(QuotaRejected) as refused:
        store.apply(command, as_of=as_of)
    assert (store.snapshot(), tuple(store.journal())) == before
    assert store.result(command.key) is None
    return refused.value.code


def test_a_sub_line_of_a_closed_master_takes_no_limit_change_or_freeze(quota_store: Any) -> None:
    grant(quota_store, "M", "10000.00")
    grant(quota_store, "S", "8000.00", master_id="M")
    quota_store.apply(Draw(key="d1", line_id="S", amount=cny("100.00")), as_of=DAY)
    quota_store.apply(Close(key="x-M", line_id="M"), as_of=DAY)
    for command in (
        AdjustLimit(key="a1", line_id="S", limit=cny("9000.00")),
        Freeze(key="f1", line_id="S"),
        Freeze(key="f2", line_id="S", amount=cny("1.00")),
        AddTemporaryLimit(key="t1", line_id="S", amount=cny("1.00"), starts_on=DAY, ends_on=LATER),
    ):
        assert refusal(quota_store, command) is C.QUOTA_LINE_CLOSED, command
    assert quota_store.line("S").limit_permanent_minor == 800_000
    assert quota_store.balance("S").frozen_minor == 0 and not quota_store.line("S").frozen_whole
    from loancore.quota import RepaymentParts, RestoreRepaid

    restore = RestoreRepaid(key="r1", line_id="S", repaid=RepaymentParts(cny("100.00")))
    quota_store.apply(restore, as_of=DAY)  # loans drawn before the close are still repaid
    assert quota_store.balance("M").used_minor == 0 and quota_store.check() == ()


def test_a_freeze_never_passes_the_effective_limit(quota_store: Any) -> None:
    grant(quota_store, "M", "1000.00")
    quota_store.apply(Draw(key="d1", line_id="M", amount=cny("600.00")), as_of=DAY)
    quota_store.apply(Freeze(key="f1", line_id="M", amount=cny("700.00")), as_of=DAY)  # > free
    assert quota_store.available("M", as_of=DAY) == cny("0.00")
    over = Freeze(key="f2", line_id="M", amount=cny("300.01"))
    assert refusal(quota_store, over) is C.QUOTA_FREEZE_EXCEEDS_LIMIT
    quota_store.apply(Freeze(key="f3", line_id="M", amount=cny("300.00")), as_of=DAY)
    assert quota_store.balance("M").frozen_minor == 100_000  # exactly the limit
    temporary = AddTemporaryLimit(
        key="t1", line_id="M", amount=cny("50.00"), starts_on=DAY, ends_on=DAY
    )
    quota_store.apply(temporary, as_of=DAY)  # a temporary limit in force counts
    quota_store.apply(Freeze(key="f4", line_id="M", amount=cny("50.00")), as_of=DAY)
    assert refusal(quota_store, Freeze(key="f5", line_id="M", amount=cny("0.01"))) is (
        C.QUOTA_FREEZE_EXCEEDS_LIMIT
    )
    quota_store.apply(Unfreeze(key="u1", line_id="M", amount=cny("1050.00")), as_of=DAY)
    assert quota_store.check() == ()


def test_the_gravest_line_state_wins_then_own_before_master_amounts(quota_store: Any) -> None:
    """Hold and Draw: unknown line; the line and master states, gravest first (closed, frozen
    whole, not started, expired), whichever line has it; then the line's own free amount before
    its master's."""
    grant(quota_store, "M", "1000.00")
    grant(quota_store, "S", "800.00", master_id="M")
    grant(quota_store, "T", "800.00", master_id="M", starts_on=LATER)
    quota_store.apply(Freeze(key="f-S", line_id="S"), as_of=DAY)
    quota_store.apply(Freeze(key="f-T", line_id="T"), as_of=DAY)
    assert refusal(quota_store, Draw(key="d1", line_id="T", amount=cny("1.00"))) is (
        C.QUOTA_LINE_FROZEN  # frozen outranks not started
    )
    quota_store.apply(Unfreeze(key="u-T", line_id="T"), as_of=DAY)
    assert refusal(quota_store, Draw(key="d2", line_id="T", amount=cny("1.00"))) is (
        C.QUOTA_LINE_NOT_STARTED
    )
    quota_store.apply(Unfreeze(key="u-S", line_id="S"), as_of=DAY)
    quota_store.apply(Draw(key="d3", line_id="M", amount=cny("500.00")), as_of=DAY)
    both = Hold(key="h1", line_id="S", amount=cny("900.00"), expires_on=DAY)
    assert refusal(quota_store, both) is C.QUOTA_EXCEEDS_AVAILABLE  # own before master's
    quota_store.apply(Freeze(key="f-S2", line_id="S"), as_of=DAY)
    quota_store.apply(Close(key="x-M", line_id="M"), as_of=DAY)
    assert refusal(quota_store, both) is C.QUOTA_LINE_CLOSED  # closed master outranks frozen


def test_capture_checks_the_hold_before_the_lines(quota_store: Any) -> None:
    """Capture: unknown hold, hold not open, hold expired, line closed, more than the hold."""
    grant(quota_store, "M", "1000.00")
    grant(quota_store, "S", "800.00", master_id="M")
    quota_store.apply(Hold(key="h1", line_id="S", amount=cny("10.00"), expires_on=DAY), as_of=DAY)
    quota_store.apply(Hold(key="h2", line_id="S", amount=cny("10.00"), expires_on=DAY), as_of=DAY)
    quota_store.apply(Void(key="v1", hold_id="h1"), as_of=DAY)
    quota_store.apply(Close(key="x-S", line_id="S"), as_of=DAY)
    later = DAY + datetime.timedelta(days=1)
    over = cny("10.01")
    assert refusal(quota_store, Capture(key="c0", hold_id="nope", amount=over), later) is (
        C.QUOTA_HOLD_UNKNOWN
    )
    assert refusal(quota_store, Capture(key="c1", hold_id="h1", amount=over), later) is (
        C.QUOTA_HOLD_NOT_OPEN  # voided, expired day, closed line, too much: not open wins
    )
    assert refusal(quota_store, Capture(key="c2", hold_id="h2", amount=over), later) is (
        C.QUOTA_HOLD_EXPIRED  # expired, closed line, too much: expired wins
    )
    assert refusal(quota_store, Capture(key="c3", hold_id="h2", amount=over)) is (
        C.QUOTA_LINE_CLOSED  # closed line and too much: closed wins
    )


def test_grant_checks_the_id_then_the_master_then_the_cap(quota_store: Any) -> None:
    grant(quota_store, "M", "150000.00")
    quota_store.apply(Close(key="x-M", line_id="M"), as_of=DAY)
    taken = Grant(
        key="g2", line_id="M", borrower_id="b1", limit=cny("1.00"), starts_on=DAY,
        expires_on=LATER, master_id="nope",
    )  # fmt: skip
    assert refusal(quota_store, taken) is C.QUOTA_LINE_EXISTS
    under_closed = Grant(
        key="g3", line_id="S", borrower_id="b1", limit=cny("1.00"), starts_on=DAY,
        expires_on=LATER, master_id="M",
    )  # fmt: skip
    assert refusal(quota_store, under_closed) is C.QUOTA_LINE_CLOSED


def test_freeze_checks_closed_before_the_limit(quota_store: Any) -> None:
    grant(quota_store, "M", "1000.00")
    quota_store.apply(Close(key="x-M", line_id="M"), as_of=DAY)
    too_much = Freeze(key="f1", line_id="M", amount=cny("1000.01"))
    assert refusal(quota_store, too_much) is C.QUOTA_LINE_CLOSED


def test_a_refusal_survives_pickling_whole() -> None:
    import pickle

    refusal = QuotaRejected(C.QUOTA_EXCEEDS_AVAILABLE, "Hold 'h1' on line 'S'", key="h1")
    again = pickle.loads(pickle.dumps(refusal))
    assert type(again) is QuotaRejected and isinstance(again, ValueError)
    assert (again.code, again.detail, again.key, str(again)) == (
        refusal.code, refusal.detail, "h1", str(refusal)
    )  # fmt: skip
