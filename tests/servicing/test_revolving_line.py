"""The revolving credit line: a story asserting every entry to the fen, the product's rules and
refusals, and properties over random draws, repayments and dates (cash conservation; the ledger
filtered by the account equals the account's own balances; quota follows principal)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.errors import InvalidInput, RejectionCode, ServicingRejected
from loancore.ledger import Side, default_chart
from loancore.money import Money, Rounding
from loancore.quota import Draw as QuotaDraw
from loancore.quota import Grant, RestoreRepaid
from loancore.services import Ledger
from loancore.servicing import (
    Accrue,
    CloseStatement,
    CreditLineAccount,
    CreditLineProduct,
    Draw,
    LateFee,
    LineOutcome,
    LineQuotaEffectKind,
    ProductConfigError,
    RefundCredit,
    Repay,
    ServicingEvent,
    apply_line,
    credit_line_product_from_toml,
    expected_line_balances,
    open_line,
)
from loancore.waterfall import CHINA_CONSUMER_FINANCE

CHART = default_chart()
OPENED = date(2026, 3, 1)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def line_product(**overrides: object) -> CreditLineProduct:
    fields: dict[str, object] = {
        "product_id": "cash-line",
        "version": 1,
        "currency": "CNY",
        "daily_rate": Decimal("0.0005"),
        "rounding": Rounding.HALF_UP,
        "due_days": 20,
        "grace_days": 3,
        "minimum_payment_rate": Decimal("0.10"),
        "minimum_payment_floor": cny("100.00"),
        "late_fee": LateFee(rate=Decimal("0.05"), cap=cny("50.00")),
    }
    return CreditLineProduct(**{**fields, **overrides})  # type: ignore[arg-type]


def opened(product: CreditLineProduct) -> CreditLineAccount:
    return open_line(
        product,
        account_id="A1",
        line_id="Q1",
        opened_on=OPENED,
        statement_day=10,
        dimensions={"customer": "C1"},
    )


@attrs.define
class Books:
    """An account and its outcomes posted into a memory ledger."""

    product: CreditLineProduct
    account: CreditLineAccount
    store: MemoryLedgerStore = attrs.field(factory=lambda: MemoryLedgerStore(CHART))
    quota: MemoryQuotaStore = attrs.field(factory=MemoryQuotaStore)
    outcomes: list[LineOutcome] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        limit = cny("200000.00")  # the default borrower cap; more than the property draws
        grant = Grant(
            key="grant",
            line_id="Q1",
            borrower_id="C1",
            limit=limit,
            starts_on=OPENED,
            expires_on=date(2099, 12, 31),
        )
        self.quota.apply(grant, as_of=OPENED)

    def apply(self, event: ServicingEvent) -> LineOutcome:
        outcome = apply_line(self.account, self.product, event)
        self.store.post(outcome.entries)
        for effect in outcome.quota_effects:  # the services would do this in the same unit of work
            self.quota.apply(effect.command(), as_of=event.as_of)
        self.account = outcome.account
        self.outcomes.append(outcome)
        return outcome

    def net_debit(self, code: str) -> int:
        """The ledger's balance of ``code`` filtered by the account (debit positive)."""
        balance = self.store.balance(
            code, "CNY", as_of=date(2999, 12, 31), dimensions={"loan": self.account.account_id}
        ).minor_units
        return balance if CHART.get(code).normal_side is Side.DEBIT else -balance


def legs(outcome: LineOutcome) -> dict[str, list[tuple[str, str, str]]]:
    return {
        e.entry_id: [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in e.legs]
        for e in outcome.entries
    }


def test_a_cash_line_month_by_month_books_every_entry_to_the_fen() -> None:
    """10,000 drawn at 万分之五 a day; the first bill paid at its minimum; a second draw; the
    second bill unpaid (late fee); a full repayment leaves credit, used by a draw, refunded."""
    books = Books(line_product(), opened(line_product()))
    drawn = books.apply(Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("10000.00")))
    assert legs(drawn) == {
        "disbursement.card:d1": [("1303.01", "debit", "10000.00"), ("1002", "credit", "10000.00")]
    }
    assert [(q.kind, q.amount, q.line_id) for q in drawn.quota_effects] == [
        (LineQuotaEffectKind.DRAW, cny("10000.00"), "Q1")
    ]
    # statement 1 on 03-10: 8 days x 5.00 = 40.00 interest; minimum 10% (1,000.00) + 40.00
    paid = books.apply(Repay(event_id="r1", as_of=date(2026, 3, 25), amount=cny("1040.00")))
    (bill,) = paid.statements
    assert (bill.number, bill.closed_on, bill.due_date) == (1, date(2026, 3, 10), date(2026, 3, 30))
    assert (bill.principal, bill.interest, bill.minimum_payment) == (
        cny("10000.00"),
        cny("40.00"),
        cny("1040.00"),
    )
    assert legs(paid) == {
        "interest.accrued:r1.s1.accrue": [
            ("1303.03", "debit", "40.00"),
            ("6011", "credit", "40.00"),
        ],
        "interest.due:r1.s1.due": [("1132", "debit", "40.00"), ("1303.03", "credit", "40.00")],
        # 03-10 .. 03-24, 15 days, accrued and paid first: interest before principal
        "interest.accrued:r1.accrue": [("1303.03", "debit", "75.00"), ("6011", "credit", "75.00")],
        "interest.due:r1.forward": [("1132", "debit", "75.00"), ("1303.03", "credit", "75.00")],
        "repayment:r1": [
            ("3001", "debit", "1040.00"),
            ("1303.01", "credit", "925.00"),
            ("1132", "credit", "115.00"),
        ],
    }
    assert [(q.kind, q.amount) for q in paid.quota_effects] == [
        (LineQuotaEffectKind.RESTORE_REPAID, cny("925.00"))
    ]
    second = books.apply(Draw(event_id="d2", as_of=date(2026, 4, 1), amount=cny("2000.00")))
    # 7 days on 9,075.00 = 31.7625: the cycle's 106.7625 rounds to 106.76, 75.00 booked already
    assert legs(second)["interest.accrued:d2.accrue"] == [
        ("1303.03", "debit", "31.76"),
        ("6011", "credit", "31.76"),
    ]
    late = books.apply(Accrue(event_id="a1", as_of=date(2026, 5, 5)))
    (bill,) = late.statements
    # the cycle: 75.00 + 31.7625 + 9 days on 11,075.00 (49.8375) = 156.60, one rounding
    assert (bill.interest, bill.minimum_payment) == (cny("81.60"), cny("1189.10"))
    assert legs(late) == {
        "interest.accrued:a1.s2.accrue": [
            ("1303.03", "debit", "49.84"),
            ("6011", "credit", "49.84"),
        ],
        "interest.due:a1.s2.due": [("1132", "debit", "81.60"), ("1303.03", "credit", "81.60")],
        # due 04-30, 3 grace days: late on 05-04; 5% of 1,189.10 is 59.46, capped at 50.00
        "fee.charged:a1.s2.late": [("1221", "debit", "50.00"), ("6021.03", "credit", "50.00")],
        "interest.accrued:a1.accrue": [
            ("1303.03", "debit", "138.44"),
            ("6011", "credit", "138.44"),
        ],
    }
    closed = books.apply(CloseStatement(event_id="c1", as_of=date(2026, 5, 10)))
    (bill,) = closed.statements
    # the minimum: 10% (1,107.50) + the unpaid minimum's principal part (1,107.50) + interest
    # 81.60 + 166.13 + the late fee 50.00
    assert (bill.interest, bill.fees, bill.minimum_payment) == (
        cny("247.73"),
        cny("50.00"),
        cny("2512.73"),
    )
    assert bill.balance == cny("11372.73")
    cleared = books.apply(Repay(event_id="r2", as_of=date(2026, 5, 20), amount=cny("20000.00")))
    assert legs(cleared)["repayment:r2"] == [
        ("3001", "debit", "20000.00"),
        ("1303.01", "credit", "11075.00"),
        ("1132", "credit", "303.11"),
        ("1221", "credit", "50.00"),
        ("2241.01", "credit", "8571.89"),
    ]
    assert books.account.minimum_unpaid == 0 and books.account.credit == 857189
    used = books.apply(Draw(event_id="d3", as_of=date(2026, 5, 25), amount=cny("1000.00")))
    assert legs(used)["credit.applied:d3.credit"] == [
        ("2241.01", "debit", "1000.00"),
        ("1303.01", "credit", "1000.00"),
    ]
    assert [q.kind for q in used.quota_effects] == [
        LineQuotaEffectKind.DRAW,
        LineQuotaEffectKind.RESTORE_REPAID,
    ]
    back = books.apply(RefundCredit(event_id="f1", as_of=date(2026, 5, 26), amount=cny("7571.89")))
    assert legs(back) == {
        "overpayment.refunded:f1": [("2241.01", "debit", "7571.89"), ("1002", "credit", "7571.89")]
    }
    assert books.account.owed() == 0 and books.account.credit == 0
    assert books.net_debit("1303.01") == 0 and books.net_debit("2241.01") == 0
    income = -books.net_debit("6011") - books.net_debit("6021.03")
    assert income == 40_00 + 75_00 + 31_76 + 49_84 + 138_44 + 27_69 + 55_38 + 50_00


def test_penalty_interest_runs_on_the_minimum_unpaid_from_the_first_late_day() -> None:
    """1.5 x 万分之五 a day on the unpaid minimum: 1,040.00 from 04-03 (0.78 a day), 540.00 after
    a payment of 500.00 on 04-06 (0.405 a day), until statement 2 closes on 04-10."""
    product = line_product(penalty_daily_rate=Decimal("0.00075"))
    books = Books(product, opened(product))
    books.apply(Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("10000.00")))
    paid = books.apply(Repay(event_id="r1", as_of=date(2026, 4, 6), amount=cny("500.00")))
    assert legs(paid)["fee.charged:r1.s1.late"] == [
        ("1221", "debit", "50.00"),
        ("6021.03", "credit", "50.00"),
    ]
    assert legs(paid)["interest.accrued:r1.penalty"] == [
        ("1132", "debit", "2.34"),  # 04-03 .. 04-05
        ("6011", "credit", "2.34"),
    ]
    # fee 50.00, penalty 2.34, billed 40.00 and accrued 135.00 interest, then principal
    assert legs(paid)["repayment:r1"] == [
        ("3001", "debit", "500.00"),
        ("1303.01", "credit", "272.66"),
        ("1132", "credit", "177.34"),
        ("1221", "credit", "50.00"),
    ]
    assert books.account.minimum_unpaid == 540_00
    closed = books.apply(Accrue(event_id="a1", as_of=date(2026, 4, 10)))
    assert legs(closed)["interest.accrued:a1.s2.penalty"] == [
        ("1132", "debit", "1.62"),  # 4 days x 0.405, the spell's 3.96 rounded once
        ("6011", "credit", "1.62"),
    ]
    (bill,) = closed.statements
    # 10% of 9,727.34 (972.73) + the unpaid minimum's principal part (540.00 - 40.00) + interest
    # 19.45 + penalty 1.62
    assert (bill.principal, bill.interest, bill.penalty) == (
        cny("9727.34"),
        cny("19.45"),
        cny("1.62"),
    )
    assert bill.minimum_payment == cny("1493.80")
    assert books.account.overdue_changes == ()  # the spell ends with the statement
    after = books.apply(Accrue(event_id="a2", as_of=date(2026, 4, 20)))
    assert not [e for e in after.entries if e.entry_id.endswith(".penalty")]


@pytest.mark.parametrize("late_fee", [LateFee(rate=Decimal("0.05")), LateFee(fixed=cny("30.00"))])
def test_a_statement_that_is_paid_by_its_due_date_costs_no_late_fee(late_fee: LateFee) -> None:
    product = line_product(late_fee=late_fee)
    books = Books(product, opened(product))
    books.apply(Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("500.00")))
    books.apply(Accrue(event_id="a1", as_of=date(2026, 3, 10)))
    bill = books.account.statement
    assert bill is not None
    # 10% of 500.00 is 50.00, below the floor of 100.00
    assert bill.minimum_payment == cny("100.00") + bill.interest
    due_day = bill.due_date + timedelta(days=3)  # the last grace day
    books.apply(Repay(event_id="r1", as_of=due_day, amount=bill.minimum_payment))
    after = books.apply(Accrue(event_id="a2", as_of=due_day + timedelta(days=2)))
    assert not [e for e in after.entries if e.entry_id.startswith("fee.charged")]
    assert books.account.fees == 0


def test_the_minimum_never_exceeds_the_balance_and_a_small_balance_is_due_whole() -> None:
    books = Books(line_product(), opened(line_product()))
    books.apply(Draw(event_id="d1", as_of=date(2026, 3, 9), amount=cny("60.00")))
    books.apply(Accrue(event_id="a1", as_of=date(2026, 3, 10)))
    bill = books.account.statement
    assert bill is not None and bill.minimum_payment == bill.balance == cny("60.03")


def test_a_statement_closes_on_its_day_whatever_the_events_between() -> None:
    """Accruing every day or once books the same cycle interest: one rounding per cycle."""
    product = line_product(rounding=Rounding.DOWN)
    daily, once = Books(product, opened(product)), Books(product, opened(product))
    for books in (daily, once):
        books.apply(Draw(event_id="d1", as_of=date(2026, 3, 1), amount=cny("333.33")))
    for day in range(1, 40):
        daily.apply(Accrue(event_id=f"a{day}", as_of=OPENED + timedelta(days=day)))
    once.apply(Accrue(event_id="a", as_of=OPENED + timedelta(days=39)))
    assert daily.account.statement == once.account.statement
    assert daily.account.interest_accrued == once.account.interest_accrued
    assert daily.net_debit("6011") == once.net_debit("6011")


def test_statement_dates_count_from_the_anchor() -> None:
    account = open_line(
        line_product(), account_id="A2", line_id="Q2", opened_on=date(2026, 1, 28), statement_day=28
    )
    assert account.next_statement_date() == date(2026, 2, 28)  # the 28th itself is not after
    later = attrs.evolve(account, statements_closed=13)
    assert later.next_statement_date() == date(2027, 3, 28)


def test_refusals_change_nothing() -> None:
    product = line_product()
    books = Books(product, opened(product))
    books.apply(Draw(event_id="d1", as_of=date(2026, 3, 5), amount=cny("100.00")))
    before = books.account
    cases: list[tuple[object, ServicingEvent, type[Exception], str]] = [
        (
            product,
            Repay(event_id="r", as_of=date(2026, 3, 4), amount=cny("1.00")),
            ServicingRejected,
            "EVENT_BEFORE_LAST",
        ),
        (
            attrs.evolve(product, version=2),
            Accrue(event_id="a", as_of=date(2026, 3, 6)),
            ServicingRejected,
            "PRODUCT_MISMATCH",
        ),
        (
            product,
            Draw(event_id="d1", as_of=date(2026, 3, 5), amount=cny("100.00")),
            ServicingRejected,
            "EVENT_ALREADY_APPLIED",
        ),
        (
            product,
            RefundCredit(event_id="f", as_of=date(2026, 3, 6), amount=cny("0.01")),
            ServicingRejected,
            "CREDIT_INSUFFICIENT",
        ),
        (product, CloseStatement(event_id="c", as_of=date(2026, 3, 9)), InvalidInput, "as_of"),
        (
            product,
            Draw(event_id="d", as_of=date(2026, 3, 6), amount=Money(Decimal(1), "JPY")),
            InvalidInput,
            "amount",
        ),
    ]
    for given_product, event, error, what in cases:
        with pytest.raises(error) as refused:
            apply_line(books.account, given_product, event)  # type: ignore[arg-type]
        if isinstance(refused.value, ServicingRejected):
            assert refused.value.code is RejectionCode[what]
        else:
            assert refused.value.field == what  # type: ignore[attr-defined]
    assert books.account == before
    with pytest.raises(InvalidInput, match="dimensions.loan"):
        open_line(
            product,
            account_id="A",
            line_id="Q",
            opened_on=OPENED,
            statement_day=1,
            dimensions={"loan": "X"},
        )
    with pytest.raises(InvalidInput, match="statement_day"):
        open_line(product, account_id="A", line_id="Q", opened_on=OPENED, statement_day=29)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"daily_rate": None}, "terms.daily_rate"),
        ({"annual_rate": Decimal("0.18")}, "terms.daily_rate"),
        ({"daily_rate": Decimal("0.0005"), "day_count": "ACT/360"}, "terms.day_count"),
        ({"due_days": 25, "grace_days": 3}, "statement.due_days"),
        ({"due_days": 0}, "statement.due_days"),
        ({"minimum_payment_rate": Decimal("1.5")}, "statement.minimum_payment_rate"),
        ({"penalty_daily_rate": Decimal("-0.1")}, "statement.penalty_daily_rate"),
        ({"minimum_payment_floor": Money(Decimal(1), "JPY")}, "statement.minimum_payment_floor"),
    ],
)
def test_a_bad_line_product_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ProductConfigError) as refused:
        line_product(**overrides)
    assert refused.value.field == field


DOCS = Path(__file__).resolve().parents[2] / "docs" / "servicing.md"


def docs_line_toml() -> str:
    """The line product of docs/servicing.md ("Revolving credit lines")."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Revolving credit lines") :]
    match = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_docs_line_product_reads_from_toml() -> None:
    assert credit_line_product_from_toml(docs_line_toml()) == line_product()
    annual = docs_line_toml().replace(
        'daily_rate = "0.0005"', 'annual_rate = "0.1825"\nday_count = "ACT/365"'
    )
    product = credit_line_product_from_toml(annual)
    assert product.annual_rate == Decimal("0.1825") and product.daily_rate is None
    with pytest.raises(ProductConfigError) as refused:
        credit_line_product_from_toml(docs_line_toml() + "\n[statement.extra]\n")
    assert refused.value.field == "statement.extra"
    with pytest.raises(ProductConfigError) as refused:
        credit_line_product_from_toml(docs_line_toml().replace('"HALF_UP"', '"NEAREST"'))
    assert refused.value.field == "terms.rounding"


def test_quota_effects_become_quota_commands() -> None:
    books = Books(line_product(), opened(line_product()))
    (draw,) = books.apply(
        Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("300.00"))
    ).quota_effects
    (restore,) = books.apply(
        Repay(event_id="r1", as_of=date(2026, 3, 3), amount=cny("100.00"))
    ).quota_effects
    command = draw.command()
    assert isinstance(command, QuotaDraw) and command.amount == cny("300.00")
    returned = restore.command()
    assert isinstance(returned, RestoreRepaid)
    assert returned.repaid.principal == cny("99.85")  # 100.00 less one day's interest (0.15)


# -- properties -----------------------------------------------------------------------------------

_STEP = st.one_of(
    st.tuples(st.just("draw"), st.integers(1, 40), st.integers(1, 500_000)),
    st.tuples(st.just("repay"), st.integers(0, 40), st.integers(1, 600_000)),
    st.tuples(st.just("accrue"), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("refund"), st.integers(0, 40), st.integers(1, 100)),
)
_PRODUCTS = st.builds(
    line_product,
    rounding=st.sampled_from([Rounding.HALF_UP, Rounding.DOWN, Rounding.HALF_EVEN]),
    policy=st.sampled_from([line_product().policy, CHINA_CONSUMER_FINANCE]),
    late_fee=st.sampled_from([LateFee(fixed=cny("30.00")), LateFee(rate=Decimal("0.05"))]),
    penalty_daily_rate=st.sampled_from([None, Decimal("0.00075")]),
)


def _event(
    kind: str, index: int, day: date, minor: int, account: CreditLineAccount
) -> ServicingEvent:
    amount = Money.from_minor(minor, "CNY")
    if kind == "draw":
        return Draw(event_id=f"e{index}", as_of=day, amount=amount)
    if kind == "repay":
        return Repay(event_id=f"e{index}", as_of=day, amount=amount)
    if kind == "refund" and account.credit:  # a share of the credit kept, in percent
        refund = max(1, account.credit * minor // 100)
        return RefundCredit(event_id=f"e{index}", as_of=day, amount=Money.from_minor(refund, "CNY"))
    return Accrue(event_id=f"e{index}", as_of=day)


@given(_PRODUCTS, st.lists(_STEP, max_size=25))
def test_cash_is_conserved_and_the_ledger_equals_the_account(
    product: CreditLineProduct, steps: list[tuple[str, int, int]]
) -> None:
    """After every event: the ledger filtered by the account equals its balances; what it owes
    less its credit is what was drawn, earned and refunded less the cash received; the quota
    used (draws less restores) is the principal; and no payment reaches principal while fees or
    interest are owed."""
    books = Books(product, opened(product))
    day = OPENED
    drawn = refunded = received = used = 0
    for index, (kind, days, minor) in enumerate(steps):
        day += timedelta(days=days)
        before = books.account
        event = _event(kind, index, day, minor, books.account)
        outcome = books.apply(event)
        account = outcome.account
        if isinstance(event, Draw):
            drawn += minor
        elif isinstance(event, Repay):
            received += minor
            repaid = sum(
                leg.amount.minor_units
                for entry in outcome.entries
                if entry.entry_id == f"repayment:{event.event_id}"
                for leg in entry.legs
                if leg.subject_code == "1303.01"
            )
            assert repaid == 0 or (
                account.fees,
                account.interest_billed,
                account.interest_accrued,
            ) == (0, 0, 0)
            if not outcome.statements:  # everything paid counts toward the minimum
                assert account.minimum_unpaid <= before.minimum_unpaid
        elif isinstance(event, RefundCredit):
            refunded += event.amount.minor_units
        for effect in outcome.quota_effects:
            sign = 1 if effect.kind is LineQuotaEffectKind.DRAW else -1
            used += sign * effect.amount.minor_units
        expected = expected_line_balances(account, product)
        assert {code: books.net_debit(code) for code in expected} == expected
        income = -books.net_debit("6011") - sum(books.net_debit(f"6021.0{k}") for k in "12349")
        assert account.owed() - account.credit == drawn + income + refunded - received
        assert account.penalty <= account.owed()
        assert used == account.principal == books.quota.balance("Q1").used_minor
        assert account.minimum_unpaid <= account.owed()
        if account.statement is not None:
            bill = account.statement
            assert bill.minimum_payment <= bill.balance
    assert Ledger(books.store).audit() == []
