"""The loan store on every backend: loans come back equal, products are immutable per version,
an update from a stale version is refused, and a unit of work that fails after the loan write
leaves loans, quota and ledger as they were."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loans_kit import DAY, cny, state

from loancore.adapters.memory.loans import MemoryLoanStore
from loancore.adapters.sql import create_engine, loans_codec, reading_engine
from loancore.adapters.sql.loans import LOANS, SqlLoanStore
from loancore.adapters.sql.loans_codec import (
    LOAN_FORMAT,
    LineMemo,
    decode_loan,
    encode_loan,
    encode_loan_v1,
    encode_loan_v2,
)
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidInput,
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
from loancore.servicing.loan import Transaction, TransactionKind
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


def _lines(text: str) -> list[object]:
    """A format 3 document's lines, each parsed (floats refused)."""
    return [json.loads(line, parse_float=_no_float) for line in text.split("\n")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_encoding_round_trips_exactly_and_canonically(loan: Loan) -> None:
    text = encode_loan(loan)
    assert decode_loan(text) == loan
    assert encode_loan(decode_loan(text)) == text
    header, terms, *rest = _lines(text)  # amounts and counters are integers
    assert isinstance(header, dict) and isinstance(terms, dict)
    assert header["format"] == LOAN_FORMAT == 3
    assert len(rest) == header["installments"] + header["history"]
    assert len(loan.installments) == header["installments"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans(), st.data())
def test_writing_through_the_memo_of_a_read_gives_the_same_text(loan: Loan, data: Any) -> None:
    # The memo names the lines of the objects read; a loan changed after the read (one
    # installment replaced, a history line added) is written exactly as without the memo.
    memo = LineMemo()
    read = decode_loan(encode_loan(loan), memo)
    assert len(memo) == len(loan.installments) + len(loan.history)
    assert encode_loan(read, memo) == encode_loan(read)
    installments = list(read.installments)
    if installments:
        n = data.draw(st.integers(0, len(installments) - 1))
        installments[n] = attrs.evolve(
            installments[n], late_fee_charged=not installments[n].late_fee_charged
        )
    changed = attrs.evolve(
        read,
        installments=tuple(installments),
        history=(
            *read.history,
            Transaction(event_id="new", as_of=read.last_date, kind=TransactionKind.ACCRUED),
        ),
        version=read.version + 1,
    )
    assert encode_loan(changed, memo) == encode_loan(changed)
    assert decode_loan(encode_loan(changed, memo)) == changed


def test_a_memo_full_starts_again_and_still_writes_the_same_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loans_codec, "LINE_MEMO_MAX", 5)
    memo = LineMemo()
    loan = _booked()
    read = decode_loan(encode_loan(loan), memo)
    assert len(memo) <= 5
    assert encode_loan(read, memo) == encode_loan(loan)


def test_a_full_installment_cache_starts_again_and_still_reads_the_whole_loan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The codec's installments cache is emptied when a document's new lines would overfill it:
    # the lines of that document it already knew must still be read (they were lost: KeyError).
    monkeypatch.setattr(loans_codec, "_INSTALLMENTS_MAX", 12)
    monkeypatch.setattr(loans_codec, "_INSTALLMENT_LINES", {})
    product = MemoryLoanStore().save_product(CLINIC_PRODUCT_TOML)
    loan = apply(_booked(), product, Disburse(event_id="pay", as_of=DAY)).loan
    assert len(loan.installments) == 12
    text = encode_loan(loan)
    assert decode_loan(text) == loan  # its 12 lines fill the cache
    header, terms, first, *rest = text.split("\n")
    row = json.loads(first)
    row[3] = 1  # one line not known: 12 known + 1 new is more than the cache holds
    canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    changed = decode_loan("\n".join([header, terms, canonical.encode(row), *rest]))
    assert changed.installments[0].interest_accrued == 1
    assert changed.installments[1:] == loan.installments[1:]
    assert decode_loan(text) == loan


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_format_1_documents_still_read_and_are_rewritten_as_the_current_format(loan: Loan) -> None:
    old = encode_loan_v1(loan)
    assert json.loads(old)["format"] == 1
    unrecorded = tuple(  # format 1 kept no outcome records
        attrs.evolve(txn, entry_ids=(), quota_effects=(), clawback=None) for txn in loan.history
    )
    assert decode_loan(old) == attrs.evolve(loan, history=unrecorded)
    assert json.loads(encode_loan(decode_loan(old)).partition("\n")[0])["format"] == 3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_format_2_documents_still_read_and_are_rewritten_as_the_current_format(loan: Loan) -> None:
    old = encode_loan_v2(loan)
    assert json.loads(old)["format"] == 2
    assert "\n" not in old
    assert decode_loan(old) == loan
    assert encode_loan(decode_loan(old)) == encode_loan(loan)


def test_unknown_document_format_is_refused() -> None:
    text = encode_loan(_booked()).replace('"format":3', '"format":9')
    with pytest.raises(InvariantViolation, match="format 9"):
        decode_loan(text)
    with pytest.raises(InvariantViolation, match="format 2"):  # a format 2 text is one line
        decode_loan(encode_loan_v2(_booked()) + "\n[]")


def test_document_cut_short_is_refused() -> None:
    text = encode_loan(_booked())
    with pytest.raises(InvariantViolation, match="lines"):
        decode_loan(text.rpartition("\n")[0])


def test_documents_sharing_terms_and_installments_read_each_their_own_and_stay_checked() -> None:
    # The codec keeps terms and installments it built (loans of one schedule share them): a
    # document differing in one field reads that field, and a bad one is refused, not served.
    product = MemoryLoanStore().save_product(CLINIC_PRODUCT_TOML)
    loan = apply(_booked(), product, Disburse(event_id="pay", as_of=DAY)).loan
    text = encode_loan(loan)
    assert decode_loan(text) == decode_loan(text) == loan
    header, terms, first, *rest = text.split("\n")
    row = json.loads(first)
    row[3] = 1  # interest accrued 0.01 on the first installment
    data = json.loads(terms)
    data["annual_rate"] = "0.2"
    canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    other_text = "\n".join([header, canonical.encode(data), canonical.encode(row), *rest])
    other = decode_loan(other_text)
    assert other.installments[0].interest_accrued == 1
    assert other.installments[1:] == loan.installments[1:]
    assert str(other.terms.annual_rate) == "0.2"
    row[3] = 10**9  # accrued above the interest due: Installment refuses it
    with pytest.raises(InvariantViolation):
        decode_loan("\n".join([header, terms, canonical.encode(row), *rest]))
    # Equal terms written in another form keep their own text (the codec's terms are by identity).
    rate = loan.terms.annual_rate
    wider = attrs.evolve(loan, terms=attrs.evolve(loan.terms, annual_rate=rate.quantize(D("1e-6"))))
    assert wider.terms == loan.terms
    assert encode_loan(loan) == text
    wider_terms = json.loads(encode_loan(wider).split("\n")[1])
    assert wider_terms["annual_rate"] == str(rate.quantize(D("1e-6")))


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


@pytest.mark.parametrize("old_encoding", [encode_loan_v1, encode_loan_v2])
def test_loans_stored_in_an_older_format_load_replay_and_update_in_place(
    tmp_path: Path, old_encoding: Any
) -> None:
    # A database written before format 3: its documents load, a replayed booking is not a
    # conflict (same loan, other text), and the next update writes format 3 in place.
    product = MemoryLoanStore().save_product(CLINIC_PRODUCT_TOML)
    loan = apply(_booked(), product, Disburse(event_id="pay", as_of=DAY)).loan
    engine = create_engine(tmp_path / "old.sqlite")
    store = SqlLoanStore(engine)
    store.add(loan, customer_id="C1")
    old = old_encoding(loan)
    with engine.begin() as connection:
        connection.execute(sa.update(LOANS).values(document=old))
    expected = decode_loan(old)  # format 1 kept no outcome records
    assert store.load("L1") == expected
    assert store.load_many(["L1"]) == {"L1": expected}
    store.add(expected, customer_id="C1")  # a replayed booking of the loan stored
    with pytest.raises(IdempotencyConflict):
        store.add(attrs.evolve(expected, credit=1), customer_id="C1")
    paid = apply(expected, product, Repay(event_id="r1", as_of=DAY, amount=cny("10.00"))).loan
    store.update_many([(paid, expected.version)])
    with engine.connect() as connection:
        stored = connection.execute(sa.select(LOANS.c.document)).scalar_one()
    assert stored == encode_loan(paid)
    assert json.loads(stored.partition("\n")[0])["format"] == LOAN_FORMAT
    assert SqlLoanStore(engine).load("L1") == paid


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


def test_prepared_updates_store_nothing_and_the_update_writes_the_loan(store: LoanStore) -> None:
    store.save_product(CLINIC_PRODUCT_TOML)
    loan = _booked()
    store.add(loan, customer_id="C1")
    newer = attrs.evolve(loan, version=loan.version + 1, credit=7)
    store.prepare_updates([newer])
    assert store.load("L1") == loan  # a hint: nothing is stored
    store.update_many([(newer, loan.version)])
    assert store.load("L1") == newer
    stale = attrs.evolve(loan, version=loan.version + 1, credit=9)
    store.prepare_updates([stale])
    with pytest.raises(ConcurrentUpdate):  # preparing never skips the version check
        store.update_many([(stale, loan.version)])
    assert store.load("L1") == newer


@pytest.mark.parametrize(
    ("loans", "field"),
    [("L1", "loans"), (None, "loans"), ([_booked(), "L1"], "loans[1]")],
)
def test_prepared_updates_refuse_what_is_not_loans(
    store: LoanStore, loans: object, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.prepare_updates(loans)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_prepared_updates_refuse_more_than_a_batch(store: LoanStore) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.prepare_updates([_booked()] * 10_001)
    assert refused.value.field == "loans"


def test_a_document_prepared_in_one_unit_of_work_is_the_one_the_next_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The optimistic batch: decided (and encoded) in a unit of work that reads, written in the
    # next one, which then encodes nothing: with the encoder broken, the write still succeeds
    # and stores the document prepared for that loan object.
    engine = create_engine(tmp_path / "book.sqlite")
    uow = SqlUnitOfWork(engine)
    loan = _booked()
    with uow:
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        uow.loans.add(loan, customer_id="C1")
        uow.commit()
    newer = attrs.evolve(loan, version=loan.version + 1, credit=7)
    expected = encode_loan(newer)
    reader = SqlUnitOfWork(reading_engine(engine))
    with reader:
        reader.loans.load_many(["L1"])
        reader.loans.prepare_updates([newer])

    def broken(_loan: Loan) -> dict[str, object]:
        raise AssertionError("encoded under the writer's lock")

    monkeypatch.setattr(loans_codec, "_header", broken)
    with uow:
        uow.loans.update_many([(newer, loan.version)])
        uow.commit()
    with engine.connect() as connection:
        assert connection.execute(sa.select(LOANS.c.document)).scalar_one() == expected
    monkeypatch.undo()
    assert SqlLoanStore(engine).load("L1") == newer


def test_a_prepared_document_is_returned_for_that_very_object_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memo = LineMemo()
    loan = _booked()
    memo.prepare(loan, "prepared")
    assert encode_loan(loan, memo) == "prepared"
    twin = attrs.evolve(loan)  # equal, but another object: encoded on its own
    assert twin == loan and encode_loan(twin, memo) == encode_loan(loan)
    memo.clear()  # the memo drops prepared documents with its lines
    assert encode_loan(loan, memo) == encode_loan(loan)
    monkeypatch.setattr(loans_codec, "PREPARED_MAX", 1)
    memo.prepare(loan, "first")
    memo.prepare(twin, "second")  # full: starts again, the first one is dropped
    assert encode_loan(loan, memo) == encode_loan(loan)
    assert encode_loan(twin, memo) == "second"


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
