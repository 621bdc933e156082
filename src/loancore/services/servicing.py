"""Servicing use cases: each call is ONE unit of work over the loans, quota and ledger stores.

- :func:`book_order`: hold the quota, book the loan, capture the hold, disburse to the merchant
  (or the card), post the entries; all or nothing.
- :func:`apply_event`: load the loan, :func:`loancore.servicing.apply` the event, save the loan
  (optimistic: :class:`~loancore.errors.ConcurrentUpdate` retried up to ``attempts_max`` times),
  turn the quota effects into quota commands, post the entries and memo postings, commit. A
  refusal raises and changes nothing. An event id the loan already recorded is a replay: nothing
  is done or posted again, and the call returns the stored loan with the FIRST call's outcome as
  the loan's history recorded it (:class:`EventRecord`: the entry ids, the quota effects, the
  allocation, the clawback), the same record the first call returned.
- :func:`apply_batch`: many events (a repayment file's chunk) in one unit of work.
- :func:`reconcile`: the trial balance balances, each loan's figures equal the ledger's balances
  filtered by the loan (:func:`loancore.servicing.reconcile`) and each quota line's used amount
  equals the outstanding principal of the loans drawn on it. The loans of a product whose end of
  day posts summaries (``gl_granularity = "summary"``) are reconciled by product: the ledger's
  balance per subject filtered by ``product = <id>@<version>`` equals the sum of what each of
  the product's loans says (:attr:`Reconciliation.products`).

Quota effects become commands (:func:`quota_command`): ``capture`` -> ``Capture``; ``release`` ->
``Void`` of an open hold, or ``RestoreRefunded`` (reason cancellation) of a captured one;
``restore_repaid`` -> ``RestoreRepaid`` (principal); ``restore_refunded`` -> ``RestoreRefunded``
(reason refund); ``reuse`` (a reversed payment takes back quota it had restored) has no command of
its own and maps to ``Draw`` of the amount on the loan's line, the closest command: it counts the
principal as used again (and is refused, undoing the reversal, if the line cannot take it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime

import attrs

from loancore.checks import DATE_MAX, require_id
from loancore.delinquency.daily import LoanStanding
from loancore.errors import ConcurrentUpdate, InvalidInput, NotFound, ServicingRejected
from loancore.ledger.entries import JournalEntry
from loancore.ledger.subjects import Chart, Side
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import Role
from loancore.quota import (
    Capture,
    Command,
    Draw,
    Hold,
    HoldStatus,
    QuotaHold,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Void,
)
from loancore.services.end_of_day import (
    RulesLike,
    current_outcome,
    outcome_with_standing,
    product_dimension,
)
from loancore.services.settlement import servicing_hook
from loancore.services.shared import (
    ATTEMPTS_MAX,
    LineBalanceCheck,
    LineBook,
    LineCheck,
    check_unchanged,
    id_chunks,
)
from loancore.servicing import (
    Disburse,
    GlGranularity,
    Loan,
    LoanProduct,
    LoanStatus,
    Outcome,
    QuotaEffect,
    QuotaEffectKind,
    ReconciliationLine,
    ServicingEvent,
    TransactionKind,
    apply,
    book_loan,
    expected_balances,
    expected_by_role,
)
from loancore.servicing import reconcile as reconcile_loan

__all__ = [
    "ATTEMPTS_MAX",
    "Applied",
    "BatchResult",
    "EventRecord",
    "LineCheck",
    "Reconciliation",
    "apply_batch",
    "apply_event",
    "book_order",
    "quota_command",
    "reconcile",
]

BATCH_MAX = 10_000
"""The most events :func:`apply_batch` takes in one unit of work."""

_LOANS_BATCH = 1000
_LOANS_MAX = 10_000_000


@attrs.frozen(kw_only=True)
class EventRecord:
    """What an applied event did, as the loan's history keeps it: the kind, the cash amount, the
    allocation lines ``(installment, component, minor units)`` in the order applied, the change
    in borrower credit, the principal repaid, the ids of the journal entries booked, the quota
    effects and what the merchant must give back (None unless a refund). A replay of the event
    returns this record, equal to the one the first call returned."""

    event_id: str
    as_of: date
    kind: TransactionKind
    amount: Money
    allocation: tuple[tuple[int, str, int], ...]
    credit_change: Money
    principal_repaid: Money
    entry_ids: tuple[str, ...]
    quota_effects: tuple[QuotaEffect, ...]
    merchant_clawback: Money | None

    @classmethod
    def from_history(cls, loan: Loan, event_id: str) -> EventRecord:
        """The record of ``event_id`` in ``loan``'s history; NotFound if it has none."""
        txn = loan.transaction(event_id)
        if txn is None:
            raise NotFound("event", f"{loan.loan_id}/{event_id}")
        money = loan.money
        effects = tuple(
            QuotaEffect(kind=QuotaEffectKind(kind), hold_id=loan.hold_id, amount=money(a), key=k)
            for kind, a, k in txn.quota_effects
        )
        return cls(
            event_id=txn.event_id,
            as_of=txn.as_of,
            kind=txn.kind,
            amount=money(txn.amount),
            allocation=txn.lines,
            credit_change=money(txn.credit_change),
            principal_repaid=money(txn.principal_repaid),
            entry_ids=txn.entry_ids,
            quota_effects=effects,
            merchant_clawback=None if txn.clawback is None else money(txn.clawback),
        )


@attrs.frozen
class Applied:
    """What a servicing call did: the loan as stored after it, the core's outcome (None for a
    replay: nothing was done again), whether it was a replay, how many attempts it took, and the
    event's :class:`EventRecord` (the first call's, for a replay; None for an event the history
    does not keep, an ``Accrue``)."""

    loan: Loan
    outcome: Outcome | None
    replayed: bool = False
    attempts: int = 1
    record: EventRecord | None = None


_LINE_ONLY = frozenset(
    {QuotaEffectKind.RESTORE_REPAID, QuotaEffectKind.RESTORE_REFUNDED, QuotaEffectKind.REUSE}
)
"""The effects whose command needs only the hold's line, which a hold never changes."""


def quota_command(
    uow: UnitOfWork, effect: QuotaEffect, *, holds: Mapping[str, QuotaHold] | None = None
) -> Command:
    """The quota command for ``effect`` (module docstring); reads the hold's line. ``holds``:
    holds already read, by key (``uow.quota.holds``); an effect that needs only the hold's line
    takes its hold from there when it has it. A release always reads the store: it needs the
    hold's status as the commands before it left it."""
    kind = effect.kind
    if kind is QuotaEffectKind.CAPTURE:
        return Capture(key=effect.key, hold_id=effect.hold_id, amount=effect.amount)
    known = holds.get(effect.hold_id) if holds is not None and kind in _LINE_ONLY else None
    hold = uow.quota.hold(effect.hold_id) if known is None else known
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


def _effects(outcomes: Sequence[Outcome]) -> list[QuotaEffect]:
    return [e for o in outcomes for e in o.quota_effects if e.amount.is_positive()]


def _line_holds(uow: UnitOfWork, effects: Sequence[QuotaEffect]) -> Mapping[str, QuotaHold]:
    """The holds whose line the ``effects``' restores need, in one read (a hold never changes
    line, so a unit of work that only reads may read them for the one that writes)."""
    ids = list(dict.fromkeys(e.hold_id for e in effects if e.kind in _LINE_ONLY))
    return uow.quota.holds(ids) if ids else {}


def _persist_effects(
    uow: UnitOfWork,
    outcomes: tuple[Outcome, ...],
    as_of: date,
    settled: Sequence[JournalEntry] | None = None,
    holds: Mapping[str, QuotaHold] | None = None,
) -> None:
    """Settlement's part (:func:`loancore.services.settlement.servicing_hook`, unless the
    caller ran it: ``settled``), quota commands, then entries and memo postings (the lock order:
    settlement, quota, then ledger). ``holds``: :func:`_line_holds` of the outcomes' effects,
    read before (else read here)."""
    if settled is None:
        settled = servicing_hook(uow, outcomes)
    effects = _effects(outcomes)
    if holds is None:
        holds = _line_holds(uow, effects)
    commands: list[Command] = []
    for effect in effects:  # bounded by the outcomes' effects
        if effect.kind is QuotaEffectKind.RELEASE and commands:
            # A release reads its hold's status: the commands before it apply first.
            uow.quota.apply_many(commands, as_of=as_of)
            commands = []
        commands.append(quota_command(uow, effect, holds=holds))
    if commands:
        uow.quota.apply_many(commands, as_of=as_of)
    entries = [entry for outcome in outcomes for entry in outcome.entries]
    entries += settled
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
    captured_at: datetime | None = None,
) -> Applied:
    """An order financed in one unit of work: quota hold ``<loan_id>-hold`` on ``line_id``, the
    loan booked (event ``order_id``) and disbursed (event ``<order_id>-payout``) to the merchant
    ``merchant_id`` (受托支付) or, without one, to the borrower's ``card``; the hold captured;
    the entries posted. A merchant with settlement terms gets the order as a pending capture
    at ``captured_at`` (default: ``start_date`` at 00:00; :func:`loancore.services.settlement.
    servicing_hook`). A loan id already stored is a replay: the stored loan comes back."""
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
        settled = servicing_hook(uow, (booked, disbursed), captured_at=captured_at)
        expires_on = start_date if hold_expires_on is None else hold_expires_on
        hold = Hold(key=hold_id, line_id=line_id, amount=principal, expires_on=expires_on)
        uow.quota.apply(hold, as_of=start_date)
        _persist_effects(uow, (booked, disbursed), start_date, settled)
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
            record = EventRecord.from_history(loan, event.event_id)
            return Applied(loan, None, replayed=True, attempts=attempt, record=record)
        product = uow.loans.product(loan.product_id, loan.product_version)
        outcome, standing = current_outcome(uow, loan, product, event, rules)  # inline catch-up
        uow.loans.update(outcome.loan, expected_version=loan.version)
        if standing is not None:
            uow.loans.save_standings([standing])
        _persist_effects(uow, (outcome,), event.as_of)
        uow.commit()
    return Applied(outcome.loan, outcome, attempts=attempt, record=_record(outcome.loan, event))


def _record(loan: Loan, event: ServicingEvent) -> EventRecord | None:
    if loan.transaction(event.event_id) is None:
        return None  # an event the history does not keep (Accrue)
    return EventRecord.from_history(loan, event.event_id)


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
    refusal), in input order; :meth:`record` gives an applied or replayed event's
    :class:`EventRecord` (a replayed one's is its first application's)."""

    applied: tuple[str, ...]
    replayed: tuple[str, ...]
    refused: tuple[tuple[str, ServicingRejected], ...]
    loans: Mapping[str, Loan] = attrs.field(factory=dict, repr=False)
    """Each applied or replayed event id's loan as the batch left it."""

    def record(self, event_id: str) -> EventRecord:
        """The record of an applied or replayed event of the batch; NotFound otherwise."""
        loan = self.loans.get(event_id)
        if loan is None:
            raise NotFound("event", event_id)
        return EventRecord.from_history(loan, event_id)


@attrs.frozen
class _BatchDecided:
    """A batch's decisions and what they were made on (the versions and standings read)."""

    applied: tuple[str, ...]
    replayed: tuple[str, ...]
    refused: tuple[tuple[str, ServicingRejected], ...]
    loan_of: Mapping[str, str]  # event id -> loan id, applied and replayed
    current: Mapping[str, Loan]
    loaded: Mapping[str, int]
    standings_read: Mapping[str, LoanStanding]
    moved: Mapping[str, LoanStanding]
    outcomes: tuple[Outcome, ...]


@attrs.frozen
class _BatchRead:
    """What a batch's decisions are made on, read in one unit of work: its loans, their
    standings and their products."""

    current: dict[str, Loan]
    standings: Mapping[str, LoanStanding]
    products: Mapping[tuple[str, int], LoanProduct]


def _read_batch(uow: UnitOfWork, items: Sequence[tuple[str, ServicingEvent]]) -> _BatchRead:
    """Inside ``uow``'s open unit of work: the batch's loans (one read), their standings (the
    end-of-day batch's, for inline catch-up) and the products they were booked under."""
    current = uow.loans.load_many([loan_id for loan_id, _event in items])
    standings = uow.loans.load_standings(list(current))
    refs = dict.fromkeys((loan.product_id, loan.product_version) for loan in current.values())
    return _BatchRead(current, standings, {ref: uow.loans.product(*ref) for ref in refs})


def _decide_batch(
    read: _BatchRead, items: Sequence[tuple[str, ServicingEvent]], rules: RulesLike
) -> _BatchDecided:
    """Every event of the batch decided, in order, on the loan as the earlier events left it,
    on what :func:`_read_batch` read (no store is touched)."""
    applied: list[str] = []
    replayed: list[str] = []
    refused: list[tuple[str, ServicingRejected]] = []
    loan_of: dict[str, str] = {}
    current = dict(read.current)
    loaded = {loan_id: loan.version for loan_id, loan in current.items()}
    standings = dict(read.standings)
    moved: dict[str, LoanStanding] = {}
    products = read.products
    outcomes: list[Outcome] = []
    for loan_id, event in items:  # decide everything first: writes go loans, quota, ledger
        loan = current[loan_id]
        if _replayed(loan, event):
            replayed.append(event.event_id)
            loan_of[event.event_id] = loan_id
            continue
        product = products[loan.product_id, loan.product_version]
        try:
            outcome, standing = outcome_with_standing(
                loan, product, standings.get(loan_id), event, rules
            )
        except ServicingRejected as refusal:
            refused.append((event.event_id, refusal))
            continue
        if standing is not None:
            standings[loan_id] = moved[loan_id] = standing
        current[loan_id] = outcome.loan
        outcomes.append(outcome)
        applied.append(event.event_id)
        loan_of[event.event_id] = loan_id
    return _BatchDecided(
        tuple(applied),
        tuple(replayed),
        tuple(refused),
        loan_of,
        current,
        loaded,
        read.standings,
        moved,
        tuple(outcomes),
    )


def _changed(decided: _BatchDecided) -> list[tuple[Loan, int]]:
    """The loans the batch changed, each with the version it was read at."""
    loaded = decided.loaded
    return [(loan, loaded[i]) for i, loan in decided.current.items() if loan.version != loaded[i]]


def _write_batch(
    uow: UnitOfWork,
    items: Sequence[tuple[str, ServicingEvent]],
    decided: _BatchDecided,
    changed: Sequence[tuple[Loan, int]],
    holds: Mapping[str, QuotaHold] | None = None,
) -> BatchResult:
    """Inside ``uow``'s open unit of work: the decided batch written (loans, standings, then
    the quota and the ledger: the lock order) and committed; ``changed``: :func:`_changed` of
    ``decided``; ``holds`` as :func:`_persist_effects` takes them."""
    current = decided.current
    uow.loans.update_many(changed)  # one write
    if decided.moved:
        uow.loans.save_standings(list(decided.moved.values()))
    as_of = max((event.as_of for _loan_id, event in items), default=DATE_MAX)
    _persist_effects(uow, decided.outcomes, as_of, holds=holds)
    uow.commit()
    loans = {event_id: current[loan_id] for event_id, loan_id in decided.loan_of.items()}
    return BatchResult(decided.applied, decided.replayed, decided.refused, loans)


def _batch_once(
    uow: UnitOfWork,
    items: Sequence[tuple[str, ServicingEvent]],
    rules: RulesLike,
    read_uow: UnitOfWork | None,
) -> BatchResult:
    if read_uow is None:
        with uow:
            decided = _decide_batch(_read_batch(uow, items), items, rules)
            return _write_batch(uow, items, decided, _changed(decided))
    with read_uow:
        read = _read_batch(read_uow, items)
    # Decided with no transaction open: a reader's snapshot pins the SQLite log (WAL) that the
    # other workers append to; ended here, a checkpoint can copy the log back and restart it.
    decided = _decide_batch(read, items, rules)
    changed = _changed(decided)
    with read_uow:
        # encoded and read here, so the writer's lock is held only to write (ports.LoanStore)
        read_uow.loans.prepare_updates([loan for loan, _version in changed])
        holds = _line_holds(read_uow, _effects(decided.outcomes))
    with uow:
        # the changed loans' versions are checked by their versioned update (update_many)
        written = {loan.loan_id for loan, _version in changed}
        check_unchanged(uow, decided.loaded, decided.standings_read, written=written)
        return _write_batch(uow, items, decided, changed, holds)


def apply_batch(
    uow: UnitOfWork,
    items: Sequence[tuple[str, ServicingEvent]],
    *,
    attempts_max: int = ATTEMPTS_MAX,
    rules: RulesLike = None,
    read_uow: UnitOfWork | None = None,
) -> BatchResult:
    """Many ``(loan_id, event)`` pairs (an auto-debit result file's chunk) in ONE unit of work.

    The batch's loans are read at once (``load_many``). Every event is decided first, in order,
    on the loan as the earlier events of the batch left it; a refused event
    (:class:`~loancore.errors.ServicingRejected`) is reported and skipped (nothing was written
    for it), a replayed event id reported and skipped. Then the changed loans are saved at once
    (``update_many``), the quota commands applied and all entries posted at once (the lock
    order). Anything else raised (a quota refusal, a posting refusal) undoes the whole batch. A
    ConcurrentUpdate reruns the batch from fresh loads, up to ``attempts_max`` attempts in all.
    A loan the end-of-day batch keeps a standing for is brought up to date under ``rules`` before
    its first event, as :func:`apply_event` does (the standings are read at once too).

    ``read_uow``: a second unit of work on the same book in which the loans are read (on SQLite
    one that begins DEFERRED: no write lock); the events are decided with no transaction open
    (no snapshot pins SQLite's log meanwhile), then a second unit of work of ``read_uow``
    prepares the changed loans (``LoanStore.prepare_updates``). The unit of work of ``uow``
    that writes them first checks every loan read is still at its version and
    standing (:func:`~loancore.services.shared.check_unchanged`), else ConcurrentUpdate and the
    batch is decided again (the attempts above). Worker processes applying the loan ranges of
    one SQLite book side by side pass one (:mod:`loancore.adapters.process_batch`).
    """
    if isinstance(attempts_max, bool) or not isinstance(attempts_max, int) or attempts_max < 1:
        raise InvalidInput("attempts_max", attempts_max, "expected an int >= 1")
    batch = list(items)
    if len(batch) > BATCH_MAX:
        raise InvalidInput("items", len(batch), f"at most {BATCH_MAX} events a batch")
    for attempt in range(1, attempts_max + 1):
        try:
            return _batch_once(uow, batch, rules, read_uow)
        except ConcurrentUpdate:
            if attempt == attempts_max:
                raise
    raise InvalidInput("attempts_max", attempts_max, "no attempt made")  # unreachable: bound >= 1


# -- reconciliation -------------------------------------------------------------------------------


@attrs.frozen
class Reconciliation:
    """The result of :func:`reconcile`; ``clean`` when everything agrees. ``loans``: each loan
    of a ``loan``-granularity product against the ledger filtered by the loan; ``products``: each
    ``summary`` product version (``<id>@<version>``) against the ledger filtered by the product,
    its loans' figures summed (those loans are not in ``loans``: their day-close entries carry
    no loan dimension, so the loan's own balances cannot be compared); ``credit_lines``: each
    revolving credit-line account's balances against the ledger filtered by the account; ``lines``:
    each quota line's used amount against the principal of the loans AND accounts on it."""

    trial_balanced: bool
    loans: Mapping[str, tuple[ReconciliationLine, ...]]
    lines: tuple[LineCheck, ...]
    products: Mapping[str, tuple[ReconciliationLine, ...]] = attrs.field(factory=dict)
    credit_lines: tuple[LineBalanceCheck, ...] = ()

    @property
    def clean(self) -> bool:
        return (
            self.trial_balanced
            and all(line.agrees for lines in self.loans.values() for line in lines)
            and all(line.agrees for lines in self.products.values() for line in lines)
            and all(check.agrees for check in self.lines)
            and all(check.agrees for check in self.credit_lines)
        )

    def problems(self) -> list[str]:
        """What disagrees, one line each (empty when clean)."""
        found = [] if self.trial_balanced else ["trial balance does not balance"]
        for loan_id, lines in self.loans.items():
            found.extend(f"loan {loan_id}: {line}" for line in lines if not line.agrees)
        for product, lines in self.products.items():
            found.extend(f"product {product}: {line}" for line in lines if not line.agrees)
        found.extend(f"credit line {check}" for check in self.credit_lines if not check.agrees)
        found.extend(f"quota {check}" for check in self.lines if not check.agrees)
        return found


def _net_debits(
    uow: UnitOfWork, chart: Chart, currency: str, dimensions: Mapping[str, str], codes: list[str]
) -> dict[str, int]:
    result: dict[str, int] = {}
    for code in codes:
        balance = uow.ledger.balance(
            code, currency, as_of=DATE_MAX, dimensions=dimensions
        ).minor_units
        result[code] = balance if chart.get(code).normal_side is Side.DEBIT else -balance
    return result


def _loan_id_chunks(uow: UnitOfWork) -> Iterator[tuple[str, ...]]:
    """Every loan id, :data:`_LOANS_BATCH` at a time in id order."""
    return id_chunks(uow.loans.loan_ids, batch=_LOANS_BATCH, most=_LOANS_MAX)


@attrs.define
class _ProductTotals:
    """A ``summary`` product's loans summed: the net debit each subject should carry, the roles
    on each subject, the currency."""

    currency: str
    expected: dict[str, int] = attrs.field(factory=dict)
    roles: dict[str, list[Role]] = attrs.field(factory=dict)


class _Book:
    """What a reconciliation keeps while it walks loans: the products and chart read once, each
    loan's result, each ``summary`` product's totals and the principal drawn per quota line."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.chart = uow.ledger.load_chart()
        self.products: dict[tuple[str, int], LoanProduct] = {}
        self.results: dict[str, tuple[ReconciliationLine, ...]] = {}
        self.summaries: dict[str, _ProductTotals] = {}
        self.drawn: dict[str, int] = {}

    def line_of(self, loan: Loan) -> str:
        return self.uow.quota.hold(loan.hold_id).line_id

    def product_of(self, loan: Loan) -> LoanProduct:
        ref = (loan.product_id, loan.product_version)
        product = self.products.get(ref)
        if product is None:
            product = self.products[ref] = self.uow.loans.product(*ref)
        return product

    def check(self, loan: Loan, standing: LoanStanding | None) -> None:
        """``loan`` against its ledger balances, or added to its product's totals for a
        ``summary`` product; a loan whose ``standing`` has interest suspended (non-accrual)
        keeps its unpaid interest off the books, in the memo register."""
        product = self.product_of(loan)
        off_books = standing is not None and standing.interest_suspended
        if product.gl_granularity is GlGranularity.SUMMARY:
            self._add(loan, product, off_books)
            return
        codes = sorted(expected_balances(loan, product))
        net = _net_debits(self.uow, self.chart, loan.currency, {"loan": loan.loan_id}, codes)
        self.results[loan.loan_id] = reconcile_loan(
            loan, product, net, interest_off_books=off_books
        )

    def _add(self, loan: Loan, product: LoanProduct, off_books: bool) -> None:
        key = product_dimension(loan.product_id, loan.product_version)
        totals = self.summaries.get(key)
        if totals is None:
            totals = self.summaries[key] = _ProductTotals(loan.currency)
        for role in expected_by_role(loan, product):
            roles = totals.roles.setdefault(product.mapping.code(role), [])
            if role not in roles:
                roles.append(role)
        expected = expected_balances(loan, product, interest_off_books=off_books)
        for code, amount in expected.items():
            totals.expected[code] = totals.expected.get(code, 0) + amount

    def product_results(self) -> dict[str, tuple[ReconciliationLine, ...]]:
        """Each ``summary`` product's totals against the ledger filtered by the product."""
        results: dict[str, tuple[ReconciliationLine, ...]] = {}
        for key, totals in sorted(self.summaries.items()):
            codes = sorted(totals.expected)
            net = _net_debits(self.uow, self.chart, totals.currency, {"product": key}, codes)
            results[key] = tuple(
                ReconciliationLine(
                    code, tuple(totals.roles[code]), totals.expected[code], net[code]
                )
                for code in codes
            )
        return results

    def draw(self, line_id: str, loans: Iterable[Loan]) -> None:
        """Count the principal of ``loans`` drawn on ``line_id`` (others are skipped)."""
        for loan in loans:
            if self.line_of(loan) == line_id:
                self.drawn[line_id] = self.drawn.get(line_id, 0) + _principal_drawn(loan)

    def checks(self, accounts: LineBook) -> tuple[LineCheck, ...]:
        """Each quota line's used amount against the principal of the loans and of the
        credit-line accounts (``accounts``) drawn on it."""
        drawn = dict(self.drawn)
        for line_id, principal in accounts.principal.items():  # bounded by the quota lines
            drawn[line_id] = drawn.get(line_id, 0) + principal
        return tuple(
            LineCheck(line_id, self.uow.quota.balance(line_id).used_minor, drawn[line_id])
            for line_id in sorted(drawn)
        )


def _reconcile_product(book: _Book, product_id: str, version: int) -> None:
    """Every loan of one ``summary`` product version added to its totals: the loans store keeps
    no index by product, so the book is walked in id order, :data:`_LOANS_BATCH` at a time."""
    for ids in _loan_id_chunks(book.uow):
        loans = [
            loan
            for loan in book.uow.loans.load_many(ids).values()
            if (loan.product_id, loan.product_version) == (product_id, version)
        ]
        if not loans:
            continue
        standings = book.uow.loans.load_standings([loan.loan_id for loan in loans])
        for loan in loans:  # bounded by _LOANS_BATCH
            book.check(loan, standings.get(loan.loan_id))


def _reconcile_one(book: _Book, loan_id: str) -> None:
    """One loan, and its quota line against the loans of the line's borrower and of the loan's
    customer (``customer_loans``), not the whole book. A loan of a ``summary`` product is
    checked through its product's totals (every loan of the product version)."""
    uow = book.uow
    loan = uow.loans.load(loan_id)
    if book.product_of(loan).gl_granularity is GlGranularity.SUMMARY:
        _reconcile_product(book, loan.product_id, loan.product_version)
    else:
        book.check(loan, uow.loans.load_standings([loan_id]).get(loan_id))
    line_id = book.line_of(loan)
    book.drawn[line_id] = 0
    customers = {uow.quota.line(line_id).borrower_id, *_customers(loan)}
    ids = sorted({i for customer in customers for i in uow.loans.customer_loans(customer)})
    for first in range(0, len(ids), _LOANS_BATCH):  # bounded by the customers' loans
        book.draw(line_id, uow.loans.load_many(ids[first : first + _LOANS_BATCH]).values())


def _customers(loan: Loan) -> list[str]:
    return [value for key, value in loan.dimensions if key == "customer"]


def _reconcile_all(book: _Book) -> None:
    """Every loan, :data:`_LOANS_BATCH` loans in memory at a time."""
    for ids in _loan_id_chunks(book.uow):
        standings = book.uow.loans.load_standings(ids)
        for loan in book.uow.loans.load_many(ids).values():
            book.check(loan, standings.get(loan.loan_id))
            line_id = book.line_of(loan)
            book.drawn[line_id] = book.drawn.get(line_id, 0) + _principal_drawn(loan)


def reconcile(uow: UnitOfWork, loan_id: str | None = None) -> Reconciliation:
    """Reconcile one loan and its quota line, or every loan and line with ``loan_id`` None, in
    one (read-only) unit of work; see the module docstring.

    One loan reads that loan and the loans of its line's borrower and of its own customer (the
    ``customer`` dimension) to total the principal drawn on the line; a loan booked on the line
    for another customer is not found there, and the line check reports the difference. One
    loan of a ``summary`` product is checked by its product's totals (:attr:`Reconciliation.
    products`), which reads every loan of the book to find the product's. The whole book is
    walked in id order, :data:`_LOANS_BATCH` loans at a time, then every revolving credit-line
    account (:class:`~loancore.services.shared.LineBook`): its balances against the ledger
    filtered by the account, its principal added to its quota line's; one loan adds the
    principal of the accounts on the loan's quota line."""
    with uow:
        trial = uow.ledger.trial_balance(as_of=DATE_MAX)
        book = _Book(uow)
        accounts = LineBook(uow)
        if loan_id is None:
            _reconcile_all(book)
            accounts.walk_all()
        else:
            _reconcile_one(book, loan_id)
            for line_id in list(book.drawn):  # one line: the loan's
                accounts.count_line(line_id)
        checks = book.checks(accounts)
        products = book.product_results()
    return Reconciliation(
        trial.is_balanced(), book.results, checks, products, tuple(accounts.balances)
    )


def _principal_drawn(loan: Loan) -> int:
    """The principal a loan keeps drawn on its quota line."""
    if loan.status is LoanStatus.CANCELLED:
        return 0
    if loan.status in (LoanStatus.WRITTEN_OFF, LoanStatus.SOLD):
        return loan.principal_written_off()  # the line is closed, the debt still used
    return loan.principal_outstanding()
