"""``loancore story``: one medical-aesthetics installment loan through every part of loancore.

A patient buys a 12,000 CNY treatment at a clinic on 2026-09-30 and pays in 12 monthly
installments out of a revolving credit quota. The demo:

1. grants the patient a quota (a master line and a medical-aesthetics sub-line), holds the
   order's amount while the clinic confirms, and captures it when the loan is booked;
2. builds the 等额本息 schedule and discloses the annualized rate (IRR, Regulation Z, EU), checked
   against the caps;
3. books the events through the posting templates (``loancore.postings``) in a SQLite ledger of
   accounting subjects: the loan and the payable to the clinic (entrusted payment), the T+1
   payment to the clinic net of a 3% service fee (T+1 on China's business-day calendar: the
   National Day holiday pushes it to 2026-10-08), the first installment's interest accrued and
   falling due, its repayment through the payment channel's clearing subject, and the channel
   paying into the bank; restores the quota by the principal repaid only;
4. prints the trial balance, runs the audit, exports the books to beancount and has beancount's
   own loader re-check them to the fen.

Files land in ``story-output/`` (or the folder given as the first argument).
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from loancore import apr
from loancore.adapters.beancount_export import write_beancount
from loancore.adapters.calendars import china_calendar
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.amortization import LoanTerms, Schedule, amortize
from loancore.ledger import Side, default_chart
from loancore.money import Money, Rounding
from loancore.postings import (
    DEFAULT_MAPPING,
    ClearingSettled,
    Component,
    Event,
    InterestAccrued,
    InterestDue,
    MerchantDisbursement,
    MerchantSettlement,
    RepaymentReceived,
    entries_for,
)
from loancore.quota import Capture, Grant, Hold, RepaymentParts, RestoreRepaid
from loancore.services import Ledger

__all__ = ["main", "run"]

ORDER_DAY = date(2026, 9, 30)
PRINCIPAL = Money("12000.00", "CNY")
SERVICE_FEE_RATE = Decimal("0.03")  # charged to the clinic, deducted from its settlement
SETTLEMENT_LAG_DAYS = 1  # T+1 business days
LOAN = {
    "loan": "L-2026-0001",
    "customer": "C-0042",
    "merchant": "clinic-7",
    "product": "med-aesthetic",
}


def _say(text: str = "") -> None:
    print(text)


def _used(quota: MemoryQuotaStore, line_id: str) -> Money:
    return quota.line(line_id).money(quota.balance(line_id).used_minor)


def _quota_story(quota: MemoryQuotaStore) -> None:
    _say("1. Credit quota (授信额度)")
    quota.apply(
        Grant(
            key="grant-master",
            line_id="C-0042",
            borrower_id="C-0042",
            limit=Money("50000.00", "CNY"),
            starts_on=date(2026, 1, 1),
            expires_on=date(2027, 12, 31),
        ),
        as_of=ORDER_DAY,
    )
    quota.apply(
        Grant(
            key="grant-med",
            line_id="C-0042/med",
            borrower_id="C-0042",
            limit=Money("30000.00", "CNY"),
            starts_on=date(2026, 1, 1),
            expires_on=date(2027, 12, 31),
            product="med-aesthetic",
            master_id="C-0042",
        ),
        as_of=ORDER_DAY,
    )
    held = quota.apply(
        Hold(
            key="order-9001",
            line_id="C-0042/med",
            amount=PRINCIPAL,
            expires_on=ORDER_DAY + timedelta(days=3),
        ),
        as_of=ORDER_DAY,
    )
    _say(
        f"   hold for the order: {held.events[0].kind.name}; available on the sub-line "
        f"{quota.available('C-0042/med', as_of=ORDER_DAY)}"
    )
    captured = quota.apply(Capture(key="capture-9001", hold_id="order-9001"), as_of=ORDER_DAY)
    _say(
        f"   captured at booking: {captured.events[0].kind.name}; used {_used(quota, 'C-0042/med')}, "
        f"available {quota.available('C-0042/med', as_of=ORDER_DAY)}"
    )
    replay = quota.apply(Capture(key="capture-9001", hold_id="order-9001"), as_of=ORDER_DAY)
    _say(
        f"   the same capture replayed returns the first result (replayed={replay.replayed}); used still {_used(quota, 'C-0042/med')}"
    )


def _schedule_story() -> Schedule:
    _say()
    _say("2. Schedule (等额本息, 18% a year, HALF_UP, residue on the last installment)")
    terms = LoanTerms(
        principal=PRINCIPAL.amount,
        currency="CNY",
        annual_rate=Decimal("0.18"),
        installments=12,
        method="equal_installment",
        start_date=ORDER_DAY,
        rounding=Rounding.HALF_UP,
    )
    schedule = amortize(terms)
    _say(f"   {'#':>2} {'due':10} {'principal':>10} {'interest':>9} {'total':>9} {'balance':>10}")
    for i in schedule:
        _say(
            f"   {i.number:>2} {i.due_date.isoformat():10} {i.principal:>10} {i.interest:>9} "
            f"{i.total:>9} {i.balance_after:>10}"
        )
    _say(
        f"   total interest {schedule.total_interest}; principal parts sum to "
        f"{sum(schedule.principal)}"
    )
    rate = apr.irr_annualized(schedule)
    _say(
        f"   APR: IRR x 12 {apr.round_percent(rate.nominal, 2)}%, effective "
        f"{apr.round_percent(rate.effective, 2)}%, Reg Z {apr.round_percent(apr.us_actuarial(schedule), 2)}%, "
        f"EU {apr.round_percent(apr.eu(schedule), 2)}%"
    )
    caps = [apr.RateCap.fixed("24%", "0.24"), apr.RateCap.multiple_of("4 x 1Y LPR", "0.030", 4)]
    check = apr.check_caps(rate.nominal, caps)
    _say(f"   caps exceeded: {', '.join(c.name for c in check.exceeded) or 'none'}")
    return schedule


_SIDE = {Side.DEBIT: "Dr", Side.CREDIT: "Cr"}


def _ledger_events(
    pay_day: date, fee: Money, due: date, principal_1: Money, interest_1: Money
) -> tuple[Event, ...]:
    """The loan's events so far; the posting templates turn each into its journal entry."""
    installment = f"{LOAN['loan']}-1"
    return (
        MerchantDisbursement(
            event_id=LOAN["loan"], accounting_date=ORDER_DAY, dimensions=LOAN, principal=PRINCIPAL
        ),
        MerchantSettlement(
            event_id=f"{LOAN['merchant']}-{pay_day:%Y%m%d}",
            accounting_date=pay_day,
            dimensions=LOAN,
            payable=PRINCIPAL,
            service_fee=fee,
        ),
        InterestAccrued(
            event_id=installment,
            accounting_date=due,
            dimensions=LOAN,
            component=Component.INTEREST,
            amount=interest_1,
        ),
        InterestDue(event_id=installment, accounting_date=due, dimensions=LOAN, amount=interest_1),
        RepaymentReceived(
            event_id=installment,
            accounting_date=due,
            dimensions=LOAN,
            received=principal_1 + interest_1,
            principal=principal_1,
            interest=interest_1,
        ),
        ClearingSettled(
            event_id=f"channel-{due:%Y%m%d}",
            accounting_date=due,
            dimensions=LOAN,
            amount=principal_1 + interest_1,
        ),
    )


def _ledger_story(ledger: Ledger, quota: MemoryQuotaStore, schedule: Schedule) -> date:
    _say()
    _say("3. Ledger (会计科目, SQLite), booked through the posting templates")
    calendar = china_calendar()
    pay_day = calendar.add_business_days(ORDER_DAY, SETTLEMENT_LAG_DAYS)
    fee = PRINCIPAL.multiply(SERVICE_FEE_RATE, rounding=Rounding.HALF_UP)
    first = schedule.installments[0]
    principal_1 = Money(first.principal, "CNY")
    interest_1 = Money(first.interest, "CNY")
    mapping = DEFAULT_MAPPING.check(ledger.chart)
    events = _ledger_events(pay_day, fee, first.due_date, principal_1, interest_1)
    entries = [entry for event in events for entry in entries_for(event, mapping)]
    ledger.post(*entries)
    replayed = [entry for event in events for entry in entries_for(event, mapping)]
    ledger.post(*replayed)  # replaying the events replays their keys: nothing is booked twice
    _say(
        f"   order day {ORDER_DAY}, clinic paid T+{SETTLEMENT_LAG_DAYS} on {pay_day} "
        f"(China's calendar: National Day), {PRINCIPAL - fee} after a {fee} fee"
    )
    for entry in entries:
        legs = ", ".join(
            f"{_SIDE[leg.side]} {leg.subject_code} {leg.amount.amount}" for leg in entry.legs
        )
        _say(f"   {entry.accounting_date} {entry.entry_id:38s} {legs}")
    restored = quota.apply(
        RestoreRepaid(
            key="restore-L-2026-0001-1",
            line_id="C-0042/med",
            repaid=RepaymentParts(principal=principal_1, interest=interest_1),
        ),
        as_of=first.due_date,
    )
    _say(
        f"   quota restored by principal only: {restored.events[0].kind.name}, used now "
        f"{_used(quota, 'C-0042/med')}"
    )
    return first.due_date


def _report_story(ledger: Ledger, store: SqlLedgerStore, as_of: date, out: Path) -> None:
    _say()
    _say(f"4. Trial balance as of {as_of}")
    chart = ledger.chart
    trial = ledger.trial_balance(as_of=as_of)
    for line in trial.lines:
        subject = chart.find(line.subject_code)
        name = subject.name_en if subject is not None else ""
        _say(
            f"   {line.subject_code:8s} {name:36s} Dr {line.debit_total.amount:>10} Cr {line.credit_total.amount:>10}"
        )
    debit, credit = trial.totals("CNY")
    _say(
        f"   {'total':45s} Dr {debit.amount:>10} Cr {credit.amount:>10}  balanced: {trial.is_balanced()}"
    )
    _say(
        f"   loan principal outstanding (1303, loan {LOAN['loan']}): "
        f"{ledger.balance('1303', 'CNY', as_of=as_of, dimensions={'loan': LOAN['loan']})}"
    )
    issues = ledger.audit()
    _say(f"   audit: {len(issues)} issue(s)")
    path = write_beancount(store, out / "books.beancount")
    from beancount import loader  # the adapter's peer, imported only here

    _entries, errors, _options = loader.load_file(str(path))
    _say(f"   beancount export {path}: {len(errors)} error(s) when beancount re-checks it")


def run(out: Path) -> int:
    """Run the whole story, writing ``books.sqlite`` and ``books.beancount`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    database = out / "books.sqlite"
    for stale in out.glob("books.sqlite*"):
        stale.unlink()
    quota = MemoryQuotaStore()
    _quota_story(quota)
    schedule = _schedule_story()
    store = SqlLedgerStore(create_engine(database))
    store.save_chart(default_chart())
    ledger = Ledger(store)
    as_of = _ledger_story(ledger, quota, schedule)
    _report_story(ledger, store, as_of, out)
    issues = quota.check()
    _say(f"   quota journal rebuild matches stored balances: {not issues}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return run(Path(args[0]) if args else Path("story-output"))


if __name__ == "__main__":
    sys.exit(main())
