"""Servicing use cases: each call is ONE unit of work over the loans, quota and ledger stores.

- :func:`book_order`: hold the quota, book the loan, capture the hold, disburse to the merchant
  (or the card), post the entries; all or nothing.
- :func:`apply_event`: load the loan, :func:`loancore.servicing.apply` the event, save the loan
  (optimistic: :class:`~loancore.errors.ConcurrentUpdate` retried up to ``attempts_max`` times),
  turn the quota effects into quota commands, post the entries and memo postings, commit. A
  refusal raises and changes nothing. An event id the loan already recorded is a replay: the
  stored loan comes back (``replayed``) and nothing is posted again.
- :func:`apply_batch`: many events (a repayment file's chunk) in one unit of work.
- :func:`reconcile`: the trial balance balances, each loan's figures equal the ledger's balances
  filtered by the loan (:func:`loancore.servicing.reconcile`) and each quota line's used amount
  equals the outstanding principal of the loans drawn on it.

Quota effects become commands (:func:`quota_command`): ``capture`` -> ``Capture``; ``release`` ->
``Void`` of an open hold, or ``RestoreRefunded`` (reason cancellation) of a captured one;
``restore_repaid`` -> ``RestoreRepaid`` (principal); ``restore_refunded`` -> ``RestoreRefunded``
(reason refund); ``reuse`` (a reversed payment takes back quota it had restored) has no command of
its own and maps to ``Draw`` of the amount on the loan's line, the closest command: it counts the
principal as used again (and is refused, undoing the reversal, if the line cannot take it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import attrs

from loancore.checks import DATE_MAX, require_id
from loancore.errors import ConcurrentUpdate, InvalidInput, NotFound, ServicingRejected
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.quota import (
    Capture,
    Command,
    Draw,
    Hold,
    HoldStatus,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Void,
)
from loancore.services.end_of_day import RulesLike, current_outcome
from loancore.servicing import (
    Disburse,
    Loan,
    LoanProduct,
    LoanStatus,
    Outcome,
    QuotaEffect,
    QuotaEffectKind,
    ReconciliationLine,
    ServicingEvent,
    apply,
    book_loan,
    expected_balances,
)
from loancore.servicing import reconcile as reconcile_loan

__all__ = [
    "ATTEMPTS_MAX",
    "Applied",
    "BatchResult",
    "LineCheck",
    "Reconciliation",
    "apply_batch",
    "apply_event",
    "book_order",
    "quota_command",
    "reconcile",
]

ATTEMPTS_MAX = 5
"""How many times :func:`apply_event` tries by default before letting ConcurrentUpdate out."""

BATCH_MAX = 10_000
"""The most events :func:`apply_batch` takes in one unit of work."""

_LOANS_BATCH = 1000
_LOANS_MAX = 10_000_000


@attrs.frozen
class Applied:
    """What a servicing call did: the loan as stored after it, the core's outcome (None for a
    replay: nothing was done again), whether it was a replay and how many attempts it took."""

    loan: Loan
    outcome: Outcome | None
    replayed: bool = False
    attempts: int = 1


def quota_command(uow: UnitOfWork, effect: QuotaEffect) -> Command:
    """The quota command for ``effect`` (module docstring); reads the hold's line."""
    kind = effect.kind
    if kind is QuotaEffectKind.CAPTURE:
        return Capture(key=effect.key, hold_id=effect.hold_id, amount=effect.amount)
    hold = uow.quota.hold(effect.hold_id)
    if kind is QuotaEffectKind.RELEASE:
        if hold.status is HoldStatus.OPEN:
            return Void(key=effect.key, hold_id=effect.hold_id)
        return RestoreRefunded(
            key=effect.key,
            line_id=hold.line_id,
            principal=effect.amount,
            reason=RefundReason.CANCELLATION,
        )
    if kind is QuotaEffectKind.RESTORE_REPAID:
        parts = RepaymentParts(principal=effect.amount)
        return RestoreRepaid(key=effect.key, line_id=hold.line_id, repaid=parts)
    if kind is QuotaEffectKind.RESTORE_REFUNDED:
        return RestoreRefunded(
            key=effect.key,
            line_id=hold.line_id,
            principal=effect.amount,
            reason=RefundReason.REFUND,
        )
    if kind is QuotaEffectKind.REUSE:
        return Draw(key=effect.key, line_id=hold.line_id, amount=effect.amount)
    raise InvalidInput("effect.kind", kind, "unknown quota effect")


def _persist_effects(uow: UnitOfWork, outcomes: tuple[Outcome, ...], as_of: date) -> None:
    """Quota commands, then entries and memo postings (the lock order: quota, then ledger)."""
    for outcome in outcomes:
        for effect in outcome.quota_effects:
            if effect.amount.is_positive():
                uow.quota.apply(quota_command(uow, effect), as_of=as_of)
    entries = [entry for outcome in outcomes for entry in outcome.entries]
    memos = [memo for outcome in outcomes for memo in outcome.memo_postings]
    if entries:
        uow.ledger.post(entries)
    if memos:
        uow.ledger.post_memo(memos)


def book_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    loan_id: str,
    customer_id: str,
    line_id: str,
    product_id: str,
    product_version: int,
    principal: Money,
    installments: int,
    start_date: date,
    merchant_id: str | None = None,
    card: str | None = None,
    hold_expires_on: date | None = None,
    first_due_date: date | None = None,
) -> Applied:
    """An order financed in one unit of work: quota hold ``<loan_id>-hold`` on ``line_id``, the
    loan booked (event ``order_id``) and disbursed (event ``<order_id>-payout``) to the merchant
    ``merchant_id`` (受托支付) or, without one, to the borrower's ``card``; the hold captured;
    the entries posted. A loan id already stored is a replay: the stored loan comes back."""
    require_id("customer_id", customer_id)
    hold_id = f"{loan_id}-hold"
    with uow:
        try:
            return Applied(uow.loans.load(loan_id), None, replayed=True)
        except NotFound:
            pass
        product = uow.loans.product(product_id, product_version)
        dimensions = {"customer": customer_id}
        if merchant_id is not None:
            dimensions["merchant"] = merchant_id
        booked = book_loan(
            product,
            event_id=order_id,
            loan_id=loan_id,
            hold_id=hold_id,
            principal=principal,
            installments=installments,
            start_date=start_date,
            payee="merchant" if merchant_id is not None else "card",
            dimensions=dimensions,
            first_due_date=first_due_date,
        )
        payout = Disburse(event_id=f"{order_id}-payout", as_of=start_date, card=card)
        disbursed = apply(booked.loan, product, payout)
        uow.loans.add(disbursed.loan, customer_id=customer_id)
        expires_on = start_date if hold_expires_on is None else hold_expires_on
        hold = Hold(key=hold_id, line_id=line_id, amount=principal, expires_on=expires_on)
        uow.quota.apply(hold, as_of=start_date)
        _persist_effects(uow, (booked, disbursed), start_date)
        uow.commit()
    return Applied(disbursed.loan, disbursed)


def _replayed(loan: Loan, event: ServicingEvent) -> bool:
    prefix = f"{event.event_id}~"
    return loan.transaction(event.event_id) is not None or any(
        txn.event_id.startswith(prefix) for txn in loan.history
    )


def _apply_once(
    uow: UnitOfWork, loan_id: str, event: ServicingEvent, attempt: int, rules: RulesLike
) -> Applied:
    with uow:
        loan = uow.loans.load(loan_id)
        if _replayed(loan, event):
            return Applied(loan, None, replayed=True, attempts=attempt)
        product = uow.loans.product(loan.product_id, loan.product_version)
        outcome, standing = current_outcome(uow, loan, product, event, rules)  # inline catch-up
        uow.loans.update(outcome.loan, expected_version=loan.version)
        if standing is not None:
            uow.loans.save_standings([standing])
        _persist_effects(uow, (outcome,), event.as_of)
        uow.commit()
    return Applied(outcome.loan, outcome, attempts=attempt)


def apply_event(
    uow: UnitOfWork,
    loan_id: str,
    event: ServicingEvent,
    *,
    attempts_max: int = ATTEMPTS_MAX,
    rules: RulesLike = None,
) -> Applied:
    """``event`` applied to the stored loan in one unit of work (module docstring). A loan the
    end-of-day batch keeps a standing for is brought up to date first (the days before the
    event's date closed under ``rules``, the batch's own) and stays off the books while
    non-accrual (:func:`loancore.services.end_of_day.current_outcome`). A
    :class:`~loancore.errors.ConcurrentUpdate` (another unit of work saved the loan after this one
    loaded it) is retried with a fresh load, up to ``attempts_max`` attempts in all, then raised."""
    if isinstance(attempts_max, bool) or not isinstance(attempts_max, int) or attempts_max < 1:
        raise InvalidInput("attempts_max", attempts_max, "expected an int >= 1")
    for attempt in range(1, attempts_max + 1):
        try:
            return _apply_once(uow, loan_id, event, attempt, rules)
        except ConcurrentUpdate:
            if attempt == attempts_max:
                raise
    raise InvalidInput("attempts_max", attempts_max, "no attempt made")  # unreachable: bound >= 1


@attrs.frozen
class BatchResult:
    """What :func:`apply_batch` did: the event ids applied, replayed and refused (with the
    refusal), in input order."""

    applied: tuple[str, ...]
    replayed: tuple[str, ...]
    refused: tuple[tuple[str, ServicingRejected], ...]


def _batch_once(uow: UnitOfWork, items: Sequence[tuple[str, ServicingEvent]]) -> BatchResult:
    applied: list[str] = []
    replayed: list[str] = []
    refused: list[tuple[str, ServicingRejected]] = []
    with uow:
        current = uow.loans.load_many([loan_id for loan_id, _event in items])  # one read
        loaded = {loan_id: loan.version for loan_id, loan in current.items()}
        products: dict[tuple[str, int], LoanProduct] = {}
        outcomes: list[Outcome] = []
        for loan_id, event in items:  # decide everything first: writes go loans, quota, ledger
            loan = current[loan_id]
            if _replayed(loan, event):
                replayed.append(event.event_id)
                continue
            ref = (loan.product_id, loan.product_version)
            product = products.get(ref)
            if product is None:
                product = products[ref] = uow.loans.product(*ref)
            try:
                outcome = apply(loan, product, event)
            except ServicingRejected as refusal:
                refused.append((event.event_id, refusal))
                continue
            current[loan_id] = outcome.loan
            outcomes.append(outcome)
            applied.append(event.event_id)
        changed = [(loan, loaded[i]) for i, loan in current.items() if loan.version != loaded[i]]
        uow.loans.update_many(changed)  # one write
        as_of = max((event.as_of for _loan_id, event in items), default=DATE_MAX)
        _persist_effects(uow, tuple(outcomes), as_of)
        uow.commit()
    return BatchResult(tuple(applied), tuple(replayed), tuple(refused))


def apply_batch(
    uow: UnitOfWork,
    items: Sequence[tuple[str, ServicingEvent]],
    *,
    attempts_max: int = ATTEMPTS_MAX,
) -> BatchResult:
    """Many ``(loan_id, event)`` pairs (an auto-debit result file's chunk) in ONE unit of work.

    The batch's loans are read at once (``load_many``). Every event is decided first, in order,
    on the loan as the earlier events of the batch left it; a refused event
    (:class:`~loancore.errors.ServicingRejected`) is reported and skipped (nothing was written
    for it), a replayed event id reported and skipped. Then the changed loans are saved at once
    (``update_many``), the quota commands applied and all entries posted at once (the lock
    order). Anything else raised (a quota refusal, a posting refusal) undoes the whole batch. A
    ConcurrentUpdate reruns the batch from fresh loads, up to ``attempts_max`` attempts in all.
    """
    if isinstance(attempts_max, bool) or not isinstance(attempts_max, int) or attempts_max < 1:
        raise InvalidInput("attempts_max", attempts_max, "expected an int >= 1")
    batch = list(items)
    if len(batch) > BATCH_MAX:
        raise InvalidInput("items", len(batch), f"at most {BATCH_MAX} events a batch")
    for attempt in range(1, attempts_max + 1):
        try:
            return _batch_once(uow, batch)
        except ConcurrentUpdate:
            if attempt == attempts_max:
                raise
    raise InvalidInput("attempts_max", attempts_max, "no attempt made")  # unreachable: bound >= 1


# -- reconciliation -------------------------------------------------------------------------------


@attrs.frozen
class LineCheck:
    """A quota line: its used amount and the outstanding principal of the loans drawn on it."""

    line_id: str
    used_minor: int
    principal_outstanding: int

    @property
    def agrees(self) -> bool:
        return self.used_minor == self.principal_outstanding


@attrs.frozen
class Reconciliation:
    """The result of :func:`reconcile`; ``clean`` when everything agrees."""

    trial_balanced: bool
    loans: Mapping[str, tuple[ReconciliationLine, ...]]
    lines: tuple[LineCheck, ...]

    @property
    def clean(self) -> bool:
        return (
            self.trial_balanced
            and all(line.agrees for lines in self.loans.values() for line in lines)
            and all(check.agrees for check in self.lines)
        )

    def problems(self) -> list[str]:
        """What disagrees, one line each (empty when clean)."""
        found = [] if self.trial_balanced else ["trial balance does not balance"]
        for loan_id, lines in self.loans.items():
            found.extend(f"loan {loan_id}: {line}" for line in lines if not line.agrees)
        found.extend(f"quota {check}" for check in self.lines if not check.agrees)
        return found


def _net_debits(uow: UnitOfWork, loan: Loan, codes: list[str]) -> dict[str, int]:
    chart = uow.ledger.load_chart()
    result: dict[str, int] = {}
    for code in codes:
        balance = uow.ledger.balance(
            code, loan.currency, as_of=DATE_MAX, dimensions={"loan": loan.loan_id}
        ).minor_units
        result[code] = balance if chart.get(code).normal_side is Side.DEBIT else -balance
    return result


def _all_loan_ids(uow: UnitOfWork) -> list[str]:
    ids: list[str] = []
    after = ""
    for _ in range(_LOANS_MAX // _LOANS_BATCH):  # bounded: at most _LOANS_MAX loans
        batch = uow.loans.loan_ids(after=after, limit=_LOANS_BATCH)
        ids.extend(batch)
        if len(batch) < _LOANS_BATCH:
            break
        after = batch[-1]
    return ids


def reconcile(uow: UnitOfWork, loan_id: str | None = None) -> Reconciliation:
    """Reconcile one loan (and its quota line), or every loan and line with ``loan_id`` None, in
    one (read-only) unit of work; see the module docstring."""
    with uow:
        trial = uow.ledger.trial_balance(as_of=DATE_MAX)
        loans: dict[str, Loan] = {i: uow.loans.load(i) for i in _all_loan_ids(uow)}
        line_of = {i: uow.quota.hold(loan.hold_id).line_id for i, loan in loans.items()}
        wanted = sorted(loans) if loan_id is None else [loan_id]
        results: dict[str, tuple[ReconciliationLine, ...]] = {}
        for one in wanted:
            loan = loans.get(one)
            if loan is None:
                raise NotFound("loan", one)
            product = uow.loans.product(loan.product_id, loan.product_version)
            codes = sorted(expected_balances(loan, product))
            standing = uow.loans.load_standings([one]).get(one)
            off_books = standing is not None and standing.interest_suspended
            net = _net_debits(uow, loan, codes)
            results[one] = reconcile_loan(loan, product, net, interest_off_books=off_books)
        line_ids = sorted({line_of[one] for one in wanted})
        checks = []
        for line_id in line_ids:
            outstanding = sum(
                _principal_drawn(loan) for i, loan in loans.items() if line_of[i] == line_id
            )
            used = uow.quota.balance(line_id).used_minor
            checks.append(LineCheck(line_id, used, outstanding))
    return Reconciliation(trial.is_balanced(), results, tuple(checks))


def _principal_drawn(loan: Loan) -> int:
    """The principal a loan keeps drawn on its quota line."""
    if loan.status is LoanStatus.CANCELLED:
        return 0
    if loan.status in (LoanStatus.WRITTEN_OFF, LoanStatus.SOLD):
        return loan.principal_written_off()  # the line is closed, the debt still used
    return loan.principal_outstanding()
