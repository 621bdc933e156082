"""Small portfolios for property tests and what-if studies: a strategy that draws a few loans with
a borrower behaviour each, and :func:`run_portfolio`, which plays them through the services on a
unit of work (memory by default).

::

    from hypothesis import given
    from loancore.services import reconcile
    from loancore.testing.portfolio import portfolios, run_portfolio

    @given(portfolios(product_toml=MY_PRODUCT_TOML))
    def test_my_product_keeps_the_books_straight(portfolio):
        assert reconcile(run_portfolio(portfolio).uow).clean

A behaviour is what the borrower does with every installment: pay it on its due date, pay it
``late_days`` after (penalty interest runs, the late fee is charged), pay the whole loan off at
installment ``stop_after``, or stop paying after ``stop_after`` installments (a default: the loan
stays overdue; write-off is the end of day's job).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Sequence

import attrs
from hypothesis import strategies as st

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.errors import InvalidInput
from loancore.ledger import default_chart
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import Grant
from loancore.services import apply_event, book_order
from loancore.servicing import (
    Accrue,
    Loan,
    LoanProduct,
    PayOff,
    Repay,
    payoff_amount,
    product_from_toml,
)
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

__all__ = [
    "Behaviour",
    "Portfolio",
    "PortfolioLoan",
    "PortfolioRun",
    "behaviours",
    "portfolios",
    "run_portfolio",
]

LOANS_MAX = 500
"""The most loans :func:`run_portfolio` plays (a test portfolio, not a production batch)."""


class Behaviour(str, enum.Enum):
    """What the borrower does with each installment (module docstring)."""

    ON_TIME = "on_time"
    LATE = "late"
    PAY_OFF = "pay_off"
    DEFAULT = "default"


@attrs.frozen(kw_only=True)
class PortfolioLoan:
    """One loan of a portfolio: ``principal_minor`` in minor units of the product's currency,
    booked on ``start_date`` for ``customer_id``, repaid per ``behaviour``."""

    loan_id: str
    customer_id: str
    principal_minor: int = attrs.field(validator=attrs.validators.gt(0))
    installments: int = attrs.field(validator=attrs.validators.in_(range(1, 61)))
    start_date: datetime.date
    behaviour: Behaviour = attrs.field(converter=Behaviour)
    late_days: int = attrs.field(default=0, validator=attrs.validators.in_(range(91)))
    stop_after: int = attrs.field(default=0, validator=attrs.validators.ge(0))


def _loans(value: Iterable[PortfolioLoan]) -> tuple[PortfolioLoan, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Portfolio:
    """Loans under one product (its TOML, as a store keeps it)."""

    product_toml: str
    loans: tuple[PortfolioLoan, ...] = attrs.field(converter=_loans)
    merchant_id: str = "M1"

    def __attrs_post_init__(self) -> None:
        if len(self.loans) > LOANS_MAX:
            raise InvalidInput("loans", len(self.loans), f"expected at most {LOANS_MAX} loans")
        ids = [loan.loan_id for loan in self.loans]
        if len(set(ids)) != len(ids):
            raise InvalidInput("loans", ids, "loan ids must be unique")

    @property
    def product(self) -> LoanProduct:
        return product_from_toml(self.product_toml)


@attrs.frozen(kw_only=True)
class PortfolioRun:
    """What :func:`run_portfolio` did: the unit of work holding the books, and the loans as they
    ended (by loan id)."""

    uow: UnitOfWork
    loans: dict[str, Loan]


def behaviours() -> st.SearchStrategy[tuple[Behaviour, int, int]]:
    """(behaviour, late_days, stop_after) triples, most borrowers paying on time."""
    return st.one_of(
        st.just((Behaviour.ON_TIME, 0, 0)),
        st.tuples(st.just(Behaviour.LATE), st.integers(1, 40), st.just(0)),
        st.tuples(st.just(Behaviour.PAY_OFF), st.just(0), st.integers(0, 5)),
        st.tuples(st.just(Behaviour.DEFAULT), st.just(0), st.integers(0, 5)),
    )


@st.composite
def portfolios(
    draw: st.DrawFn,
    *,
    product_toml: str = CLINIC_PRODUCT_TOML,
    loans_max: int = 6,
    installments: Sequence[int] = (3, 6, 12),
    principal_minor_max: int = 3_000_000,
) -> Portfolio:
    """Portfolios of 1..``loans_max`` loans of ``product_toml`` by 1..3 customers, started in
    the first quarter of 2026, with random behaviours."""
    count = draw(st.integers(1, loans_max))
    loans = []
    for index in range(count):
        behaviour, late_days, stop_after = draw(behaviours())
        loans.append(
            PortfolioLoan(
                loan_id=f"L{index + 1}",
                customer_id=f"C{draw(st.integers(1, 3))}",
                principal_minor=draw(st.integers(10_000, principal_minor_max)),
                installments=draw(st.sampled_from(list(installments))),
                start_date=draw(st.dates(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))),
                behaviour=behaviour,
                late_days=late_days,
                stop_after=stop_after,
            )
        )
    return Portfolio(product_toml=product_toml, loans=tuple(loans))


def _set_up(uow: UnitOfWork, portfolio: Portfolio, currency: str) -> None:
    limits: dict[str, int] = {}
    first = min((loan.start_date for loan in portfolio.loans), default=datetime.date(2026, 1, 1))
    for loan in portfolio.loans:
        limits[loan.customer_id] = limits.get(loan.customer_id, 0) + loan.principal_minor
    with uow:  # loans, quota, ledger: the lock order
        uow.loans.save_product(portfolio.product_toml)
        for customer_id, limit in sorted(limits.items()):
            grant = Grant(
                key=f"grant-{customer_id}",
                line_id=f"LINE-{customer_id}",
                borrower_id=customer_id,
                limit=Money.from_minor(limit, currency),
                starts_on=first,
                expires_on=datetime.date(2031, 1, 1),
            )
            uow.quota.apply(grant, as_of=first)
        uow.ledger.save_chart(default_chart())
        uow.commit()


def _due_by(loan: Loan, day: datetime.date) -> int:
    return sum(i.outstanding() for i in loan.installments if i.due_date <= day)


def _play(uow: UnitOfWork, product: LoanProduct, planned: PortfolioLoan, loan: Loan) -> Loan:
    """Apply the borrower's payments of ``planned`` to ``loan`` (bounded by its installments)."""
    due_dates = [installment.due_date for installment in loan.installments]
    for number, due_date in enumerate(due_dates, start=1):
        if planned.behaviour is Behaviour.DEFAULT and number > planned.stop_after:
            return loan
        if planned.behaviour is Behaviour.PAY_OFF and number > planned.stop_after:
            day = due_date - datetime.timedelta(days=1)
            amount = payoff_amount(loan, product, max(day, loan.last_date))
            event = PayOff(
                event_id=f"{loan.loan_id}-payoff", as_of=max(day, loan.last_date), amount=amount
            )
            return apply_event(uow, loan.loan_id, event).loan
        day = due_date + datetime.timedelta(days=planned.late_days)
        day = max(day, loan.last_date)
        loan = apply_event(
            uow, loan.loan_id, Accrue(event_id=f"{loan.loan_id}-a{number}", as_of=day)
        ).loan
        owed = _due_by(loan, day)
        if owed > 0:
            pay = Repay(event_id=f"{loan.loan_id}-p{number}", as_of=day, amount=loan.money(owed))
            loan = apply_event(uow, loan.loan_id, pay).loan
    return loan


def run_portfolio(portfolio: Portfolio, *, uow: UnitOfWork | None = None) -> PortfolioRun:
    """Play ``portfolio`` through the services on ``uow`` (an empty :class:`MemoryUnitOfWork` by
    default): the product, chart and one quota line per customer saved, every loan financed with
    ``book_order`` at merchant ``portfolio.merchant_id``, then each borrower's payments applied
    with ``apply_event``, loan by loan, in date order. A customer's line is the sum of its loans,
    so it must stay within the unit of work's borrower cap (200,000.00 CNY by default)."""
    product = portfolio.product
    work: UnitOfWork = MemoryUnitOfWork() if uow is None else uow
    _set_up(work, portfolio, product.currency)
    ended: dict[str, Loan] = {}
    for planned in portfolio.loans:
        applied = book_order(
            work,
            order_id=f"order-{planned.loan_id}",
            loan_id=planned.loan_id,
            customer_id=planned.customer_id,
            line_id=f"LINE-{planned.customer_id}",
            product_id=product.product_id,
            product_version=product.version,
            principal=Money.from_minor(planned.principal_minor, product.currency),
            installments=planned.installments,
            start_date=planned.start_date,
            merchant_id=portfolio.merchant_id,
        )
        ended[planned.loan_id] = _play(work, product, planned, applied.loan)
    return PortfolioRun(uow=work, loans=ended)
