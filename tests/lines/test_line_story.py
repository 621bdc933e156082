"""A cash line's story through the services on every store, asserting every entry to the fen:
opened, drawn twice, a statement, the minimum paid late (late fee and penalty interest), the
next statement, repaid in full, the credit left over refunded; reconciled after every step."""

from __future__ import annotations

from datetime import date

from lines_kit import OPENED, assert_clean, cny, open_a1

from loancore.checks import DATE_MAX
from loancore.ports import UnitOfWork
from loancore.services import (
    LineApplied,
    apply_line_event,
    close_lines_day,
    line_statements,
)
from loancore.servicing import Draw, LineQuotaEffectKind, RefundCredit, Repay, ServicingEvent

Legs = list[tuple[str, str, str]]


def posted(uow: UnitOfWork, entry_ids: tuple[str, ...]) -> dict[str, Legs]:
    with uow:
        return {
            entry_id: [
                (leg.subject_code, leg.side.value, str(leg.amount.amount))
                for leg in uow.ledger.get_entry(entry_id).legs
            ]
            for entry_id in entry_ids
        }


def entries_of_day(uow: UnitOfWork, event_id: str) -> dict[str, Legs]:
    """The entries whose id names ``event_id`` (the day close's are found this way)."""
    with uow:
        ids = tuple(e.entry_id for e in uow.ledger.entries() if f":{event_id}" in e.entry_id)
    return posted(uow, ids)


def apply(uow: UnitOfWork, event: ServicingEvent) -> tuple[LineApplied, dict[str, Legs]]:
    applied = apply_line_event(uow, "A1", event)
    with uow:
        assert uow.loans.load_line("A1").account == applied.account  # stored whole
    assert_clean(uow, "A1")
    return applied, posted(uow, applied.record.entry_ids)


def used(uow: UnitOfWork) -> int:
    with uow:
        return uow.quota.balance("Q1").used_minor


def balance(uow: UnitOfWork, code: str) -> str:
    with uow:
        return str(
            uow.ledger.balance(code, "CNY", as_of=DATE_MAX, dimensions={"loan": "A1"}).amount
        )


def test_a_cash_line_from_draws_to_refund_books_every_entry_to_the_fen(uow: UnitOfWork) -> None:
    account = open_a1(uow)
    assert (account.opened_on, account.next_statement_date()) == (OPENED, date(2026, 3, 10))
    assert dict(account.dimensions) == {"customer": "C1", "loan": "A1"}

    d1, legs = apply(uow, Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("10000.00")))
    assert legs == {
        "disbursement.card:d1": [("1303.01", "debit", "10000.00"), ("1002", "credit", "10000.00")]
    }
    assert [(e.kind, e.amount) for e in d1.record.quota_effects] == [
        (LineQuotaEffectKind.DRAW, cny("10000.00"))
    ]
    assert used(uow) == 1_000_000

    # 3 days x 10,000.00 x 0.0005 = 15.00 accrued on the way
    _d2, legs = apply(uow, Draw(event_id="d2", as_of=date(2026, 3, 5), amount=cny("2000.00")))
    assert legs == {
        "interest.accrued:d2.accrue": [("1303.03", "debit", "15.00"), ("6011", "credit", "15.00")],
        "disbursement.card:d2": [("1303.01", "debit", "2000.00"), ("1002", "credit", "2000.00")],
    }
    assert used(uow) == 1_200_000

    # closed day by day from 03-05 (the last event's date): 03-05 only provides (正常: 1% of
    # 12,015.00 = 120.15), each later day accrues 6.00 and tops the allowance up by 0.06;
    # statement 1 on 03-10: 15.00 + 5 days x 12,000.00 x 0.0005 = 45.00 billed; minimum 10% of
    # 12,000.00 + 45.00 = 1,245.00, due 03-30, late from 04-03 (1% of 12,045.00: 120.45 in all)
    closed = close_lines_day(uow, date(2026, 3, 10))
    assert (closed.lines_closed, closed.days_closed, closed.statements) == (1, 6, 1)
    assert (closed.entries, closed.failed) == (1 + 4 * 2 + 3, ())
    assert entries_of_day(uow, "eod20260305-A1") == {
        "provision.charged:eod20260305-A1.stage1": [
            ("6702", "debit", "120.15"),
            ("1304.01", "credit", "120.15"),
        ],
    }
    assert entries_of_day(uow, "eod20260310-A1") == {
        "interest.accrued:eod20260310-A1.s1.accrue": [
            ("1303.03", "debit", "6.00"),
            ("6011", "credit", "6.00"),
        ],
        "interest.due:eod20260310-A1.s1.due": [
            ("1132", "debit", "45.00"),
            ("1303.03", "credit", "45.00"),
        ],
        "provision.charged:eod20260310-A1.stage1": [
            ("6702", "debit", "0.06"),
            ("1304.01", "credit", "0.06"),
        ],
    }
    (bill,) = line_statements(uow, "A1")
    assert (bill.number, bill.closed_on, bill.due_date) == (1, date(2026, 3, 10), date(2026, 3, 30))
    assert (bill.principal, bill.interest, bill.minimum_payment) == (
        cny("12000.00"),
        cny("45.00"),
        cny("1245.00"),
    )
    assert_clean(uow, "A1")

    # the minimum unpaid on 04-03: late fee 5% of 1,245.00 = 62.25, capped at 50.00, charged
    # on 04-03; penalty interest from 04-03 on 1,245.00 at 0.00075 a day: 1 day = 0.93375 ->
    # 0.93 on 04-04, 2 days = 1.8675 -> 1.87 (0.94 more) on 04-05; interest 6.00 a day; from
    # 04-03 past due: 关注, 2% of the exposure (245.06 required on 04-05)
    closed = close_lines_day(uow, date(2026, 4, 5))
    assert (closed.lines_closed, closed.days_closed, closed.statements) == (1, 26, 0)
    assert entries_of_day(uow, "eod20260403-A1") == {
        "fee.charged:eod20260403-A1.s1.late": [
            ("1221", "debit", "50.00"),
            ("6021.03", "credit", "50.00"),
        ],
        "interest.accrued:eod20260403-A1.accrue": [
            ("1303.03", "debit", "6.00"),
            ("6011", "credit", "6.00"),
        ],
        "provision.charged:eod20260403-A1.stage1": [
            ("6702", "debit", "122.95"),
            ("1304.01", "credit", "122.95"),
        ],
    }
    assert entries_of_day(uow, "eod20260405-A1") == {
        "interest.accrued:eod20260405-A1.penalty": [
            ("1132", "debit", "0.94"),
            ("6011", "credit", "0.94"),
        ],
        "interest.accrued:eod20260405-A1.accrue": [
            ("1303.03", "debit", "6.00"),
            ("6011", "credit", "6.00"),
        ],
        "provision.charged:eod20260405-A1.stage1": [
            ("6702", "debit", "0.14"),
            ("1304.01", "credit", "0.14"),
        ],
    }
    assert balance(uow, "1304.01") == "245.06"
    assert_clean(uow, "A1")

    # the minimum paid late on 04-06: penalty to 3 days = 2.80125 -> 2.80 (0.93 more), interest
    # 27 days = 162.00 (6.00 more) made receivable; 1,245.00 pays the fee 50.00, penalty 2.80,
    # interest 45.00 + 162.00 and principal 985.20 (Civil Code art. 561: costs, interest, principal)
    r1, legs = apply(uow, Repay(event_id="r1", as_of=date(2026, 4, 6), amount=cny("1245.00")))
    assert legs == {
        "interest.accrued:r1.penalty": [("1132", "debit", "0.93"), ("6011", "credit", "0.93")],
        "interest.accrued:r1.accrue": [("1303.03", "debit", "6.00"), ("6011", "credit", "6.00")],
        "interest.due:r1.forward": [("1132", "debit", "162.00"), ("1303.03", "credit", "162.00")],
        "repayment:r1": [
            ("3001", "debit", "1245.00"),
            ("1303.01", "credit", "985.20"),
            ("1132", "credit", "209.80"),
            ("1221", "credit", "50.00"),
        ],
    }
    assert [(e.kind, e.amount) for e in r1.record.quota_effects] == [
        (LineQuotaEffectKind.RESTORE_REPAID, cny("985.20"))
    ]
    assert (r1.account.principal, r1.account.minimum_unpaid, r1.account.penalty) == (
        1_101_480,
        0,
        0,
    )
    assert used(uow) == 1_101_480

    # statement 2 on 04-10: 4 days x 11,014.80 x 0.0005 = 22.0296; the cycle's 184.0296 rounds
    # once to 184.03, 162.00 booked: 22.03; minimum 1,101.48 + 22.03 = 1,123.51
    closed = close_lines_day(uow, date(2026, 4, 10))
    assert (closed.lines_closed, closed.statements) == (1, 1)
    second = line_statements(uow, "A1")[1]
    assert (second.number, second.interest, second.minimum_payment) == (
        2,
        cny("22.03"),
        cny("1123.51"),
    )

    # repaid in full on 04-15 with 12,000.00: 5 days' interest 27.537 -> 27.54, the days 04-11 to
    # 04-14 closed first (inline catch-up: 5.51, 5.50, 5.51, 5.51, the cycle rounded once to
    # date each day, and their provisions), 5.51 on the payment's day; 935.63 left over
    r2, legs = apply(uow, Repay(event_id="r2", as_of=date(2026, 4, 15), amount=cny("12000.00")))
    caught_up = {key: value for key, value in legs.items() if ":eod202604" in key}
    accrued = [v[0][2] for k, v in caught_up.items() if k.startswith("interest.accrued:")]
    assert accrued == ["5.51", "5.50", "5.51", "5.51"]
    assert len(caught_up) == 8  # an accrual and a provision a day
    legs = {key: value for key, value in legs.items() if key not in caught_up}
    assert legs == {
        "interest.accrued:r2.accrue": [("1303.03", "debit", "5.51"), ("6011", "credit", "5.51")],
        "interest.due:r2.forward": [("1132", "debit", "27.54"), ("1303.03", "credit", "27.54")],
        "repayment:r2": [
            ("3001", "debit", "12000.00"),
            ("1303.01", "credit", "11014.80"),
            ("1132", "credit", "49.57"),
            ("2241.01", "credit", "935.63"),
        ],
    }
    assert (r2.account.owed(), r2.account.credit) == (0, 93_563)
    assert used(uow) == 0

    refund, legs = apply(
        uow, RefundCredit(event_id="f1", as_of=date(2026, 4, 16), amount=cny("935.63"))
    )
    assert legs == {  # 04-15 closed first: nothing owed, the allowance released
        "provision.released:eod20260415-A1.stage1": [
            ("1304.01", "debit", "110.59"),
            ("6702", "credit", "110.59"),
        ],
        "overpayment.refunded:f1": [("2241.01", "debit", "935.63"), ("1002", "credit", "935.63")],
    }
    assert refund.account.credit == 0
    for code in ("1303.01", "1303.03", "1132", "1221", "2241.01", "1304.01"):
        assert balance(uow, code) == "0.00", code
    # income: 15.00 + 30.00 + 1.87 + 156.00 + 0.93 + 6.00 + 22.03 + 27.54 interest and
    # penalty, 50.00 late fee = cash in 13,245.00 - out 12,000.00 - 935.63 refunded
    assert (balance(uow, "6011"), balance(uow, "6021.03")) == ("259.37", "50.00")
    assert [s.number for s in line_statements(uow, "A1")] == [1, 2]
    assert_clean(uow)
