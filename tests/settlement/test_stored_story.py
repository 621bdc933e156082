"""Settlement stored and run through the services, on memory, SQLite and PostgreSQL.

The National Day story end to end: orders captured on Tue 30 Sep 2025 settle T+1 on Thu 9 Oct
(1-8 Oct is the holiday); the channel confirms one payout and fails the other; a refund after
payout is netted into the next batch (carried forward as a receivable until new orders cover
it); the failed payout is paid again; a mismatched file books nothing; a malformed file is
refused with its line number and nothing is booked; running a date again books once. After
every step the trial balance balances and each merchant's payable by the store equals its
merchant-payable balance in the ledger.
"""

from __future__ import annotations

import datetime

import attrs
import pytest
from settlement_support import at, t1
from stored_kit import disbursed, refunded

from loancore.calendar import BusinessCalendar
from loancore.errors import IdempotencyConflict, InvalidInput, InvariantViolation
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import settlement as svc
from loancore.settlement import Capture, ChannelFileError, Deduction, DeductionKind
from loancore.settlement.records import LineStatus
from loancore.testing.settlement import cny

D = datetime.date
CHANNEL = "up"
MERCHANTS = ("M1", "M2")
HEADER = "batch_id,line_id,amount,status,channel_ref,reason\n"


def money(text: str) -> Money:
    return Money(text, "CNY")


def capture(order_id: str, merchant_id: str, amount: str, when: datetime.datetime) -> Capture:
    return Capture(
        order_id=order_id, merchant_id=merchant_id, amount=money(amount), captured_at=when
    )


def refund(deduction_id: str, order_id: str, amount: str, when: datetime.datetime) -> Deduction:
    return Deduction(
        deduction_id=deduction_id, kind=DeductionKind.REFUND, merchant_id="M1",
        order_id=order_id, amount=money(amount), occurred_at=when,
    )  # fmt: skip


END = D(2025, 12, 31)


def consistent(uow: UnitOfWork) -> None:
    """The trial balance balances and each merchant's payable is the same by store and ledger."""
    assert svc.payable_matches_ledger(uow, MERCHANTS, as_of=END) == ()


def entry_count(uow: UnitOfWork) -> int:
    with uow:
        return sum(1 for _entry in uow.ledger.entries())


def set_up(uow: UnitOfWork) -> None:
    for merchant_id in MERCHANTS:
        svc.save_merchant_terms(uow, CHANNEL, t1(merchant_id))
    for item in (
        capture("O1", "M1", "10000.00", at(2025, 9, 30, 15)),
        capture("O2", "M2", "500.00", at(2025, 9, 30, 16)),
    ):
        svc.record_capture(uow, item, entries=disbursed(item))
    consistent(uow)


def test_national_day_story_end_to_end(uow: UnitOfWork, cn: BusinessCalendar) -> None:
    set_up(uow)
    # 8 Oct is still the holiday: nothing is due yet.
    quiet = svc.run_settlement(uow, CHANNEL, D(2025, 10, 8), cn)
    assert quiet.batch.lines == () and quiet.entries == ()
    consistent(uow)

    first = svc.run_settlement(uow, CHANNEL, D(2025, 10, 9), cn)
    assert [(i.merchant_id, str(i.amount.amount)) for i in first.batch.instructions] == [
        ("M1", "9940.00"), ("M2", "497.00"),
    ]  # fmt: skip
    assert [e.entry_id for e in first.entries] == [
        "payout.instructed:up:2025-10-09:M1", "payout.instructed:up:2025-10-09:M2",
    ]  # fmt: skip
    consistent(uow)
    booked = entry_count(uow)

    again = svc.run_settlement(uow, CHANNEL, D(2025, 10, 9), cn)
    assert again.replayed and again.entries == () and again.batch == first.batch
    assert entry_count(uow) == booked

    payout = svc.export_batch_csv(uow, CHANNEL, D(2025, 10, 9))
    assert "up:2025-10-09:M1,M1,6222M1,9940.00,CNY,2025-10-09" in payout
    result = HEADER + (
        "up:2025-10-09,up:2025-10-09:M1,9940.00,SUCCESS,R1,\n"
        "up:2025-10-09,up:2025-10-09:M2,497.00,FAILED,R2,account closed\n"
    )
    imported = svc.import_channel_file(uow, result, booked_on=D(2025, 10, 10))
    assert [i.merchant_id for i in imported.record.confirmed] == ["M1"]
    assert [i.merchant_id for i in imported.record.failed] == ["M2"]
    assert imported.mismatches == () and len(imported.entries) == 2
    with uow:
        statuses = uow.settlement.line_statuses("up:2025-10-09")
        assert statuses == {
            "up:2025-10-09:M1": LineStatus.CONFIRMED, "up:2025-10-09:M2": LineStatus.FAILED,
        }  # fmt: skip
        assert uow.settlement.merchant_payable("M2", "CNY") == cny(49_700)
        assert uow.ledger.balance("3001", "CNY", as_of=D(2025, 10, 10)) == cny(0)
    consistent(uow)
    booked = entry_count(uow)
    replay = svc.import_channel_file(uow, result, booked_on=D(2025, 10, 10))
    assert replay.replayed and replay.entries == () and entry_count(uow) == booked

    # A refund after payout, and a small new order: M1's net is negative, carried forward.
    r1 = refund("R1", "O1", "2000.00", at(2025, 10, 10, 11))
    svc.record_deduction(uow, r1, entries=refunded(r1))
    o3 = capture("O3", "M1", "1000.00", at(2025, 10, 10, 10))
    svc.record_capture(uow, [o3], entries=disbursed(o3))
    consistent(uow)
    # Sat 11 Oct 2025 is a make-up working day (调休): T+1 of Fri 10 Oct.
    second = svc.run_settlement(uow, CHANNEL, D(2025, 10, 11), cn)
    m1, m2 = second.batch.lines
    assert (m1.refunded, m1.fees, m1.payment, m1.carried_out) == (
        cny(200_000), cny(600), cny(0), cny(-100_600),
    )  # fmt: skip
    assert (m2.retried, m2.payment, m2.retried_line_ids) == (
        cny(49_700), cny(49_700), ("up:2025-10-09:M2",),
    )  # fmt: skip
    with uow:
        assert uow.settlement.carry_forward("M1", "CNY") == cny(-100_600)
        assert uow.settlement.merchant_payable("M1", "CNY") == cny(-100_600)
        assert uow.settlement.pending(CHANNEL).retries == ()
    consistent(uow)

    # New orders cover the receivable: netted into the next batch.
    o4 = capture("O4", "M1", "5000.00", at(2025, 10, 13, 10))
    svc.record_capture(uow, o4, entries=disbursed(o4))
    third = svc.run_settlement(uow, CHANNEL, D(2025, 10, 14), cn)
    (line,) = third.batch.lines
    assert (line.carried_in, line.fees, line.payment, line.carried_out) == (
        cny(-100_600), cny(3_000), cny(396_400), cny(0),
    )  # fmt: skip
    consistent(uow)

    svc.import_channel_file(
        uow, HEADER + "up:2025-10-11,up:2025-10-11:M2,497.00,SUCCESS,R3,\n",
        booked_on=D(2025, 10, 13),
    )  # fmt: skip
    consistent(uow)
    statement = svc.merchant_statement(uow, "M1", D(2025, 10, 1), D(2025, 10, 31))
    assert [day for day, _line in statement.lines] == [
        D(2025, 10, 9),
        D(2025, 10, 11),
        D(2025, 10, 14),
    ]
    assert statement.order_count == 3
    assert (statement.captured, statement.refunded, statement.fees) == (
        cny(1_600_000), cny(200_000), cny(9_600),
    )  # fmt: skip
    assert (statement.instructed, statement.paid, statement.in_transit) == (
        cny(1_390_400), cny(994_000), cny(396_400),
    )  # fmt: skip
    assert statement.closing_carried == cny(0)
    # Each merchant's view of the batches: its line only, with what each batch settled.
    with uow:
        m1_batches = uow.settlement.merchant_batches("M1", D(2025, 10, 1), D(2025, 10, 31))
        m2_batches = uow.settlement.merchant_batches("M2", D(2025, 10, 1), D(2025, 10, 31))
    assert [
        (b.run_date, line.order_ids, line.deduction_ids, line.retried_line_ids)
        for b in m1_batches
        for line in b.lines
    ] == [
        (D(2025, 10, 9), ("O1",), (), ()),
        (D(2025, 10, 11), ("O3",), ("R1",), ()),
        (D(2025, 10, 14), ("O4",), (), ()),
    ]
    assert [
        (b.run_date, line.order_ids, line.retried_line_ids, [i.merchant_id for i in b.instructions])
        for b in m2_batches
        for line in b.lines
    ] == [
        (D(2025, 10, 9), ("O2",), (), ["M2"]),
        (D(2025, 10, 11), (), ("up:2025-10-09:M2",), ["M2"]),
    ]


def test_a_mismatched_file_books_nothing_and_a_malformed_file_is_refused_whole(
    uow: UnitOfWork, cn: BusinessCalendar
) -> None:
    set_up(uow)
    svc.run_settlement(uow, CHANNEL, D(2025, 10, 9), cn)
    booked = entry_count(uow)
    mismatched = HEADER + (
        "up:2025-10-09,up:2025-10-09:M1,9939.00,SUCCESS,R1,\n"  # amount differs
        "up:2025-10-09,up:2025-10-09:M9,1.00,SUCCESS,R2,\n"  # no such line
        "up:2025-10-10,up:2025-10-10:M2,497.00,SUCCESS,R3,\n"  # no such batch
    )
    outcome = svc.import_channel_file(uow, mismatched, booked_on=D(2025, 10, 10))
    assert [(m.kind.value, m.line_number) for m in outcome.mismatches] == [
        ("amount", 2), ("unknown_line", 3), ("wrong_batch", 4),
    ]  # fmt: skip
    assert outcome.entries == () and entry_count(uow) == booked
    with uow:
        assert set(uow.settlement.line_statuses("up:2025-10-09").values()) == {
            LineStatus.INSTRUCTED
        }
    malformed = HEADER + (
        "up:2025-10-09,up:2025-10-09:M1,9940.00,SUCCESS,R1,\n"
        "up:2025-10-09,up:2025-10-09:M2,4x7.00,FAILED,R2,\n"
    )
    with pytest.raises(ChannelFileError) as refused:
        svc.import_channel_file(uow, malformed, booked_on=D(2025, 10, 10))
    assert refused.value.line_number == 3 and refused.value.field == "line 3.amount"
    assert entry_count(uow) == booked
    with uow:
        assert set(uow.settlement.line_statuses("up:2025-10-09").values()) == {
            LineStatus.INSTRUCTED
        }
    consistent(uow)
    # The same file id with other text is a conflict, not a second import.
    with pytest.raises(IdempotencyConflict):
        svc.import_channel_file(
            uow, mismatched + "\n", booked_on=D(2025, 10, 10), file_id=outcome.record.file_id
        )


def test_the_store_refuses_what_would_settle_twice_and_keeps_nothing_of_it(
    uow: UnitOfWork, cn: BusinessCalendar
) -> None:
    set_up(uow)
    first = svc.run_settlement(uow, CHANNEL, D(2025, 10, 9), cn)
    other_day = attrs.evolve(first.batch, batch_id="up:2025-10-10")
    with pytest.raises(InvariantViolation), uow:
        uow.settlement.save_batch(other_day)
    with uow:
        assert uow.settlement.batch("up:2025-10-10") is None
    with pytest.raises(IdempotencyConflict), uow:
        uow.settlement.add_captures([capture("O1", "M1", "1.00", at(2025, 9, 30))])
    with uow:  # the same capture again is a replay
        uow.settlement.add_captures([capture("O1", "M1", "10000.00", at(2025, 9, 30, 15))])
        uow.commit()
    with pytest.raises(InvalidInput, match="merchant_id"), uow:
        uow.settlement.add_captures([capture("O9", "M9", "1.00", at(2025, 9, 30))])
    consistent(uow)
