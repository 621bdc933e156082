"""Settlement fed by servicing, end to end on memory, SQLite and PostgreSQL: orders booked by
``book_order`` are captured for settlement, merchant refunds booked by ``apply_event`` are netted,
and every step keeps the store's merchant payable equal to the ledger's (2202 by merchant).

The stories of issue 13 over the National Day week of 2025: orders of 30 September paid T+1 on
9 October; the make-up Sunday 28 September a business day on China's calendar and not on a
channel that closes it; a refund after payout carried as a receivable and netted into the next
batch; a failed payout retried; a file with a mismatched amount that books nothing; a merchant
on weekly terms whose refunds exceed its sales for a week. Each run is made twice: the second
is a replay that books nothing.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import stored_kit

from loancore.calendar import BusinessCalendar
from loancore.money import Money, Rounding
from loancore.ports import UnitOfWork
from loancore.services import apply_event, book_order
from loancore.services import settlement as svc
from loancore.servicing import MerchantRefund
from loancore.settlement import LineStatus, MerchantTerms, ServiceFee, SettlementSchedule

D = datetime.date
HEADER = "batch_id,line_id,amount,status,channel_ref,reason\n"
FEE = ServiceFee(
    rate=Decimal("0.006"),
    rounding=Rounding.HALF_UP,
    fee_min=Money("1.00", "CNY"),
    fee_max=Money("500.00", "CNY"),
)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def terms(merchant_id: str, schedule: SettlementSchedule | None = None) -> MerchantTerms:
    return MerchantTerms(
        merchant_id=merchant_id,
        schedule=schedule or SettlementSchedule.t_plus(1),
        fee=FEE,
        cutoff=datetime.time(22, 0),
        payee_account=f"6222{merchant_id}",
    )


def book(
    uow: UnitOfWork, loan_id: str, merchant_id: str, principal: str, at: datetime.datetime
) -> None:
    book_order(
        uow,
        order_id=f"order-{loan_id}",
        loan_id=loan_id,
        customer_id="C1",
        line_id="LINE",
        product_id="clinic-12",
        product_version=1,
        principal=cny(principal),
        installments=12,
        start_date=at.date(),
        merchant_id=merchant_id,
        captured_at=at,
    )


def refund(uow: UnitOfWork, loan_id: str, event_id: str, amount: str, on: datetime.date) -> Money:
    done = apply_event(
        uow, loan_id, MerchantRefund(event_id=event_id, as_of=on, amount=cny(amount))
    )
    assert done.outcome is not None and done.outcome.merchant_clawback is not None
    return done.outcome.merchant_clawback


def entry_count(uow: UnitOfWork) -> int:
    with uow:
        return sum(1 for _entry in uow.ledger.entries())


def consistent(uow: UnitOfWork, *merchants: str) -> None:
    """Store and ledger agree on every merchant's payable; the trial balance balances."""
    assert svc.payable_matches_ledger(uow, merchants, as_of=D(2026, 12, 31)) == ()


def ledger_payable(uow: UnitOfWork, merchant_id: str) -> Money:
    with uow:
        return uow.ledger.balance(
            "2202", "CNY", as_of=D(2026, 12, 31), dimensions={"merchant": merchant_id}
        )


def run(
    uow: UnitOfWork, channel: str, day: datetime.date, calendar: BusinessCalendar
) -> svc.SettlementResult:
    """Run the date, then run it again: the replay books nothing."""
    done = svc.run_settlement(uow, channel, day, calendar)
    booked = entry_count(uow)
    again = svc.run_settlement(uow, channel, day, calendar)
    assert again.replayed and again.entries == () and again.batch == done.batch
    assert entry_count(uow) == booked
    return done


def paid(result: svc.SettlementResult) -> list[tuple[str, str]]:
    return [(i.merchant_id, str(i.amount.amount)) for i in result.batch.instructions]


def result_file(batch_id: str, merchant_id: str, amount: str, status: str) -> str:
    return HEADER + f"{batch_id},{batch_id}:{merchant_id},{amount},{status},R,\n"


def test_orders_booked_by_servicing_settle_on_9_october_and_on_the_make_up_sunday_where_open(
    uow: UnitOfWork, cn: BusinessCalendar, closed_makeup: BusinessCalendar
) -> None:
    stored_kit.set_up_servicing(uow)
    svc.save_merchant_terms(uow, "up", terms("M1"))
    svc.save_merchant_terms(uow, "closed", terms("M2"))
    book(uow, "L2", "M1", "2000.00", datetime.datetime(2025, 9, 26, 15))
    book(uow, "L3", "M2", "2000.00", datetime.datetime(2025, 9, 26, 15))
    book(uow, "L1", "M1", "10000.00", datetime.datetime(2025, 9, 30, 15))
    book(uow, "L4", "M9", "1000.00", datetime.datetime(2025, 9, 30, 16))  # M9: no terms
    consistent(uow, "M1", "M2")
    with uow:  # principal less the 5% merchant discount, pending; nothing for M9
        assert uow.settlement.merchant_payable("M1", "CNY") == cny("11400.00")
        assert uow.settlement.merchant_channel("M9") is None
    # Sunday 28 September is a make-up working day in China: paid on China's calendar ...
    sunday = run(uow, "up", D(2025, 9, 28), cn)
    assert paid(sunday) == [("M1", "1888.60")]  # 1,900.00 less 0.6%
    assert sunday.batch.lines[0].order_ids == ("order-L2",)
    # ... and not on a channel closed on make-up days, which pays on Monday 29 September.
    assert run(uow, "closed", D(2025, 9, 28), closed_makeup).batch.lines == ()
    assert paid(run(uow, "closed", D(2025, 9, 29), closed_makeup)) == [("M2", "1888.60")]
    consistent(uow, "M1", "M2")
    # 30 September's order: 1-8 October is National Day, T+1 is Thursday 9 October.
    assert run(uow, "up", D(2025, 10, 8), cn).batch.lines == ()
    national = run(uow, "up", D(2025, 10, 9), cn)
    assert paid(national) == [("M1", "9443.00")]  # 9,500.00 less 57.00
    consistent(uow, "M1", "M2")
    assert ledger_payable(uow, "M1").is_zero() and ledger_payable(uow, "M9") == cny("950.00")


def test_refund_after_payout_is_a_receivable_netted_next_batch_and_a_failed_payout_is_retried(
    uow: UnitOfWork, cn: BusinessCalendar
) -> None:
    stored_kit.set_up_servicing(uow)
    svc.save_merchant_terms(uow, "up", terms("M1"))
    book(uow, "L1", "M1", "10000.00", datetime.datetime(2025, 9, 30, 15))
    assert paid(run(uow, "up", D(2025, 10, 9), cn)) == [("M1", "9443.00")]
    svc.import_channel_file(
        uow, result_file("up:2025-10-09", "M1", "9443.00", "SUCCESS"), booked_on=D(2025, 10, 9)
    )
    consistent(uow, "M1")

    # The patient returns part of the treatment after the clinic was paid: servicing refunds
    # 3,000.00 of principal; the clinic gives back 2,850.00 (the 5% discount comes back to it).
    assert refund(uow, "L1", "refund-1", "3000.00", D(2025, 10, 10)) == cny("2850.00")
    with uow:
        assert uow.settlement.merchant_payable("M1", "CNY") == cny("-2850.00")
    consistent(uow, "M1")
    # Saturday 11 October is a make-up working day: the refund is netted, nothing to pay.
    owed = run(uow, "up", D(2025, 10, 11), cn)
    (line,) = owed.batch.lines
    assert line.refunded == cny("2850.00") and line.payment.is_zero()
    assert line.carried_out == cny("-2850.00") and owed.batch.instructions == ()
    assert ledger_payable(uow, "M1") == cny("-2850.00")  # 2202 in debit: a receivable
    consistent(uow, "M1")

    # The next order nets the receivable: 4,750.00 - 28.50 fee - 2,850.00.
    book(uow, "L2", "M1", "5000.00", datetime.datetime(2025, 10, 13, 10))
    netted = run(uow, "up", D(2025, 10, 14), cn)
    assert paid(netted) == [("M1", "1871.50")]
    assert netted.batch.lines[0].carried_in == cny("-2850.00")
    consistent(uow, "M1")

    # A file with a mismatched amount books nothing; the failed payout is paid by the next run.
    wrong = svc.import_channel_file(
        uow, result_file("up:2025-10-14", "M1", "1871.51", "SUCCESS"), booked_on=D(2025, 10, 15)
    )
    assert [m.kind.value for m in wrong.mismatches] == ["amount"] and wrong.entries == ()
    failed = svc.import_channel_file(
        uow, result_file("up:2025-10-14", "M1", "1871.50", "FAILED"), booked_on=D(2025, 10, 15)
    )
    assert [i.line_id for i in failed.record.failed] == ["up:2025-10-14:M1"]
    consistent(uow, "M1")
    retried = run(uow, "up", D(2025, 10, 15), cn)
    assert paid(retried) == [("M1", "1871.50")]
    assert retried.batch.lines[0].retried_line_ids == ("up:2025-10-14:M1",)
    svc.import_channel_file(
        uow, result_file("up:2025-10-15", "M1", "1871.50", "SUCCESS"), booked_on=D(2025, 10, 16)
    )
    with uow:
        assert uow.settlement.line_statuses("up:2025-10-15") == {
            "up:2025-10-15:M1": LineStatus.CONFIRMED
        }
    assert ledger_payable(uow, "M1").is_zero()
    consistent(uow, "M1")
    statement = svc.merchant_statement(uow, "M1", D(2025, 10, 1), D(2025, 10, 31))
    assert statement.refunded == cny("2850.00") and statement.paid == cny("11314.50")


def test_a_week_whose_refunds_exceed_its_sales_carries_forward_and_is_recovered(
    uow: UnitOfWork, cn: BusinessCalendar
) -> None:
    stored_kit.set_up_servicing(uow)
    weekly = SettlementSchedule.weekly(1)  # Tuesday, for the prior Monday-Sunday week
    svc.save_merchant_terms(uow, "wk", terms("M3", weekly))
    book(uow, "L6", "M3", "10000.00", datetime.datetime(2025, 9, 29, 11))
    # The week of 29 September pays on Tuesday 7 October, a holiday: rolled to 9 October.
    assert paid(run(uow, "wk", D(2025, 10, 9), cn)) == [("M3", "9443.00")]
    # The week of 13 October: 950.00 sold, 3,800.00 refunded.
    book(uow, "L5", "M3", "1000.00", datetime.datetime(2025, 10, 14, 9))
    assert refund(uow, "L6", "refund-6", "4000.00", D(2025, 10, 15)) == cny("3800.00")
    short = run(uow, "wk", D(2025, 10, 21), cn)
    (line,) = short.batch.lines
    assert (line.captured, line.fees, line.refunded) == (cny("950.00"), cny("5.70"), cny("3800.00"))
    assert line.carried_out == cny("-2855.70") and short.batch.instructions == ()
    assert ledger_payable(uow, "M3") == cny("-2855.70")
    consistent(uow, "M3")
    book(uow, "L7", "M3", "5000.00", datetime.datetime(2025, 10, 22, 9))
    assert paid(run(uow, "wk", D(2025, 10, 28), cn)) == [("M3", "1865.80")]
    consistent(uow, "M3")
    with uow:
        assert uow.settlement.carry_forward("M3", "CNY").is_zero()
