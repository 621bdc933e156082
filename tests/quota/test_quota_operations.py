"""Quota operations, refusals and idempotency: one behavioural suite for every store."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from loancore.errors import (
    CurrencyMismatch,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    QuotaRejected,
    Rejected,
    RejectionCode,
)
from loancore.money import Money
from loancore.quota import (
    HOLDS_READ_MAX,
    AddTemporaryLimit,
    AdjustLimit,
    Capture,
    Close,
    Draw,
    EventKind,
    ExpireHolds,
    ExpireTemporaryLimits,
    Freeze,
    Grant,
    Hold,
    HoldStatus,
    LineBalance,
    QuotaConfig,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Unfreeze,
    Void,
)

C = RejectionCode
DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def open_lines(
    store: Any, master: str = "10000.00", subs: tuple[str, ...] = ("8000.00", "6000.00")
) -> None:
    """Master M of borrower b1 and sub-lines S0, S1 (which add up to more than M)."""
    store.apply(
        Grant(
            key="g-M",
            line_id="M",
            borrower_id="b1",
            limit=cny(master),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    for index, limit in enumerate(subs):
        line_id = f"S{index}"
        grant = Grant(
            key=f"g-{line_id}",
            line_id=line_id,
            borrower_id="b1",
            limit=cny(limit),
            starts_on=DAY,
            expires_on=LATER,
            master_id="M",
        )
        store.apply(grant, as_of=DAY)


def code_of(store: Any, command: Any, as_of: datetime.date = DAY) -> RejectionCode:
    """The code ``command`` is refused with; the refusal changes nothing and is not recorded."""
    before = store.snapshot(), tuple(store.journal())
    with pytest.raises(QuotaRejected) as refused:
        store.apply(command, as_of=as_of)
    assert refused.value.key == command.key
    assert (store.snapshot(), tuple(store.journal())) == before
    assert store.result(command.key) is None
    return refused.value.code


def balance(store: Any, line_id: str) -> tuple[str, str, str]:
    b = store.balance(line_id)
    values = (b.used_minor, b.held_minor, b.frozen_minor)
    found = tuple(str(Money.from_minor(v, "CNY").amount) for v in values)
    return found  # type: ignore[return-value]


def test_partial_capture_uses_part_and_releases_the_rest(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Hold(key="h1", line_id="S0", amount=cny("500.00"), expires_on=DAY), as_of=DAY)
    assert balance(quota_store, "S0") == ("0.00", "500.00", "0.00")
    assert balance(quota_store, "M") == ("0.00", "500.00", "0.00")
    result = quota_store.apply(Capture(key="c1", hold_id="h1", amount=cny("320.50")), as_of=DAY)
    assert result.events[0].released_minor == 17950
    assert balance(quota_store, "S0") == ("320.50", "0.00", "0.00")
    assert balance(quota_store, "M") == ("320.50", "0.00", "0.00")
    assert quota_store.hold("h1").status is HoldStatus.CAPTURED
    assert quota_store.available("S0", as_of=DAY) == cny("7679.50")
    assert quota_store.check() == ()


def test_holds_reads_at_once_what_hold_reads_one_by_one(quota_store: Any) -> None:
    """A key given twice comes back once, in the order given; a key that placed no hold is
    left out (hold() says NotFound for it)."""
    open_lines(quota_store)
    for key, line_id in (("h1", "S0"), ("h2", "S1"), ("h3", "S0")):
        hold = Hold(key=key, line_id=line_id, amount=cny("100.00"), expires_on=DAY)
        quota_store.apply(hold, as_of=DAY)
    quota_store.apply(Capture(key="c1", hold_id="h2", amount=cny("40.00")), as_of=DAY)
    found = quota_store.holds(["h3", "none", "h2", "h3"])
    assert list(found) == ["h3", "h2"]
    assert found == {"h3": quota_store.hold("h3"), "h2": quota_store.hold("h2")}
    assert found["h2"].status is HoldStatus.CAPTURED
    assert found["h3"].line_id == "S0"
    assert quota_store.holds([]) == {}
    with pytest.raises(NotFound):
        quota_store.hold("none")


def test_holds_refuses_what_is_not_a_list_of_ids_naming_it(quota_store: Any) -> None:
    with pytest.raises(InvalidInput, match="hold_ids"):
        quota_store.holds("h1")
    with pytest.raises(InvalidInput, match=r"hold_ids\[1\]"):
        quota_store.holds(["h1", "a\x00b"])
    with pytest.raises(InvalidInput, match=f"at most {HOLDS_READ_MAX}"):
        quota_store.holds(["h1"] * (HOLDS_READ_MAX + 1))


def test_master_binds_sub_lines_that_add_up_to_more(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S0", amount=cny("7000.00")), as_of=DAY)
    # S1 alone has 6000 available, but the master only 3000.
    assert quota_store.available("S1", as_of=DAY) == cny("3000.00")
    too_much = Hold(key="h1", line_id="S1", amount=cny("3000.01"), expires_on=DAY)
    assert code_of(quota_store, too_much) is C.QUOTA_MASTER_EXCEEDS_AVAILABLE
    quota_store.apply(
        Hold(key="h2", line_id="S1", amount=cny("3000.00"), expires_on=DAY), as_of=DAY
    )
    assert quota_store.available("M", as_of=DAY) == cny("0.00")
    assert (
        code_of(quota_store, Hold(key="h3", line_id="S0", amount=cny("8000.00"), expires_on=DAY))
        is C.QUOTA_EXCEEDS_AVAILABLE
    )


def test_adjust_down_below_used_leaves_available_at_zero(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="M", amount=cny("4000.00")), as_of=DAY)
    quota_store.apply(AdjustLimit(key="a1", line_id="M", limit=cny("1000.00")), as_of=DAY)
    assert quota_store.available("M", as_of=DAY) == cny("0.00")
    assert quota_store.available("S0", as_of=DAY) == cny("0.00")
    assert balance(quota_store, "M") == ("4000.00", "0.00", "0.00")  # nothing forced back
    quota_store.apply(AdjustLimit(key="a2", line_id="M", limit=cny("5000.00")), as_of=DAY)
    assert quota_store.available("M", as_of=DAY) == cny("1000.00")


def test_restore_takes_only_the_principal_of_a_repayment(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S0", amount=cny("1000.00")), as_of=DAY)
    parts = RepaymentParts(
        cny("100.00"), interest=cny("12.34"), fees=cny("5.00"), penalties=cny("1.00")
    )
    result = quota_store.apply(RestoreRepaid(key="r1", line_id="S0", repaid=parts), as_of=DAY)
    assert result.events[0].kind is EventKind.RESTORED_REPAID
    assert balance(quota_store, "S0") == ("900.00", "0.00", "0.00")
    assert balance(quota_store, "M") == ("900.00", "0.00", "0.00")
    assert parts.total == cny("118.34")


def test_restore_cannot_be_handed_an_amount() -> None:
    with pytest.raises(InvalidInput, match="only the principal"):
        RestoreRepaid(key="r1", line_id="S0", repaid=cny("100.00"))  # type: ignore[arg-type]


def test_refund_and_cancellation_restore_and_are_journalled_apart(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S0", amount=cny("1000.00")), as_of=DAY)
    refund = RestoreRefunded(
        key="r1", line_id="S0", principal=cny("300.00"), reason=RefundReason.REFUND
    )
    cancel = RestoreRefunded(
        key="r2", line_id="S0", principal=cny("700.00"), reason=RefundReason.CANCELLATION
    )
    refund, cancel = (quota_store.apply(c, as_of=DAY) for c in (refund, cancel))
    assert refund.events[0].kind is EventKind.RESTORED_REFUNDED
    assert cancel.events[0].kind is EventKind.RESTORED_CANCELLED
    assert balance(quota_store, "M") == ("0.00", "0.00", "0.00")
    too_much = RestoreRefunded(
        key="r3", line_id="S0", principal=cny("0.01"), reason=RefundReason.REFUND
    )
    assert code_of(quota_store, too_much) is C.QUOTA_RESTORE_EXCEEDS_USED


def test_a_master_restores_only_its_own_direct_use(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S0", amount=cny("1000.00")), as_of=DAY)
    quota_store.apply(Draw(key="d2", line_id="M", amount=cny("200.00")), as_of=DAY)
    parts = RepaymentParts(cny("200.01"))
    assert (
        code_of(quota_store, RestoreRepaid(key="r1", line_id="M", repaid=parts))
        is C.QUOTA_RESTORE_EXCEEDS_USED
    )
    quota_store.apply(
        RestoreRepaid(key="r2", line_id="M", repaid=RepaymentParts(cny("200.00"))), as_of=DAY
    )


def test_replay_returns_the_first_result_and_changes_nothing(quota_store: Any) -> None:
    open_lines(quota_store)
    first = quota_store.apply(
        Hold(key="h1", line_id="S0", amount=cny("100.00"), expires_on=DAY), as_of=DAY
    )
    before = quota_store.snapshot()
    events_before = list(quota_store.journal())
    tomorrow = DAY + datetime.timedelta(days=1)
    again = quota_store.apply(
        Hold(key="h1", line_id="S0", amount=cny("100.00"), expires_on=DAY), as_of=tomorrow
    )
    assert again == first and again.replayed and not first.replayed
    assert quota_store.snapshot() == before and list(quota_store.journal()) == events_before
    assert quota_store.result("h1") == first


def test_same_key_different_content_is_a_conflict(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Hold(key="h1", line_id="S0", amount=cny("100.00"), expires_on=DAY), as_of=DAY)
    with pytest.raises(IdempotencyConflict):
        quota_store.apply(
            Hold(key="h1", line_id="S0", amount=cny("100.01"), expires_on=DAY), as_of=DAY
        )
    with pytest.raises(IdempotencyConflict):
        quota_store.apply(Draw(key="h1", line_id="S0", amount=cny("100.00")), as_of=DAY)


def test_a_refusal_is_not_recorded_and_a_retry_is_judged_afresh(quota_store: Any) -> None:
    open_lines(quota_store)
    hold = Hold(key="h1", line_id="S0", amount=cny("9000.00"), expires_on=DAY)
    assert code_of(quota_store, hold) is C.QUOTA_EXCEEDS_AVAILABLE  # nothing changed or kept
    quota_store.apply(Draw(key="d1", line_id="S1", amount=cny("1500.00")), as_of=DAY)
    quota_store.apply(AdjustLimit(key="a1", line_id="S0", limit=cny("9500.00")), as_of=DAY)
    assert code_of(quota_store, hold) is C.QUOTA_MASTER_EXCEEDS_AVAILABLE  # judged afresh
    quota_store.apply(AdjustLimit(key="a2", line_id="M", limit=cny("12000.00")), as_of=DAY)
    first = quota_store.apply(hold, as_of=DAY)
    assert not first.replayed and [e.kind for e in first.events] == [EventKind.HOLD_PLACED]
    assert quota_store.apply(hold, as_of=DAY).replayed
    assert quota_store.result("h1") == first


def test_a_refusal_is_raised_with_its_code_key_and_detail(quota_store: Any) -> None:
    open_lines(quota_store)
    with pytest.raises(QuotaRejected) as refused:
        quota_store.apply(Draw(key="d1", line_id="nope", amount=cny("1.00")), as_of=DAY)
    error = refused.value
    assert isinstance(error, Rejected) and error.code is C.QUOTA_LINE_UNKNOWN
    assert error.key == "d1" and "nope" in error.detail and "QUOTA_LINE_UNKNOWN" in str(error)


def test_holds_expire_and_cannot_be_captured_after_expiry(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Hold(key="h1", line_id="S0", amount=cny("100.00"), expires_on=DAY), as_of=DAY)
    in_five_days = DAY + datetime.timedelta(days=5)
    quota_store.apply(
        Hold(key="h2", line_id="S0", amount=cny("50.00"), expires_on=in_five_days), as_of=DAY
    )
    next_day = DAY + datetime.timedelta(days=1)
    assert code_of(quota_store, Capture(key="c1", hold_id="h1"), next_day) is C.QUOTA_HOLD_EXPIRED
    assert quota_store.line_ids_with_expired_holds(as_of=next_day) == ("S0",)
    result = quota_store.apply(ExpireHolds(key="e1", line_id="S0"), as_of=next_day)
    assert [e.ref_id for e in result.events] == ["h1"]
    assert quota_store.hold("h1").status is HoldStatus.EXPIRED
    assert balance(quota_store, "M") == ("0.00", "50.00", "0.00")
    assert code_of(quota_store, Void(key="v1", hold_id="h1"), next_day) is C.QUOTA_HOLD_NOT_OPEN
    quota_store.apply(Void(key="v2", hold_id="h2"), as_of=next_day)
    assert code_of(quota_store, Capture(key="c2", hold_id="nope"), next_day) is C.QUOTA_HOLD_UNKNOWN
    assert (
        code_of(quota_store, Capture(key="c3", hold_id="h2", amount=cny("1.00")), next_day)
        is C.QUOTA_HOLD_NOT_OPEN
    )
    assert quota_store.check() == ()


def test_capture_more_than_held_is_refused(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Hold(key="h1", line_id="S0", amount=cny("100.00"), expires_on=DAY), as_of=DAY)
    assert (
        code_of(quota_store, Capture(key="c1", hold_id="h1", amount=cny("100.01")))
        is C.QUOTA_EXCEEDS_HOLD
    )


def test_freezing_the_master_freezes_every_sub_line(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Freeze(key="f1", line_id="M"), as_of=DAY)
    assert code_of(quota_store, Freeze(key="f2", line_id="M"), DAY) is C.QUOTA_LINE_FROZEN
    assert (
        code_of(quota_store, Hold(key="h1", line_id="S0", amount=cny("1.00"), expires_on=DAY))
        is C.QUOTA_LINE_FROZEN
    )
    assert quota_store.available("S1", as_of=DAY) == cny("0.00")
    quota_store.apply(Unfreeze(key="u1", line_id="M"), as_of=DAY)
    assert code_of(quota_store, Unfreeze(key="u2", line_id="M"), DAY) is C.QUOTA_LINE_NOT_FROZEN
    quota_store.apply(Freeze(key="f3", line_id="S0", amount=cny("7999.00")), as_of=DAY)
    assert quota_store.available("S0", as_of=DAY) == cny("1.00")
    too_much = Unfreeze(key="u3", line_id="S0", amount=cny("8000.00"))
    assert code_of(quota_store, too_much) is C.QUOTA_UNFREEZE_EXCEEDS_FROZEN
    quota_store.apply(Unfreeze(key="u4", line_id="S0", amount=cny("7999.00")), as_of=DAY)
    assert quota_store.available("S0", as_of=DAY) == cny("8000.00")


def test_temporary_limits_count_only_while_in_force(quota_store: Any) -> None:
    open_lines(quota_store)
    start, end = DAY + datetime.timedelta(days=10), DAY + datetime.timedelta(days=20)
    quota_store.apply(
        AddTemporaryLimit(
            key="t1", line_id="M", amount=cny("2000.00"), starts_on=start, ends_on=end
        ),
        as_of=DAY,
    )
    assert quota_store.available("M", as_of=DAY) == cny("10000.00")
    assert quota_store.available("M", as_of=start) == cny("12000.00")
    assert quota_store.available("M", as_of=end) == cny("12000.00")
    after = end + datetime.timedelta(days=1)
    assert quota_store.available("M", as_of=after) == cny("10000.00")
    assert quota_store.apply(ExpireTemporaryLimits(key="x0", line_id="M"), as_of=end).events == ()
    result = quota_store.apply(ExpireTemporaryLimits(key="x1", line_id="M"), as_of=after)
    assert [e.ref_id for e in result.events] == ["t1"]
    assert quota_store.line("M").temporary_limits == ()


def test_borrower_cap_limits_the_total_of_master_lines(quota_store: Any) -> None:
    quota_store.apply(
        Grant(
            key="g1",
            line_id="M1",
            borrower_id="b1",
            limit=cny("150000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    over = Grant(
        key="g2", line_id="M2", borrower_id="b1", limit=cny("50000.01"), starts_on=DAY,
        expires_on=LATER,
    )  # fmt: skip
    assert code_of(quota_store, over) is C.QUOTA_BORROWER_CAP_EXCEEDED
    quota_store.apply(
        Grant(
            key="g3",
            line_id="M2",
            borrower_id="b1",
            limit=cny("50000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    quota_store.apply(
        Grant(
            key="g4",
            line_id="X1",
            borrower_id="b2",
            limit=cny("200000.00"),
            starts_on=DAY,
            expires_on=LATER,
        ),
        as_of=DAY,
    )
    raised = AdjustLimit(key="a1", line_id="M1", limit=cny("150000.01"))
    assert code_of(quota_store, raised) is C.QUOTA_BORROWER_CAP_EXCEEDED
    quota_store.apply(AdjustLimit(key="a2", line_id="M1", limit=cny("100000.00")), as_of=DAY)
    temporary = AddTemporaryLimit(
        key="t1", line_id="M2", amount=cny("50000.01"), starts_on=DAY, ends_on=LATER
    )
    assert code_of(quota_store, temporary, DAY) is C.QUOTA_BORROWER_CAP_EXCEEDED
    # Sub-lines do not count: the master binds them.
    sub_line = Grant(
        key="g5",
        line_id="S1",
        borrower_id="b1",
        limit=cny("199999.00"),
        starts_on=DAY,
        expires_on=LATER,
        master_id="M1",
    )
    quota_store.apply(sub_line, as_of=DAY)


def test_the_borrower_cap_is_configurable(make_quota_store: Any, store_kind: str) -> None:
    store = make_quota_store(store_kind, QuotaConfig(borrower_cap=cny("5000.00")))
    grant = Grant(
        key="g1",
        line_id="M1",
        borrower_id="b1",
        limit=cny("5000.01"),
        starts_on=DAY,
        expires_on=LATER,
    )
    assert code_of(store, grant) is C.QUOTA_BORROWER_CAP_EXCEEDED
    with pytest.raises(CurrencyMismatch):
        store.apply(
            Grant(
                key="g2",
                line_id="M2",
                borrower_id="b1",
                limit=Money("1.00", "USD"),
                starts_on=DAY,
                expires_on=LATER,
            ),
            as_of=DAY,
        )


def test_closed_expired_and_unstarted_lines_refuse_new_use(quota_store: Any) -> None:
    open_lines(quota_store)
    quota_store.apply(Draw(key="d1", line_id="S0", amount=cny("100.00")), as_of=DAY)
    quota_store.apply(Close(key="x1", line_id="S0"), as_of=DAY)
    assert code_of(quota_store, Close(key="x2", line_id="S0"), DAY) is C.QUOTA_LINE_CLOSED
    assert (
        code_of(quota_store, Draw(key="d2", line_id="S0", amount=cny("1.00")), DAY)
        is C.QUOTA_LINE_CLOSED
    )
    quota_store.apply(
        RestoreRepaid(key="r1", line_id="S0", repaid=RepaymentParts(cny("100.00"))), as_of=DAY
    )
    after = LATER + datetime.timedelta(days=1)
    assert (
        code_of(quota_store, Draw(key="d3", line_id="S1", amount=cny("1.00")), after)
        is C.QUOTA_LINE_EXPIRED
    )
    future = Grant(
        key="g-F",
        line_id="F",
        borrower_id="b9",
        limit=cny("100.00"),
        starts_on=LATER,
        expires_on=LATER,
    )
    quota_store.apply(future, as_of=DAY)
    assert (
        code_of(quota_store, Draw(key="d4", line_id="F", amount=cny("1.00")))
        is C.QUOTA_LINE_NOT_STARTED
    )
    quota_store.apply(Close(key="x3", line_id="M"), as_of=DAY)
    assert (
        code_of(quota_store, Draw(key="d5", line_id="S1", amount=cny("1.00")), DAY)
        is C.QUOTA_LINE_CLOSED
    )
    late_sub_line = Grant(
        key="g-S9",
        line_id="S9",
        borrower_id="b1",
        limit=cny("1.00"),
        starts_on=DAY,
        expires_on=LATER,
        master_id="M",
    )
    assert code_of(quota_store, late_sub_line) is C.QUOTA_LINE_CLOSED


def test_unknown_lines_and_taken_ids_are_refused(quota_store: Any) -> None:
    open_lines(quota_store)
    for command in (
        Draw(key="d1", line_id="nope", amount=cny("1.00")),
        Hold(key="h1", line_id="nope", amount=cny("1.00"), expires_on=DAY),
        AdjustLimit(key="a1", line_id="nope", limit=cny("1.00")),
        Freeze(key="f1", line_id="nope"),
        Close(key="c1", line_id="nope"),
        ExpireHolds(key="e1", line_id="nope"),
        Grant(
            key="g1",
            line_id="S7",
            borrower_id="b1",
            limit=cny("1.00"),
            starts_on=DAY,
            expires_on=LATER,
            master_id="nope",
        ),
    ):
        assert code_of(quota_store, command, DAY) is C.QUOTA_LINE_UNKNOWN, command
    taken = Grant(
        key="g2", line_id="S0", borrower_id="b1", limit=cny("1.00"), starts_on=DAY, expires_on=LATER
    )
    assert code_of(quota_store, taken) is C.QUOTA_LINE_EXISTS


def test_bad_arguments_raise_typed_errors(quota_store: Any) -> None:
    open_lines(quota_store)
    with pytest.raises(InvalidInput, match="as_of"):
        quota_store.apply(
            Draw(key="d1", line_id="S0", amount=cny("1.00")), as_of=datetime.datetime(2026, 3, 1)
        )
    with pytest.raises(CurrencyMismatch):
        quota_store.apply(Draw(key="d2", line_id="S0", amount=Money("1.00", "USD")), as_of=DAY)
    with pytest.raises(InvalidInput, match="expires_on"):
        yesterday = DAY - datetime.timedelta(days=1)
        quota_store.apply(
            Hold(key="h1", line_id="S0", amount=cny("1.00"), expires_on=yesterday), as_of=DAY
        )
    with pytest.raises(InvalidInput, match="master_id"):
        quota_store.apply(
            Grant(
                key="g1",
                line_id="Z",
                borrower_id="b2",
                limit=cny("1.00"),
                starts_on=DAY,
                expires_on=LATER,
                master_id="M",
            ),
            as_of=DAY,
        )
    with pytest.raises(InvalidInput, match="master_id"):
        under_a_sub_line = Grant(
            key="g2",
            line_id="Z",
            borrower_id="b1",
            limit=cny("1.00"),
            starts_on=DAY,
            expires_on=LATER,
            master_id="S0",
        )
        quota_store.apply(under_a_sub_line, as_of=DAY)
    with pytest.raises(InvalidInput, match="command"):
        quota_store.apply("Draw d3 S0 1.00", as_of=DAY)
    assert quota_store.result("d2") is None and quota_store.check() == ()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Hold(key="", line_id="S0", amount=cny("1.00"), expires_on=DAY),
        lambda: Hold(key="h", line_id="S0", amount=cny("0.00"), expires_on=DAY),
        lambda: Hold(key="h", line_id="S0", amount=cny("-1.00"), expires_on=DAY),
        lambda: Hold(key="h", line_id="S0", amount=Decimal("1.00"), expires_on=DAY),
        lambda: Hold(
            key="h", line_id="S0", amount=cny("1.00"), expires_on=datetime.datetime(2026, 3, 1)
        ),
        lambda: Grant(
            key="g",
            line_id="L",
            borrower_id="b",
            limit=cny("1.00"),
            starts_on=LATER,
            expires_on=DAY,
        ),
        lambda: Grant(
            key="g",
            line_id="L",
            borrower_id="b",
            limit=cny("1.00"),
            starts_on=DAY,
            expires_on=LATER,
            master_id="L",
        ),
        lambda: AdjustLimit(key="a", line_id="L", limit=cny("-0.01")),
        lambda: AddTemporaryLimit(
            key="t", line_id="L", amount=cny("1.00"), starts_on=LATER, ends_on=DAY
        ),
        lambda: RestoreRefunded(key="r", line_id="L", principal=cny("1.00"), reason=9),
        lambda: RepaymentParts(cny("1.00"), interest=Money("1.00", "USD")),
        lambda: RepaymentParts(cny("1.00"), fees=cny("-1.00")),
        lambda: Capture(key="c", hold_id="h", amount=cny("0.00")),
        lambda: Freeze(key="f", line_id="L", amount=cny("0.00")),
        lambda: Draw(key="d", line_id="x" * 201, amount=cny("1.00")),
        lambda: QuotaConfig(borrower_cap=cny("-1.00")),
    ],
)
def test_invalid_commands_are_refused_when_built(build: Any) -> None:
    with pytest.raises(InvalidInput):
        build()


def test_floats_are_refused() -> None:
    from loancore.errors import FloatNotAllowed

    with pytest.raises(FloatNotAllowed):
        Hold(key="h", line_id="S0", amount=Money(1.5, "CNY"), expires_on=DAY)  # type: ignore[arg-type]


def test_balances_are_zero_on_a_new_line(quota_store: Any) -> None:
    open_lines(quota_store)
    assert quota_store.balance("S0") == LineBalance(0, 0, 0)
    assert [line.line_id for line in quota_store.lines(borrower_id="b1")] == ["M", "S0", "S1"]
    assert quota_store.line("S0").master_id == "M"


def test_every_store_is_a_quota_store(quota_store: Any) -> None:
    from loancore.ports import QuotaStore

    assert isinstance(quota_store, QuotaStore)


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800", "", "x" * 201, 7])
def test_reads_refuse_ids_no_store_could_keep(quota_store: Any, bad: Any) -> None:
    """The same InvalidInput on every store, never a driver error (PostgreSQL refuses NUL)."""
    open_lines(quota_store)
    for read in (
        lambda: quota_store.line(bad),
        lambda: quota_store.balance(bad),
        lambda: quota_store.hold(bad),
        lambda: quota_store.holds([bad]),
        lambda: quota_store.result(bad),
        lambda: quota_store.open_holds(bad),
        lambda: quota_store.available(bad, as_of=DAY),
        lambda: quota_store.lines(borrower_id=bad),
    ):
        with pytest.raises(InvalidInput):
            read()


def test_business_dates_pass_the_shared_date_check(quota_store: Any) -> None:
    open_lines(quota_store)
    draw = Draw(key="d1", line_id="S0", amount=cny("1.00"))
    for bad in (datetime.date(1899, 12, 31), datetime.date(3000, 1, 1), "2026-03-01"):
        with pytest.raises(InvalidInput, match="as_of"):
            quota_store.apply(draw, as_of=bad)
        with pytest.raises(InvalidInput, match="as_of"):
            quota_store.available("S0", as_of=bad)
    assert quota_store.result("d1") is None
