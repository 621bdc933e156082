"""``loancore demo``: a living consumer-credit portfolio on a SQLite file, through the facade.

About 2,000 patients of 50 clinics over 18 months (``DemoConfig``): each applies for credit
(the reference policy decides; a few are blacklisted, a few white-listed, the review band goes
to an analyst who approves most), then finances one or two treatments in 3, 6, 12 or 24
installments under one of four products (等额本息 18%, 等额本金 15%, a 分期手续费-style
monthly management fee, and an interest-free plan the clinic subsidises). Most pay on time; some
pay late (days to weeks); some prepay in full; some orders are refunded by the clinic; some
borrowers stop paying and age through the buckets to 损失 (loss). Clinics are settled T+1 on
China's business calendar. Every Sunday (``DemoConfig.close_every``, see CADENCES) and the last
day are closed with the end-of-day batch (accrual, days past due, penalty, classification,
provisions, the quota end of day, which freezes the lines of borrowers past due); a payment in
between first catches its loan up.

Everything is drawn from one ``random.Random(seed)``: the same seed gives the same book, to the
fen. A defaulted loan ages through the buckets (its provision growing with its class) until,
past 180 days overdue, the lender writes it off against the allowance (核销, 60%; a few of those
later recover part of the debt) or sells it to a debt buyer for 10-30% of its principal
(不良资产转让, 40%); both leave the books through the end-of-day batch's own services
(:func:`loancore.services.write_off_loan`, :func:`~loancore.services.sell_loan`,
:func:`~loancore.services.recover_loan`), so the loans and the ledger keep reconciling.

The SQLite file is opened with ``synchronous=NORMAL`` (WAL): a crash may lose the last
transactions of this throwaway book, never corrupt it; the library's default stays FULL.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta
from sqlalchemy import event
from sqlalchemy.engine import Engine

from loancore.adapters.process_batch import ProcessBatch
from loancore.adapters.sql import create_engine
from loancore.app import DueCollection, Lender, OrderRequest
from loancore.credit import CreditApplication, Outcome, ReferencePolicy
from loancore.errors import InvalidInput, Rejected, RejectionCode
from loancore.money import Money, Rounding
from loancore.servicing import Loan, LoanStatus
from loancore.settlement import MerchantTerms, ServiceFee, SettlementSchedule

__all__ = [
    "CADENCES",
    "PRODUCTS",
    "DemoConfig",
    "DemoResult",
    "open_demo_engine",
    "reopen_demo_engine",
    "simulate",
]

CUSTOMERS_MAX = 100_000
MERCHANTS_MAX = 999
MONTHS_MAX = 20  # China's published calendar ends in 2026; the demo starts in January 2025
START = date(2025, 1, 1)
CURRENCY = "CNY"

PRODUCTS = {
    "ei-18": """
product_id = "ei-18"
version = 1
gl_granularity = "summary"
currency = "CNY"
[terms]
method = "equal_installment"
annual_rate = "0.18"
rounding = "HALF_UP"
day_count = "ACT/360"
[interest]
recognition = "daily"
grace_days = 3
[interest.penalty]
multiple = "1.5"
[charges.late_fee]
rate = "0.05"
cap = "50.00"
[prepayment]
fee_rate = "0.01"
reamortization = "keep_term"
""",
    "ep-15": """
product_id = "ep-15"
version = 1
gl_granularity = "summary"
currency = "CNY"
[terms]
method = "equal_principal"
annual_rate = "0.15"
rounding = "HALF_UP"
day_count = "ACT/360"
[interest]
recognition = "daily"
grace_days = 3
[interest.penalty]
multiple = "1.5"
[prepayment]
fee_rate = "0"
reamortization = "keep_term"
""",
    "fee-06": """
product_id = "fee-06"
version = 1
gl_granularity = "summary"
currency = "CNY"
[terms]
method = "equal_installment"
annual_rate = "0"
management_fee_rate = "0.006"
rounding = "HALF_UP"
day_count = "ACT/360"
[interest]
recognition = "on_due_date"
grace_days = 3
[interest.penalty]
rate_annual = "0.18"
[prepayment]
fee_rate = "0"
reamortization = "keep_term"
""",
    "free-06": """
product_id = "free-06"
version = 1
currency = "CNY"
[terms]
method = "equal_installment"
annual_rate = "0"
rounding = "HALF_UP"
day_count = "ACT/360"
[interest]
recognition = "daily"
grace_days = 3
[interest.penalty]
rate_annual = "0.18"
[prepayment]
fee_rate = "0"
reamortization = "keep_term"
[merchant]
discount_rate = "0.06"
[mapping]
discount_treatment = "interest_adjustment"
""",
}
"""The demo's four products (loancore.servicing TOML)."""

PLANS = (
    ("ei-18", 3), ("ei-18", 6), ("ei-18", 12), ("ei-18", 24),
    ("ep-15", 6), ("ep-15", 12), ("ep-15", 24),
    ("fee-06", 3), ("fee-06", 6), ("fee-06", 12),
    ("free-06", 3), ("free-06", 6),
)  # fmt: skip
"""(product, installments) an order picks from, uniformly."""

BEHAVIOURS = (("on_time", 74), ("late", 12), ("prepay", 5), ("refund", 4), ("default", 5))
"""Borrower behaviours and their weights (per cent)."""


def _int_in(low: int, high: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if type(value) is not int or not low <= value <= high:
            raise InvalidInput(attribute.name, value, f"expected an int from {low} to {high}")

    return check


CADENCES = ("day", "week", "month")
"""How often the demo runs the end-of-day batch (``DemoConfig.close_every``): every calendar
day, every Sunday, or every month end; the last day is always closed. Between two closes a
servicing event first closes its loan's days up to the event (the inline catch-up, the same
:func:`~loancore.delinquency.daily.close_day` per day), and the next batch closes every loan's
remaining days one by one in memory and writes it once: the loans and their balances are the
same at any cadence (tests/test_demo.py). What the cadence does change is when the quota's end
of day runs (a borrower past due has the line frozen at the next close), so a later order may
be refused sooner under ``day``. The default ``week`` is the fastest: each loan is read and
written by the batch once a week instead of every day, and most of its days are closed by the
batch (summarised for a ``summary`` product) rather than inline before a payment (posted per
loan), so the ledger and its beancount export stay small (about 110,000 entries for the default
demo, against 623,000 with every entry at loan level)."""


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in choices:
            raise InvalidInput(attribute.name, value, f"expected one of {', '.join(choices)}")

    return check


@attrs.frozen(kw_only=True)
class DemoConfig:
    customers: int = attrs.field(default=2000, validator=_int_in(1, CUSTOMERS_MAX))
    merchants: int = attrs.field(default=50, validator=_int_in(1, MERCHANTS_MAX))
    months: int = attrs.field(default=18, validator=_int_in(2, MONTHS_MAX))
    seed: int = attrs.field(default=2025, validator=_int_in(0, 2**31 - 1))
    close_every: str = attrs.field(default="week", validator=_one_of(CADENCES))

    @property
    def start(self) -> date:
        return START

    @property
    def end(self) -> date:
        return START + relativedelta(months=self.months) - timedelta(days=1)


@attrs.frozen(kw_only=True)
class DemoResult:
    """Counts of what happened (for the summary and the tests)."""

    end: date
    applications: dict[str, int]
    orders: int
    orders_refused: int
    payments: int
    payments_refused: int
    prepaid: int
    refunded: int
    settlement_runs: int
    written_off: int
    sold: int
    recovered: int


def open_demo_engine(path: Path) -> Engine:
    """A fresh SQLite file at ``path`` (an older one and its WAL files removed first), WAL with
    ``synchronous=NORMAL`` (module docstring)."""
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if stale.is_file():
            stale.unlink()
    return reopen_demo_engine(path)


def reopen_demo_engine(path: Path) -> Engine:
    """The demo's SQLite file at ``path`` as it is, with the demo's settings (WAL,
    ``synchronous=NORMAL``): how a worker process of the end of day opens it
    (:class:`~loancore.adapters.process_batch.ProcessBatch`)."""
    engine = create_engine(path)

    @event.listens_for(engine, "connect")
    def _normal(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return engine


def _money(minor: int) -> Money:
    return Money.from_minor(minor, CURRENCY)


def _merchant_terms(index: int) -> MerchantTerms:
    rate = "0.006" if index % 3 else "0.008"
    return MerchantTerms(
        merchant_id=f"M{index:03d}",
        schedule=SettlementSchedule.t_plus(1),
        fee=ServiceFee(rate=rate, rounding=Rounding.HALF_UP, fee_min=_money(0)),
        payee_account=f"6222000{index:03d}",
    )


@attrs.define
class _World:
    """The simulation's mutable state: what happens on which day."""

    config: DemoConfig
    rng: random.Random
    lender: Lender = attrs.field(default=None)
    agenda: dict[date, list[tuple[str, str, Any]]] = attrs.field(factory=dict)
    behaviour: dict[str, str] = attrs.field(factory=dict)
    counts: dict[str, int] = attrs.field(factory=dict)

    def at(self, day: date, kind: str, subject: str, detail: Any = None) -> None:
        if day <= self.config.end:
            self.agenda.setdefault(day, []).append((kind, subject, detail))

    def count(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by


def _plan_customers(world: _World) -> ReferencePolicy:
    """Each customer's application day and score; returns the policy with its lists."""
    rng, config = world.rng, world.config
    days = (config.end - START).days
    window = max(1, days - 120)  # the last applications leave time for an order and a payment
    blacklist, whitelist = set(), set()
    for number in range(1, config.customers + 1):
        customer = f"C{number:05d}"
        draw = rng.random()
        if draw < 0.02:
            blacklist.add(customer)
        elif draw < 0.07:
            whitelist.add(customer)
        score = max(300, min(950, int(rng.gauss(680, 70))))
        limit = rng.choice((5_000, 10_000, 20_000, 30_000, 50_000))
        applied_on = START + timedelta(days=rng.randrange(window))
        world.at(applied_on, "apply", customer, (score, limit))
    return ReferencePolicy(blacklist=blacklist, whitelist=whitelist)


def _apply(world: _World, customer: str, detail: tuple[int, int], day: date) -> None:
    score, limit = detail
    application = CreditApplication(
        application_id=f"A-{customer}",
        customer_id=customer,
        requested_limit=_money(limit * 100),
        score=score,
        applied_on=day,
    )
    record = world.lender.apply_for_credit(application)
    world.count(f"application {record.decision.outcome.value}")
    if record.decision.outcome is Outcome.REVIEW:
        world.at(day + timedelta(days=1 + world.rng.randrange(2)), "review", customer)
    elif record.decision.limit is not None:
        _plan_orders(world, customer, record.decision.limit.minor_units, day)


def _review(world: _World, customer: str, day: date) -> None:
    approve = world.rng.random() < 0.6
    record = world.lender.review(
        f"A-{customer}", approve=approve, reviewer="analyst", decided_on=day
    )
    world.count("reviewed approved" if approve else "reviewed declined")
    if record.decision.limit is not None:
        _plan_orders(world, customer, record.decision.limit.minor_units, day)


def _plan_orders(world: _World, customer: str, limit_minor: int, day: date) -> None:
    rng = world.rng
    orders = 2 if rng.random() < 0.25 else 1
    when = day
    for k in range(orders):
        when = when + timedelta(days=rng.randrange(1, 25 if k == 0 else 120))
        amount = min(rng.randrange(5, 200) * 10_000, limit_minor // orders // 10_000 * 10_000)
        if amount <= 0:
            return
        product, installments = rng.choice(PLANS)
        merchant = f"M{rng.randrange(1, world.config.merchants + 1):03d}"
        world.at(
            when,
            "order",
            f"{customer}-{k + 1}",
            (customer, merchant, amount, product, installments),
        )


def _order(world: _World, order_id: str, detail: tuple[str, str, int, str, int], day: date) -> None:
    customer, merchant, amount, product, installments = detail
    request = OrderRequest(
        order_id=f"O-{order_id}", customer_id=customer, merchant_id=merchant,
        amount=_money(amount), product_id=product, installments=installments, placed_on=day,
    )  # fmt: skip
    try:
        world.lender.place_order(request)
    except Rejected:
        world.count("orders refused")  # a frozen or full line
        return
    booked = world.lender.confirm_order(request.order_id, day)
    world.count("orders")
    _plan_loan(world, booked.loan)


def _pick(rng: random.Random) -> str:
    draw = rng.randrange(100)
    for name, weight in BEHAVIOURS:
        if draw < weight:
            return name
        draw -= weight
    return BEHAVIOURS[0][0]


def _plan_loan(world: _World, loan: Loan) -> None:
    """The loan's future: its payments (and prepayment, refund or default) put on the agenda."""
    rng = world.rng
    behaviour = _pick(rng)
    world.behaviour[loan.loan_id] = behaviour
    dues = [inst.due_date for inst in loan.installments]
    if behaviour == "refund":
        full = rng.random() < 0.5
        world.at(
            loan.last_date + timedelta(days=rng.randrange(5, 25)), "refund", loan.loan_id, full
        )
    stop = len(dues)
    if behaviour == "default":
        stop = rng.randrange(0, min(3, len(dues)))
        _plan_default(world, loan.loan_id, dues[stop])
    if behaviour == "prepay" and len(dues) > 1:
        stop = rng.randrange(1, len(dues))
        world.at(dues[stop - 1] + timedelta(days=10), "payoff", loan.loan_id)
    for due in dues[:stop]:
        delay = rng.randrange(3, 46) if behaviour == "late" and rng.random() < 0.5 else 0
        world.at(due + timedelta(days=delay), "pay", loan.loan_id)


WRITE_OFF_SHARE = 0.6
"""Of the defaulted loans, the share written off; the others are sold."""
RECOVERY_SHARE = 0.3
"""Of the loans written off, the share that later recovers part of the debt."""
DEFAULT_DAYS_MIN = 181
"""A defaulted loan leaves the books this many days or more after its first missed due date."""


def _plan_default(world: _World, loan_id: str, missed: date) -> None:
    """A defaulted loan's end: written off or sold once more than 180 days past due."""
    rng = world.rng
    day = missed + timedelta(days=DEFAULT_DAYS_MIN + rng.randrange(0, 45))
    if rng.random() < WRITE_OFF_SHARE:
        world.at(day, "write_off", loan_id, rng.random() < RECOVERY_SHARE)
    else:
        world.at(day, "sell", loan_id, rng.randrange(10, 31))


def _derecognise(world: _World, kind: str, loan: Loan, detail: Any, day: date) -> None:
    """Write off (and plan a recovery, ``detail`` True) or sell (``detail``: price, per cent of
    the principal outstanding) a defaulted loan."""
    lender, rng = world.lender, world.rng
    if kind == "sell":
        price = loan.principal_outstanding() * detail // 100
        lender.sell(loan.loan_id, f"S-{loan.loan_id}", _money(max(price, 1)), day)
        world.count("sold")
        return
    gone = lender.write_off(loan.loan_id, f"W-{loan.loan_id}", day)
    world.count("written off")
    if detail:
        share = rng.randrange(10, 41)
        amount = gone.principal_written_off() * share // 100
        world.at(day + timedelta(days=rng.randrange(30, 121)), "recover", loan.loan_id, amount)


def _payments(world: _World, loan_ids: list[str], day: date) -> None:
    """The day's auto-debit run: everything due collected from each active loan planned to pay
    (:meth:`~loancore.app.Lender.collect_due`, the amount found when the payment is applied, as
    the payment sees the loan: penalty interest to date included to the fen whatever the close
    cadence); a loan with nothing due is refused with ``NOTHING_DUE`` and is not a payment."""
    ids = sorted(set(loan_ids))
    collections = [
        DueCollection(loan_id=loan.loan_id, payment_id=f"P-{loan.loan_id}-{day:%Y%m%d}",
                      paid_on=day)
        for loan in world.lender.loans(ids)
        if loan.status is LoanStatus.ACTIVE and loan.last_date <= day
    ]  # fmt: skip
    if collections:
        result = world.lender.collect_due(collections)
        refused = [r for _id, r in result.refused if r.code is not RejectionCode.NOTHING_DUE]
        world.count("payments", len(result.applied))
        world.count("payments refused", len(refused))


def _special(world: _World, kind: str, loan_id: str, detail: Any, day: date) -> None:
    loan = world.lender.loan(loan_id)
    if kind == "recover":
        if loan.status is LoanStatus.WRITTEN_OFF and detail > 0:
            world.lender.recover(loan_id, f"RC-{loan_id}", _money(detail), day)
            world.count("recovered")
        return
    if loan.status is not LoanStatus.ACTIVE or loan.last_date > day:
        return
    if kind in ("write_off", "sell"):
        _derecognise(world, kind, loan, detail, day)
        return
    if kind == "payoff":
        world.lender.pay_off(loan_id, f"PO-{loan_id}", day)
        world.count("prepaid")
        return
    outstanding = loan.principal_outstanding()
    amount = outstanding if detail else outstanding * 3 // 10
    if amount > 0:
        world.lender.refund(loan_id, f"R-{loan_id}", _money(amount), day)
        world.count("refunded")


def _day(world: _World, day: date) -> None:
    items = world.agenda.pop(day, [])
    paying: list[str] = []
    for kind, subject, detail in items:  # in the order planned: deterministic
        if kind == "apply":
            _apply(world, subject, detail, day)
        elif kind == "review":
            _review(world, subject, day)
        elif kind == "order":
            _order(world, subject, detail, day)
        elif kind == "pay":
            paying.append(subject)
        else:
            _special(world, kind, subject, detail, day)
    if paying:
        _payments(world, paying, day)
    if world.lender.calendar.is_business_day(day):
        world.lender.settle(day)
        world.count("settlement runs")
    if _closes(world.config, day):
        world.lender.close_day(day)


def _closes(config: DemoConfig, day: date) -> bool:
    """Whether the end-of-day batch runs on ``day`` (``CADENCES``): the last day always."""
    if day == config.end or config.close_every == "day":
        return True
    if config.close_every == "week":
        return day.isoweekday() == 7
    return (day + timedelta(days=1)).day == 1


def simulate(
    engine: Engine,
    config: DemoConfig,
    *,
    progress: Callable[[date], None] | None = None,
    processes: ProcessBatch | None = None,
) -> tuple[Lender, DemoResult]:
    """Run the portfolio on ``engine`` (a fresh database, see :func:`open_demo_engine`) day by
    day from 2025-01-01 through ``config.end``; ``progress`` is called after each day. Returns
    the lender (open on the engine) and the counts."""
    rng = random.Random(config.seed)
    world = _World(config=config, rng=rng)
    lender = Lender.open(engine, policy=_plan_customers(world), processes=processes)
    world.lender = lender
    for text in PRODUCTS.values():
        lender.add_product(text)
    for index in range(1, config.merchants + 1):
        lender.add_merchant(_merchant_terms(index))
    day = START
    for _ in range((config.end - START).days + 1):  # bounded by the calendar days of the run
        _day(world, day)
        if progress is not None:
            progress(day)
        day += timedelta(days=1)
    counts = world.counts
    return lender, DemoResult(
        end=config.end,
        applications={
            k.removeprefix("application "): v
            for k, v in sorted(counts.items())
            if k.startswith(("application ", "reviewed "))
        },
        orders=counts.get("orders", 0),
        orders_refused=counts.get("orders refused", 0),
        payments=counts.get("payments", 0),
        payments_refused=counts.get("payments refused", 0),
        prepaid=counts.get("prepaid", 0),
        refunded=counts.get("refunded", 0),
        settlement_runs=counts.get("settlement runs", 0),
        written_off=counts.get("written off", 0),
        sold=counts.get("sold", 0),
        recovered=counts.get("recovered", 0),
    )
