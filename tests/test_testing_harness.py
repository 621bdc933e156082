"""loancore.testing run as a user team would: the state machines built by the factories in
loancore.testing.machines, and the strategies of loancore.testing.strategies, each used at least
once against loancore's own stores and products."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.errors import InvalidInput
from loancore.ledger import Chart, default_chart
from loancore.money import Money
from loancore.quota import QuotaConfig
from loancore.services import reconcile
from loancore.testing import strategies
from loancore.testing.machines import (
    ledger_machine,
    loan_lifecycle_machine,
    quota_machine,
    servicing_machine,
)
from loancore.testing.portfolio import Behaviour, Portfolio, PortfolioLoan, run_portfolio
from loancore.testing.servicing import CLINIC_PRODUCT_TOML, clinic_product
from loancore.waterfall import FINERACT_ADVANCED, TransactionType, allocate

QUICK = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- state machines, as a user team builds them --------------------------------------------------

TestLedgerMachineOnMemory = ledger_machine().TestCase
TestLedgerMachineOnMemory.settings = QUICK


def _sqlite_ledger(chart: Chart) -> SqlLedgerStore:
    directory = Path(__import__("tempfile").mkdtemp(prefix="ledger-machine-"))
    store = SqlLedgerStore(create_engine(directory / "ledger.sqlite"))
    store.save_chart(chart)
    return store


TestLedgerMachineOnSqlite = ledger_machine(make_store=_sqlite_ledger).TestCase
TestLedgerMachineOnSqlite.settings = settings(QUICK, max_examples=4, stateful_step_count=8)

TestQuotaMachineWithABorrowerCap = quota_machine(
    lambda: MemoryQuotaStore(QuotaConfig(borrower_cap=Money("25000.00", "CNY")))
).TestCase
TestQuotaMachineWithABorrowerCap.settings = QUICK

TestServicingMachineUnderFineractAdvanced = servicing_machine(
    clinic_product(policy=FINERACT_ADVANCED, grace_days=0)
).TestCase
TestServicingMachineUnderFineractAdvanced.settings = QUICK

CIVIL_CODE_TOML = CLINIC_PRODUCT_TOML.replace("version = 1", "version = 2") + (
    '\n[allocation]\npolicy = "civil-code-561"\n'
)
TestLoanLifecycleUnderCivilCode = loan_lifecycle_machine(
    CIVIL_CODE_TOML, principal=Money("6000.00", "CNY"), installments=6
).TestCase
TestLoanLifecycleUnderCivilCode.settings = settings(QUICK, max_examples=8, stateful_step_count=10)


def test_a_factory_refuses_what_is_not_a_product() -> None:
    with pytest.raises(InvalidInput, match="product"):
        servicing_machine(CLINIC_PRODUCT_TOML)  # type: ignore[arg-type]


def test_a_lifecycle_principal_must_be_in_the_products_currency() -> None:
    with pytest.raises(InvalidInput, match="principal"):
        loan_lifecycle_machine(principal=Money("100.00", "USD"))


def test_the_ledger_machine_posts_to_a_users_own_chart() -> None:
    chart = default_chart()
    machine = ledger_machine(chart=chart)
    assert machine.chart is chart and machine.__mro__[1].__name__ == "LedgerMachine"


# -- strategies ----------------------------------------------------------------------------------


def test_every_exported_strategy_name_resolves() -> None:
    for name in strategies.__all__:
        assert callable(getattr(strategies, name)), name


@settings(max_examples=60, deadline=None)
@given(strategies.schedules(installments_max=24))
def test_schedules_repay_their_principal(schedule) -> None:  # type: ignore[no-untyped-def]
    terms = schedule.terms
    assert sum(schedule.principal) + schedule.prepaid_principal == terms.principal


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_allocation_policies_conserve_the_payment(data: st.DataObject) -> None:
    items = data.draw(strategies.outstanding_items())
    cash_kinds = [kind for kind in TransactionType if kind is not TransactionType.WAIVER]
    payment = data.draw(strategies.waterfall_payments(items, transaction_types=cash_kinds))
    policy = data.draw(strategies.allocation_policies())
    allocation = allocate(items, payment, policy, grace_days=3)
    assert allocation.allocated + allocation.leftover == payment.amount
    assert allocation.cash


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.loan_products())
def test_products_drawn_book_a_balanced_first_entry(product) -> None:  # type: ignore[no-untyped-def]
    from loancore.servicing import Disburse
    from loancore.testing.servicing import Harness

    harness = Harness.booked(product)
    harness.apply(Disburse(event_id="payout", as_of=datetime.date(2026, 1, 15)))
    assert harness.loan.principal_outstanding() == 1_200_000


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.portfolios())
def test_random_portfolios_reconcile_loan_by_loan_with_the_ledger(portfolio: Portfolio) -> None:
    run = run_portfolio(portfolio)
    result = reconcile(run.uow)
    assert result.clean, result.problems()
    for planned in portfolio.loans:
        loan = run.loans[planned.loan_id]
        if planned.behaviour in (Behaviour.ON_TIME, Behaviour.LATE, Behaviour.PAY_OFF):
            assert loan.principal_outstanding() == 0, planned
        if planned.behaviour is Behaviour.DEFAULT and planned.stop_after < planned.installments:
            assert loan.principal_outstanding() > 0, planned


def test_a_portfolio_refuses_a_loan_id_twice() -> None:
    loan = PortfolioLoan(
        loan_id="L1",
        customer_id="C1",
        principal_minor=100_000,
        installments=3,
        start_date=datetime.date(2026, 1, 15),
        behaviour="on_time",
    )
    with pytest.raises(InvalidInput, match="loan ids"):
        Portfolio(product_toml=CLINIC_PRODUCT_TOML, loans=[loan, loan])
    assert Decimal(loan.principal_minor) == Decimal(100_000)
