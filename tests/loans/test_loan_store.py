"""The loan store on every backend: loans come back equal, products are immutable per version,
an update from a stale version is refused, and a unit of work that fails after the loan write
leaves loans, quota and ledger as they were."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loans_kit import DAY, cny, state

from loancore.adapters.memory.loans import MemoryLoanStore
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.loans import SqlLoanStore
from loancore.adapters.sql.loans_codec import (
    LOAN_FORMAT,
    decode_loan,
    encode_loan,
    encode_loan_v1,
)
from loancore.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvariantViolation,
    NotFound,
    PostingRejected,
)
from loancore.ledger import JournalEntry, Leg
from loancore.money import Money
from loancore.ports import LoanStore, UnitOfWork
from loancore.quota import Hold
from loancore.servicing import (
    Accrue,
    ChargeFee,
    Disburse,
    Loan,
    MerchantRefund,
    Prepay,
    Repay,
    ServicingRejected,
    Waive,
    apply,
    book_loan,
)
from loancore.testing.servicing import CLINIC_PRODUCT_TOML, loan_products


@st.composite
def loans(draw: st.DrawFn) -> Loan:
    """A loan of a random product after a random run of events (refused ones skipped)."""
    product = draw(loan_products())
    principal = Money.from_minor(draw(st.integers(100_00, 50_000_00)), "CNY")
    outcome = book_loan(
        product,
        event_id="book",
        loan_id=draw(st.sampled_from(["L1", "贷款-7", "a" * 50])),
        hold_id="H1",
        principal=principal,
        installments=draw(st.integers(1, 24)),
        start_date=date(2026, 1, 15),
        payee="merchant",
        dimensions={"merchant": "M1", "customer": "C1"},
    )
    loan = outcome.loan
    if draw(st.booleans()):
        loan = apply(loan, product, Disburse(event_id="pay", as_of=loan.last_date)).loan
    day = loan.last_date
    for n in range(draw(st.integers(0, 8))):
        day += timedelta(days=draw(st.integers(0, 70)))
        amount = Money.from_minor(draw(st.integers(1, 300_000)), "CNY")
        kind = draw(st.sampled_from([Repay, Prepay, MerchantRefund, ChargeFee, Accrue, Waive]))
        if kind is Accrue:
            event: object = Accrue(event_id=f"e{n}", as_of=day)
        elif kind is Waive:
            event = Waive(event_id=f"e{n}", as_of=day, component="fee", amount=amount)
        else:
            event = kind(event_id=f"e{n}", as_of=day, amount=amount)
        try:
            loan = apply(loan, product, event).loan  # type: ignore[arg-type]
        except ServicingRejected:
            pass
    return loan


def _no_float(text: str) -> None:
    raise AssertionError(f"a float in the loan document: {text}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_encoding_round_trips_exactly_and_canonically(loan: Loan) -> None:
    text = encode_loan(loan)
    assert decode_loan(text) == loan
    assert encode_loan(decode_loan(text)) == text
    json.loads(text, parse_float=_no_float)  # amounts and counters are integers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_format_1_documents_still_read_and_are_rewritten_as_the_current_format(loan: Loan) -> None:
    old = encode_loan_v1(loan)
    assert json.loads(old)["format"] == 1
    unrecorded = tuple(  # format 1 kept no outcome records
        attrs.evolve(txn, entry_ids=(), quota_effects=(), clawback=None) for txn in loan.history
    )
    assert decode_loan(old) == attrs.evolve(loan, history=unrecorded)
    assert json.loads(encode_loan(decode_loan(old)))["format"] == LOAN_FORMAT == 2


def test_unknown_document_format_is_refused() -> None:
    text = encode_loan(_booked()).replace('"format":2', '"format":3')
    with pytest.raises(InvariantViolation, match="format 3"):
        decode_loan(text)


def test_documents_sharing_terms_and_installments_read_each_their_own_and_stay_checked() -> None:
    # The codec keeps terms and installments it built (loans of one schedule share them): a
    # document differing in one field reads that field, and a bad one is refused, not served.
    product = MemoryLoanStore().save_product(CLINIC_PRODUCT_TOML)
    loan = apply(_booked(), product, Disburse(event_id="pay", as_of=DAY)).loan
    text = encode_loan(loan)
    assert decode_loan(text) == decode_loan(text) == loan
    data = json.loads(text)
    data["installments"][0][3] = 1  # interest accrued 0.01 on the first installment
    data["terms"]["annual_rate"] = "0.2"
    other = decode_loan(json.dumps(data))
    assert other.installments[0].interest_accrued == 1
    assert other.installments[1:] == loan.installments[1:]
    assert str(other.terms.annual_rate) == "0.2"
    data["installments"][0][3] = 10**9  # accrued above the interest due: Installment refuses it
    with pytest.raises(InvariantViolation):
        decode_loan(json.dumps(data))
    # Equal terms written in another form keep their own text (the codec's terms are by identity).
    rate = loan.terms.annual_rate
    wider = attrs.evolve(loan, terms=attrs.evolve(loan.terms, annual_rate=rate.quantize(D("1e-6"))))
    assert wider.terms == loan.terms
    assert encode_loan(loan) == text
    assert json.loads(encode_loan(wider))["terms"]["annual_rate"] == str(rate.quantize(D("1e-6")))


def _sqlite_store(tmp_path: Path) -> SqlLoanStore:
    return SqlLoanStore(create_engine(tmp_path / "store.sqlite"))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(loan=loans())
def test_sqlite_load_of_saved_loan_is_equal(tmp_path: Path, loan: Loan) -> None:
    store = _sqlite_store(tmp_path)
    if loan.loan_id in store.loan_ids(limit=10):
        store.update(loan, expected_version=store.load(loan.loan_id).version)
    else:
        store.add(loan, customer_id="C1")
    assert store.load(loan.loan_id) == loan


def _booked() -> Loan:
    product = MemoryLoanStore().save_product(CLINIC_PRODUCT_TOML)
    return book_loan(
        product,
        event_id="book",
        loan_id="L1",
        hold_id="H1",
        principal=cny("1200.00"),
        installments=12,
        start_date=DAY,
        payee="merchant",
        dimensions={"merchant": "M1"},
    ).loan


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LoanStore:
    return MemoryLoanStore() if request.param == "memory" else _sqlite_store(tmp_path)


def test_store_contract(store: LoanStore) -> None:
    assert isinstance(store, LoanStore)
    product = store.save_product(CLINIC_PRODUCT_TOML)
    assert store.save_product(CLINIC_PRODUCT_TOML + "\n# same content\n") == product
    with pytest.raises(IdempotencyConflict):
        store.save_product(
            CLINIC_PRODUCT_TOML.replace('annual_rate = "0.18"', 'annual_rate = "0.2"')
        )
    assert store.product("clinic-12", 1) == product
    with pytest.raises(NotFound):
        store.product("clinic-12", 2)
    loan = _booked()
    store.add(loan, customer_id="C1")
    store.add(loan, customer_id="C1")  # a replayed booking
    with pytest.raises(IdempotencyConflict):
        store.add(attrs.evolve(loan, credit=1), customer_id="C1")
    with pytest.raises(NotFound):
        store.load("nope")
    newer = attrs.evolve(loan, version=loan.version + 1)
    store.update(newer, expected_version=loan.version)
    with pytest.raises(ConcurrentUpdate):  # a second writer that loaded the old version
        store.update(attrs.evolve(newer, credit=5), expected_version=loan.version)
    assert store.load("L1") == newer
    with pytest.raises(NotFound):
        store.update(attrs.evolve(loan, loan_id="L9"), expected_version=0)
    store.add(attrs.evolve(loan, loan_id="L0"), customer_id="C2")
    assert store.customer_loans("C1") == ("L1",)
    assert store.loan_ids() == ("L0", "L1")
    assert store.loan_ids(after="L0", limit=1) == ("L1",)


def _failing_entry() -> JournalEntry:
    return JournalEntry(
        entry_id="X",
        idempotency_key="X",
        accounting_date=DAY,
        legs=(Leg.debit("1303.01", cny("1.00")), Leg.credit("2202", cny("2.00"))),
    )


def test_failure_after_the_loan_write_leaves_all_three_stores_unchanged(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(RuntimeError), uow:
        uow.loans.add(_booked(), customer_id="C1")
        uow.quota.apply(
            Hold(key="H1", line_id="LINE", amount=cny("1200.00"), expires_on=DAY), as_of=DAY
        )
        raise RuntimeError("crash before the ledger write")
    assert state(uow) == before
    with pytest.raises(PostingRejected), uow:
        uow.loans.add(_booked(), customer_id="C1")
        uow.quota.apply(
            Hold(key="H1", line_id="LINE", amount=cny("1200.00"), expires_on=DAY), as_of=DAY
        )
        uow.ledger.post([_failing_entry()])
    assert state(uow) == before


def test_loan_write_after_a_ledger_write_breaks_the_lock_order(uow: UnitOfWork) -> None:
    with uow:
        uow.quota.apply(
            Hold(key="H1", line_id="LINE", amount=cny("1.00"), expires_on=DAY), as_of=DAY
        )
        with pytest.raises(InvariantViolation):
            uow.loans.add(_booked(), customer_id="C1")
