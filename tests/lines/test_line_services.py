"""The credit-line services' contract on every store: a failure between quota and ledger leaves
everything as it was; a refusal changes nothing; a replayed event id returns its first record
and posts nothing; opening again returns the stored account; the day close is chunked,
idempotent and skips (and reports) an account that fails."""

from __future__ import annotations

from datetime import date

import pytest
from lines_kit import assert_clean, cny, open_a1, set_up, state

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.sql.ledger import SqlLedgerStore
from loancore.delinquency import lines as delinquency_lines
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    NotFound,
    QuotaRejected,
    RejectionCode,
    ServicingRejected,
)
from loancore.ports import UnitOfWork
from loancore.services import (
    apply_line_event,
    close_lines_day,
    line_statements,
    open_credit_line,
)
from loancore.servicing import (
    Accrue,
    CloseStatement,
    CreditLineAccount,
    CreditLineProduct,
    Draw,
    LineOutcome,
    RefundCredit,
    Repay,
    ServicingEvent,
    apply_line,
)


class Boom(RuntimeError):
    pass


def _fail_posting(monkeypatch: pytest.MonkeyPatch) -> None:
    def post(*_args: object, **_kwargs: object) -> None:
        raise Boom("the ledger fails after the quota was moved")

    monkeypatch.setattr(MemoryLedgerStore, "post", post)
    monkeypatch.setattr(SqlLedgerStore, "post", post)


def test_a_failure_between_quota_and_ledger_leaves_every_store_as_it_was(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00")))
    before = state(uow)
    with monkeypatch.context() as patched:
        _fail_posting(patched)
        for event in (
            Draw(event_id="d2", as_of=date(2026, 3, 20), amount=cny("500.00")),
            Repay(event_id="r1", as_of=date(2026, 3, 20), amount=cny("300.00")),
        ):
            with pytest.raises(Boom):
                apply_line_event(uow, "A1", event)
            assert state(uow) == before
        with pytest.raises(Boom):
            close_lines_day(uow, date(2026, 3, 12))  # a chunk's write failing is no refusal
        assert state(uow) == before
    applied = apply_line_event(
        uow, "A1", Draw(event_id="d2", as_of=date(2026, 3, 20), amount=cny("500.00"))
    )
    assert applied.record.version == 3  # the failed attempts left no version behind
    assert_clean(uow)


def test_a_refused_event_changes_nothing(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00")))
    before = state(uow)
    over = Draw(event_id="d2", as_of=date(2026, 3, 3), amount=cny("49100.01"))
    with pytest.raises(QuotaRejected):  # the core agreed; the quota refused: nothing kept
        apply_line_event(uow, "A1", over)
    with pytest.raises(ServicingRejected) as refused:
        apply_line_event(
            uow, "A1", RefundCredit(event_id="f1", as_of=date(2026, 3, 3), amount=cny("1.00"))
        )
    assert refused.value.code is RejectionCode.CREDIT_INSUFFICIENT
    with pytest.raises(ServicingRejected) as early:
        apply_line_event(uow, "A1", Repay(event_id="r0", as_of=date(2026, 3, 1), amount=cny("1")))
    assert early.value.code is RejectionCode.EVENT_BEFORE_LAST
    with pytest.raises(InvalidInput):
        apply_line_event(uow, "A1", CloseStatement(event_id="c1", as_of=date(2026, 3, 9)))
    assert state(uow) == before
    assert_clean(uow)


def test_a_replayed_event_returns_its_first_record_and_posts_nothing(uow: UnitOfWork) -> None:
    open_a1(uow)
    draw = Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00"))
    first = apply_line_event(uow, "A1", draw)
    pay = Repay(event_id="r1", as_of=date(2026, 3, 25), amount=cny("200.00"))
    paid = apply_line_event(uow, "A1", pay)
    assert paid.record.statements == (1,)  # statement 1 closed on the way
    before = state(uow)
    for event, original in ((draw, first), (pay, paid)):  # an older event and the last one
        again = apply_line_event(uow, "A1", event)
        assert again.replayed and again.outcome is None
        assert again.record == original.record
        assert again.account == paid.account
    same_id_other_amount = Repay(event_id="r1", as_of=date(2026, 3, 26), amount=cny("5.00"))
    assert apply_line_event(uow, "A1", same_id_other_amount).record == paid.record
    assert state(uow) == before


def test_opening_again_returns_the_stored_account_and_refuses_another_opening(
    uow: UnitOfWork,
) -> None:
    opened = open_a1(uow)
    drawn = apply_line_event(
        uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00"))
    )
    assert open_a1(uow) == drawn.account != opened
    with pytest.raises(IdempotencyConflict):
        open_credit_line(
            uow,
            account_id="A1",
            customer_id="C1",
            line_id="Q1",
            product_id="cash-line",
            product_version=1,
            opened_on=date(2026, 3, 1),
            statement_day=11,
        )
    with pytest.raises(NotFound):
        open_a1(uow, account_id="A2", line_id="NO-SUCH-LINE")
    with pytest.raises(NotFound):
        line_statements(uow, "A2")
    with uow:
        assert uow.loans.line_ids() == ("A1",)
        assert uow.loans.quota_line_accounts("Q1") == ("A1",)


def test_the_day_close_is_chunked_and_idempotent(uow: UnitOfWork) -> None:
    for account_id in ("A1", "A2", "A3"):
        open_a1(uow, account_id=account_id)
        draw = Draw(event_id=f"d-{account_id}", as_of=date(2026, 3, 2), amount=cny("1000.00"))
        apply_line_event(uow, account_id, draw)
    apply_line_event(uow, "A3", Repay(event_id="r3", as_of=date(2026, 3, 12), amount=cny("1")))
    first = close_lines_day(uow, date(2026, 3, 12), chunk_size=1)
    # A3 is at the date already (its repayment) but not yet classified: closed too
    assert (first.chunks, first.lines_closed, first.statements, first.failed) == (3, 3, 2, ())
    before = state(uow)
    again = close_lines_day(uow, date(2026, 3, 12), chunk_size=1)
    assert (again.chunks, again.lines_closed, again.entries) == (0, 0, 0)
    assert state(uow) == before
    assert [len(line_statements(uow, i)) for i in ("A1", "A2", "A3")] == [1, 1, 1]
    assert_clean(uow)


def test_the_day_close_reports_and_skips_a_failing_account(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    for account_id in ("A1", "A2", "A3"):
        open_a1(uow, account_id=account_id)
        draw = Draw(event_id=f"d-{account_id}", as_of=date(2026, 3, 2), amount=cny("1000.00"))
        apply_line_event(uow, account_id, draw)
    real = apply_line

    def failing(
        account: CreditLineAccount, product: CreditLineProduct, event: ServicingEvent
    ) -> LineOutcome:
        if account.account_id == "A2":
            raise InvariantViolation("A2 is broken")
        return real(account, product, event)

    with uow:
        a2 = uow.loans.load_line("A2")
    monkeypatch.setattr(delinquency_lines, "apply_line", failing)
    closed = close_lines_day(uow, date(2026, 3, 20))
    assert closed.lines_closed == 2
    ((refusal),) = closed.failed
    assert (refusal.key, refusal.code) == ("A2", RejectionCode.LOAN_CLOSE_FAILED)
    assert "A2 is broken" in refusal.detail
    with uow:
        assert uow.loans.load_line("A2") == a2
        assert uow.loans.lines_to_close(date(2026, 3, 20)) == ("A2",)
    monkeypatch.setattr(delinquency_lines, "apply_line", real)
    retried = close_lines_day(uow, date(2026, 3, 20))
    assert (retried.lines_closed, retried.failed) == (1, ())
    assert_clean(uow)


def test_an_accrue_through_the_services_is_recorded_like_any_event(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("100.00")))
    accrued = apply_line_event(uow, "A1", Accrue(event_id="a1", as_of=date(2026, 3, 4)))
    assert accrued.record.kind == "accrue"
    assert accrued.record.entry_ids == ("interest.accrued:a1.accrue",)
    with uow:
        assert uow.loans.line_record("A1", "a1") == accrued.record
        assert uow.loans.line_record("A1", "nope") is None


def test_set_up_twice_is_a_replay(uow: UnitOfWork) -> None:
    set_up(uow)  # the same line product TOML and grant again change nothing
    with uow:
        assert uow.loans.line_product("cash-line", 1).product_id == "cash-line"
        with pytest.raises(NotFound):
            uow.loans.line_product("cash-line", 2)
