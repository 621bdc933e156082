"""Revolving credit lines (随借随还) stored and serviced: each call is ONE unit of work over the
loans store (where the accounts live, :data:`~loancore.ports.LOCK_ORDER` position ``loans``),
the quota and the ledger.

- :func:`open_credit_line`: a new account on an existing quota line; the same account id again
  returns the stored account.
- :func:`apply_line_event`: load the account, :func:`loancore.servicing.apply_line` the event,
  save the account with the event's :class:`~loancore.ports.LineRecord` and the statements it
  closed (optimistic: :class:`~loancore.errors.ConcurrentUpdate` retried from a fresh load up to
  ``attempts_max`` times), apply each quota effect's command, post the entries, commit. A refusal
  raises and changes nothing. An event id the account already recorded is a replay: nothing is
  done or posted, and the stored account comes back with the FIRST call's record.
- :func:`line_statements`: the bills closed on an account, oldest first.
- :func:`reconcile_line`: the trial balance balances, each account's ledger balances (filtered
  by ``loan = <account id>``) equal :func:`~loancore.servicing.expected_line_balances`, and each
  quota line's used amount equals the principal of the accounts drawing on it.
- :func:`close_lines_day`: the day close of the lines: every account behind the business date
  brought to it by an ``Accrue`` (statements closed, late fees and penalty interest charged on
  the way) and classified and provided for through the loans' rules
  (:mod:`loancore.delinquency.lines`), ``chunk_size`` accounts a unit of work; a failed account
  is reported and skipped. :func:`loancore.services.close_business_day` runs it.
- :func:`write_off_credit_line`: 核销 of an account against its allowance;
  :func:`recover_credit_line`: 核销后收回 on it; :func:`sell_credit_line`: 不良资产转让 of a
  non-performing account at a price, its quota line closed (the loans' rules and templates).

``Waive`` and ``ReversePayment`` go through :func:`apply_line_event` like the other events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

import attrs

from loancore.checks import DATE_MAX, require_date, require_id
from loancore.delinquency import (
    apply_line_with_standing,
    close_line_days,
    line_standing_of,
    recover_line,
    sell_line,
    write_off_line,
)
from loancore.delinquency.daily import DailyRules, LoanStanding, day_event_id
from loancore.delinquency.lines import LineDaysClosed, LineWriteOff
from loancore.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidInput,
    LoancoreError,
    NotFound,
    Rejected,
    RejectionCode,
)
from loancore.ledger.entries import DimensionsLike, JournalEntry, MemoPosting, dimensions_of
from loancore.money import Money
from loancore.ports import LineRecord, StoredLine, UnitOfWork
from loancore.quota import Close, LineStatus
from loancore.services.quota import Refusal
from loancore.services.shared import (
    ATTEMPTS_MAX,
    CATCH_UP_DAYS_MAX,
    LineBalanceCheck,
    LineBook,
    LineCheck,
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
    ReversePayment,
    ServicingEvent,
    Statement,
    Waive,
    apply_line,
    open_line,
)

__all__ = [
    "LINES_CHUNK_SIZE",
    "LineApplied",
    "LineBalanceCheck",
    "LineReconciliation",
    "LinesClosed",
    "apply_line_event",
    "close_lines_day",
    "line_day_event_id",
    "line_statements",
    "open_credit_line",
    "reconcile_line",
    "recover_credit_line",
    "sell_credit_line",
    "write_off_credit_line",
]

LINES_CHUNK_SIZE = 500
"""Accounts per unit of work of :func:`close_lines_day` by default."""

_CHUNK_SIZE_MAX = 10_000  # the loans store's batch limit
_CHUNKS_MAX = 10_000_000

_KINDS: tuple[tuple[type[ServicingEvent], str], ...] = (
    (Draw, "draw"),
    (Repay, "repay"),
    (Accrue, "accrue"),
    (RefundCredit, "refund_credit"),
    (CloseStatement, "close_statement"),
    (Waive, "waive"),
    (ReversePayment, "reverse_payment"),
)


def _kind(event: ServicingEvent) -> str:
    for cls, name in _KINDS:  # bounded: seven kinds
        if type(event) is cls:
            return name
    raise InvalidInput("event", event, f"expected one of {[cls.__name__ for cls, _ in _KINDS]}")


def open_credit_line(
    uow: UnitOfWork,
    *,
    account_id: str,
    customer_id: str,
    line_id: str,
    product_id: str,
    product_version: int,
    opened_on: date,
    statement_day: int,
    dimensions: DimensionsLike = None,
) -> CreditLineAccount:
    """A new account ``account_id`` of ``customer_id`` on the stored line product, drawing on
    the existing quota line ``line_id`` (NotFound if there is none); its entries carry
    ``customer = customer_id`` and ``loan = account_id`` besides ``dimensions``. An account id
    already stored with the same opening (customer, quota line, product, date, statement day)
    returns the stored account as it is now; with another opening, or the id of a stored loan
    (the ledger's ``loan`` dimension would mix them), IdempotencyConflict."""
    require_id("customer_id", customer_id)
    given = dict(dimensions_of(dimensions))
    if given.get("customer", customer_id) != customer_id:
        raise InvalidInput("dimensions.customer", given["customer"], f"expected {customer_id}")
    with uow:
        try:
            stored = uow.loans.load_line(account_id)
        except NotFound:
            stored = None
        if stored is not None:
            opening = (
                stored.customer_id,
                stored.account.line_id,
                (stored.account.product_id, stored.account.product_version),
                stored.account.opened_on,
                stored.account.statement_day,
            )
            wanted = (customer_id, line_id, (product_id, product_version), opened_on, statement_day)
            if opening != wanted:
                raise IdempotencyConflict(account_id, "a line with another opening has this id")
            return stored.account
        _refuse_loan_id(uow, account_id)
        product = uow.loans.line_product(product_id, product_version)
        uow.quota.line(line_id)  # NotFound: the account draws on an existing quota line
        account = open_line(
            product,
            account_id=account_id,
            line_id=line_id,
            opened_on=opened_on,
            statement_day=statement_day,
            dimensions={**given, "customer": customer_id},
        )
        uow.loans.add_line(account, customer_id=customer_id)
        uow.commit()
    return account


def _refuse_loan_id(uow: UnitOfWork, account_id: str) -> None:
    try:
        uow.loans.load(account_id)
    except NotFound:
        return
    raise IdempotencyConflict(account_id, "a loan has this id")


@attrs.frozen
class LineApplied:
    """What :func:`apply_line_event` did: the account as stored after it, the core's outcome
    (None for a replay: nothing was done again), the event's record (the first call's, for a
    replay), whether it was a replay and how many attempts it took."""

    account: CreditLineAccount
    outcome: LineOutcome | None
    record: LineRecord
    replayed: bool = False
    attempts: int = 1


def _record(stored: StoredLine, event: ServicingEvent, outcome: LineOutcome) -> LineRecord:
    return LineRecord(
        event_id=event.event_id,
        as_of=event.as_of,
        kind=_kind(event),
        version=stored.version + 1,
        entry_ids=tuple(entry.entry_id for entry in outcome.entries),
        quota_effects=outcome.quota_effects,
        statements=tuple(statement.number for statement in outcome.statements),
    )


def _save(
    uow: UnitOfWork,
    stored: StoredLine,
    event: ServicingEvent,
    outcome: LineOutcome,
    memos: Sequence[MemoPosting] = (),
) -> None:
    """The account, its record and statements (loans), quota effects, then entries and memo
    postings (ledger)."""
    record = _record(stored, event, outcome)
    uow.loans.update_line(
        outcome.account,
        expected_version=stored.version,
        record=record,
        statements=outcome.statements,
    )
    for effect in outcome.quota_effects:
        uow.quota.apply(effect.command(), as_of=event.as_of)
    if outcome.entries:
        uow.ledger.post(list(outcome.entries))
    if memos:
        uow.ledger.post_memo(list(memos))


def _with_standing(
    uow: UnitOfWork,
    stored: StoredLine,
    product: CreditLineProduct,
    event: ServicingEvent,
    rules: RulesLike,
) -> tuple[LineOutcome, tuple[MemoPosting, ...]]:
    """``event`` applied as the day close would see it: an account the batch keeps a standing
    for has the days before the event's date closed first (inline catch-up, their entries and
    statements in the outcome, its standing saved), then the event applied off the books if it
    is non-accrual; an account without a standing is applied as it is."""
    standing = uow.loans.load_standings([stored.account.account_id]).get(stored.account.account_id)
    if standing is None:
        return apply_line(stored.account, product, event), ()
    caught = _days_closed(stored, product, standing, rules, event.as_of - timedelta(days=1))
    outcome, memos = apply_line_with_standing(caught.account, product, caught.standing, event)
    if caught.standing != standing:  # days were closed: their standing is written
        uow.loans.save_standings([caught.standing])
    outcome = attrs.evolve(
        outcome,
        entries=caught.entries + outcome.entries,
        statements=caught.statements + outcome.statements,
    )
    return outcome, caught.memo_postings + memos


def _apply_once(
    uow: UnitOfWork, account_id: str, event: ServicingEvent, attempt: int, rules: RulesLike
) -> LineApplied:
    with uow:
        stored = uow.loans.load_line(account_id)
        record = uow.loans.line_record(account_id, event.event_id)
        if record is not None:
            return LineApplied(stored.account, None, record, replayed=True, attempts=attempt)
        product = uow.loans.line_product(stored.account.product_id, stored.account.product_version)
        outcome, memos = _with_standing(uow, stored, product, event, rules)
        _save(uow, stored, event, outcome, memos)
        uow.commit()
    record = _record(stored, event, outcome)
    return LineApplied(outcome.account, outcome, record, attempts=attempt)


def apply_line_event(
    uow: UnitOfWork,
    account_id: str,
    event: ServicingEvent,
    *,
    attempts_max: int = ATTEMPTS_MAX,
    rules: RulesLike = None,
) -> LineApplied:
    """``event`` (``Draw``, ``Repay``, ``Accrue``, ``RefundCredit``, ``CloseStatement``,
    ``Waive``, ``ReversePayment``) applied to the stored account in one unit of work (module
    docstring). An account the day close keeps a standing for is first brought up to the day
    before the event (its days closed as :func:`close_lines_day` closes them, ``rules`` as
    there), and while it is non-accrual the event stays off the books
    (:func:`~loancore.delinquency.apply_line_with_standing`). Refusals raise and change
    nothing: :class:`~loancore.errors.ServicingRejected` from the core, a
    :class:`~loancore.errors.QuotaRejected` of a draw beyond the quota, a
    :class:`~loancore.errors.DelinquencyRejected` of a waiver or reversal while non-accrual, a
    posting refusal. A :class:`~loancore.errors.ConcurrentUpdate` (another unit of work saved
    the account after this one loaded it) is retried with a fresh load, up to ``attempts_max``
    attempts in all."""
    if isinstance(attempts_max, bool) or not isinstance(attempts_max, int) or attempts_max < 1:
        raise InvalidInput("attempts_max", attempts_max, "expected an int >= 1")
    _kind(event)
    for attempt in range(1, attempts_max + 1):
        try:
            return _apply_once(uow, account_id, event, attempt, rules)
        except ConcurrentUpdate:
            if attempt == attempts_max:
                raise
    raise InvalidInput("attempts_max", attempts_max, "no attempt made")  # unreachable: bound >= 1


def line_statements(uow: UnitOfWork, account_id: str) -> tuple[Statement, ...]:
    """Every statement (账单) closed on the account, oldest first; NotFound for an unknown one."""
    with uow:
        uow.loans.load_line(account_id)
        return uow.loans.line_statements(account_id)


# -- reconciliation -------------------------------------------------------------------------------


@attrs.frozen
class LineReconciliation:
    """The result of :func:`reconcile_line`; ``clean`` when everything agrees."""

    trial_balanced: bool
    balances: tuple[LineBalanceCheck, ...]
    lines: tuple[LineCheck, ...]

    @property
    def clean(self) -> bool:
        return (
            self.trial_balanced
            and all(check.agrees for check in self.balances)
            and all(check.agrees for check in self.lines)
        )

    def problems(self) -> list[str]:
        """What disagrees, one line each (empty when clean)."""
        found = [] if self.trial_balanced else ["trial balance does not balance"]
        found.extend(f"line {check}" for check in self.balances if not check.agrees)
        found.extend(f"quota {check}" for check in self.lines if not check.agrees)
        return found


def reconcile_line(uow: UnitOfWork, account_id: str | None = None) -> LineReconciliation:
    """Reconcile one account and its quota line, or every account and the quota lines they draw
    on with ``account_id`` None, in one read-only unit of work (module docstring). The quota
    line's used amount is compared with the principal of every account on it
    (``quota_line_accounts``); for a quota line that installment loans draw on as well, use
    :func:`loancore.services.reconcile`, which counts both."""
    with uow:
        trial = uow.ledger.trial_balance(as_of=DATE_MAX)
        book = LineBook(uow)
        if account_id is None:
            book.walk_all()
        else:
            account = uow.loans.load_line(account_id).account
            standing = uow.loans.load_standings([account_id]).get(account_id)
            suspended = standing is not None and standing.interest_suspended
            book.check(account, interest_off_books=suspended)
            book.count_line(account.line_id)
        checks = tuple(
            LineCheck(line_id, uow.quota.balance(line_id).used_minor, principal)
            for line_id, principal in sorted(book.principal.items())
        )
    return LineReconciliation(trial.is_balanced(), tuple(book.balances), checks)


# -- the day close --------------------------------------------------------------------------------


def line_day_event_id(account_id: str, day: date) -> str:
    """The id of the day close's ``Accrue`` of ``account_id`` on ``day``:
    ``eod<yyyymmdd>-<account id>`` (the loans' :func:`~loancore.delinquency.daily.day_event_id`;
    the entries' ids and keys derive from it)."""
    return day_event_id(account_id, day)


@attrs.frozen
class LinesClosed:
    """What :func:`close_lines_day` did: units of work run, accounts brought to the date,
    entries posted, statements closed, the accounts that failed (each a
    :class:`~loancore.services.quota.Refusal` keyed by its account id; the next run retries),
    account-days closed and memo postings (表外应收未收利息) posted."""

    business_date: date
    chunks: int
    lines_closed: int
    entries: int
    statements: int
    failed: tuple[Refusal, ...]
    days_closed: int = 0
    memo_postings: int = 0


@attrs.frozen
class _ChunkResult:
    closed: int
    entries: int
    statements: int
    failed: tuple[Refusal, ...]
    days: int = 0
    memos: int = 0


def _refusal(account_id: str, error: LoancoreError) -> Refusal:
    if isinstance(error, Rejected):
        return Refusal(account_id, error.code, error.detail)
    return Refusal(account_id, RejectionCode.LOAN_CLOSE_FAILED, f"{type(error).__name__}: {error}")


RulesLike = DailyRules | Mapping[str, DailyRules] | None
"""The lines' delinquency rules: one for every product, or by line product id (a product not
named gets ``DailyRules()``), or None (``DailyRules()`` for all), as the loans' end of day."""


def _rules_for(rules: RulesLike, product: CreditLineProduct) -> DailyRules:
    if rules is None:
        return DailyRules()
    if isinstance(rules, DailyRules):
        return rules
    return rules.get(product.product_id, DailyRules())


def _product(
    uow: UnitOfWork, account: CreditLineAccount, products: dict[tuple[str, int], CreditLineProduct]
) -> CreditLineProduct:
    ref = (account.product_id, account.product_version)
    product = products.get(ref)
    if product is None:
        product = products[ref] = uow.loans.line_product(*ref)
    return product


def _days_closed(
    line: StoredLine,
    product: CreditLineProduct,
    standing: LoanStanding,
    rules: RulesLike,
    through: date,
) -> LineDaysClosed:
    """The account's days through ``through`` closed (:func:`~loancore.delinquency.close_line_days`)."""
    chosen = _rules_for(rules, product)
    return close_line_days(
        line.account, product, standing, chosen, through, days_max=CATCH_UP_DAYS_MAX
    )


def _days_record(line: StoredLine, closed: LineDaysClosed) -> LineRecord | None:
    """The record of a catch-up that moved the account: its last day's ``Accrue``, naming
    every servicing entry and statement of the days closed (None: the account did not move)."""
    if closed.last_event is None:
        return None
    outcome = LineOutcome(
        account=closed.account, entries=closed.servicing_entries, statements=closed.statements
    )
    return _record(line, closed.last_event, outcome)


@attrs.frozen
class _Decided:
    line: StoredLine
    closed: LineDaysClosed
    record: LineRecord | None  # None: the account itself did not move (written off)


def _decide(
    uow: UnitOfWork, ids: Sequence[str], business_date: date, rules: RulesLike
) -> tuple[list[_Decided], list[Refusal]]:
    """Every account of the chunk closed day by day to the date in memory; the ones that raise
    left out."""
    stored = uow.loans.load_lines(ids)
    standings = uow.loans.load_standings(list(stored))
    products: dict[tuple[str, int], CreditLineProduct] = {}
    decided: list[_Decided] = []
    failed: list[Refusal] = []
    for account_id, line in stored.items():  # bounded by the chunk size
        standing = standings.get(account_id) or line_standing_of(line.account)
        try:
            product = _product(uow, line.account, products)
            closed = _days_closed(line, product, standing, rules, business_date)
        except LoancoreError as error:
            failed.append(_refusal(account_id, error))
            continue
        decided.append(_Decided(line, closed, _days_record(line, closed)))
    return decided, failed


def _close_chunk(
    uow: UnitOfWork, ids: Sequence[str], business_date: date, rules: RulesLike
) -> _ChunkResult:
    with uow:
        decided, failed = _decide(uow, ids, business_date, rules)
        uow.loans.update_lines(  # one write for the chunk; loans first, then the ledger
            [
                (d.closed.account, d.line.version, d.record, d.closed.statements)
                for d in decided
                if d.record is not None
            ]
        )
        uow.loans.save_standings([d.closed.standing for d in decided])
        entries: list[JournalEntry] = [e for d in decided for e in d.closed.entries]
        memos: list[MemoPosting] = [m for d in decided for m in d.closed.memo_postings]
        if entries:
            uow.ledger.post(entries)
        if memos:
            uow.ledger.post_memo(memos)
        uow.commit()
    return _ChunkResult(
        closed=len(decided),
        entries=len(entries),
        statements=sum(len(d.closed.statements) for d in decided),
        failed=tuple(failed),
        days=sum(d.closed.days for d in decided),
        memos=len(memos),
    )


def _close_chunk_safely(
    uow: UnitOfWork, ids: Sequence[str], business_date: date, rules: RulesLike
) -> _ChunkResult:
    """:func:`_close_chunk`; if writing the chunk fails, its accounts one unit of work each, so
    only the account at fault is left out."""
    try:
        return _close_chunk(uow, ids, business_date, rules)
    except LoancoreError:
        pass
    results: list[_ChunkResult] = []
    for account_id in ids:  # bounded by the chunk size
        try:
            results.append(_close_chunk(uow, [account_id], business_date, rules))
        except LoancoreError as error:
            results.append(_ChunkResult(0, 0, 0, (_refusal(account_id, error),)))
    return _ChunkResult(
        closed=sum(r.closed for r in results),
        entries=sum(r.entries for r in results),
        statements=sum(r.statements for r in results),
        failed=tuple(f for r in results for f in r.failed),
        days=sum(r.days for r in results),
        memos=sum(r.memos for r in results),
    )


def close_lines_day(
    uow: UnitOfWork,
    business_date: date,
    *,
    after: str = "",
    through: str | None = None,
    rules: RulesLike = None,
    chunk_size: int = LINES_CHUNK_SIZE,
) -> LinesClosed:
    """Close ``business_date`` for every credit-line account behind it (its last date, or its
    standing's watermark, before the date): brought to the date with an ``Accrue`` (event id
    :func:`line_day_event_id`: interest accrued, and on the way each statement closed, late fee
    and penalty interest charged on its day), then classified and provided for through the
    loans' rules (:func:`loancore.delinquency.close_line_day`; ``rules`` as for
    :func:`~loancore.services.close_business_day`), its standing saved in the same unit of work.
    ``chunk_size`` accounts a unit of work, in account id order, over the ids ``after <
    account_id <= through`` (``through`` None: no upper bound; a distributed end of day closes
    each loan-id range's accounts in its range task,
    :func:`loancore.services.partition.close_range`).

    Idempotent: an account closed through the date is not selected again, so a second run posts
    nothing. An account whose close raises a
    :class:`~loancore.errors.LoancoreError` is reported in ``failed`` and left as it was (the
    rest of its chunk commits; if writing the chunk fails, its accounts go one unit of work
    each); the next run tries it again."""
    require_date("business_date", business_date)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise InvalidInput("chunk_size", chunk_size, f"expected an int from 1 to {_CHUNK_SIZE_MAX}")
    if not 1 <= chunk_size <= _CHUNK_SIZE_MAX:
        raise InvalidInput("chunk_size", chunk_size, f"expected an int from 1 to {_CHUNK_SIZE_MAX}")
    chunks = closed = entries = statements = days = memos = 0
    failed: list[Refusal] = []
    for chunk in range(1, _CHUNKS_MAX + 1):  # bounded: each chunk moves ``after`` forward
        with uow:
            found = uow.loans.lines_to_close(business_date, after=after, limit=chunk_size)
        ids = found if through is None else tuple(i for i in found if i <= through)
        if not ids:
            break
        result = _close_chunk_safely(uow, ids, business_date, rules)
        chunks, closed = chunk, closed + result.closed
        entries, statements = entries + result.entries, statements + result.statements
        days, memos = days + result.days, memos + result.memos
        failed.extend(result.failed)
        after = ids[-1]
        if len(found) < chunk_size or len(ids) < len(found):
            break  # the book is done, or the next id is past ``through``
    return LinesClosed(
        business_date, chunks, closed, entries, statements, tuple(failed), days, memos
    )


# -- write-off ------------------------------------------------------------------------------------


def write_off_credit_line(
    uow: UnitOfWork,
    account_id: str,
    *,
    as_of: date,
    event_id: str,
    rules: RulesLike = None,
) -> CreditLineAccount:
    """核销 the account on ``as_of`` in one unit of work: brought to the date (an ``Accrue`` of
    id ``event_id``), everything it owes written off against the stage-3 allowance (topped up
    if short) with the ``WrittenOff`` template, 已核销贷款 registering it, the allowance left
    released (:func:`loancore.delinquency.write_off_line`); the account then takes no more
    money events and its principal stays used on the quota line. A replay of ``event_id``
    returns the stored account. Refused: ``LOAN_NOT_ACTIVE`` (written off already),
    ``NOTHING_TO_WRITE_OFF``."""

    def decide(
        account: CreditLineAccount,
        product: CreditLineProduct,
        standing: LoanStanding,
        chosen: DailyRules,
    ) -> LineWriteOff:
        return write_off_line(account, product, standing, chosen, as_of=as_of, event_id=event_id)

    return _derecognise(uow, account_id, as_of, event_id, rules, decide, "write_off")


_Derecognition = Callable[
    [CreditLineAccount, CreditLineProduct, LoanStanding, DailyRules], LineWriteOff
]


def _derecognise(
    uow: UnitOfWork,
    account_id: str,
    as_of: date,
    event_id: str,
    rules: RulesLike,
    decide: _Derecognition,
    kind: str,
) -> CreditLineAccount:
    """A write-off or sale in one unit of work: the account brought to ``as_of`` (its days
    closed, an ``Accrue`` of id ``event_id``), ``decide`` on it, the account (record ``kind``),
    standing, a sold account's quota line closed, entries and memo postings written. A replay
    of ``event_id`` returns the stored account."""
    with uow:
        stored = uow.loans.load_line(account_id)
        if uow.loans.line_record(account_id, event_id) is not None:
            return stored.account
        account = stored.account
        product = uow.loans.line_product(account.product_id, account.product_version)
        event = Accrue(event_id=event_id, as_of=as_of)
        brought, memos = _with_standing(uow, stored, product, event, rules)
        standing = uow.loans.load_standings([account_id]).get(account_id)
        chosen = _rules_for(rules, product)
        done = decide(brought.account, product, standing or line_standing_of(account), chosen)
        outcome = attrs.evolve(
            brought, account=done.account, entries=brought.entries + done.booking.entries
        )
        record = attrs.evolve(_record(stored, event, outcome), kind=kind)
        uow.loans.update_line(
            done.account,
            expected_version=stored.version,
            record=record,
            statements=brought.statements,
        )
        uow.loans.save_standings([done.standing])
        for effect in brought.quota_effects:
            uow.quota.apply(effect.command(), as_of=as_of)
        if kind == "sale" and uow.quota.line(account.line_id).status is not LineStatus.CLOSED:
            uow.quota.apply(Close(key=f"{event_id}:close", line_id=account.line_id), as_of=as_of)
        uow.ledger.post(list(outcome.entries))
        if memos or done.booking.memo_postings:
            uow.ledger.post_memo([*memos, *done.booking.memo_postings])
        uow.commit()
    return done.account


# -- recovery and sale ----------------------------------------------------------------------------


def recover_credit_line(
    uow: UnitOfWork,
    account_id: str,
    amount: Money,
    *,
    as_of: date,
    event_id: str,
    rules: RulesLike = None,
) -> LoanStanding:
    """核销后收回 ``amount`` on a written-off account in one unit of work
    (:func:`loancore.delinquency.recover_line`, the loans' rule): Dr 3001 Cr 1304.03, the
    allowance so restored released at once (Dr 1304.03 Cr 6702), 已核销贷款 reduced; the account
    itself does not change. More than the register holds for the account is refused
    (``RECOVERY_EXCEEDS_WRITTEN_OFF``). A replayed ``event_id`` changes nothing. Returns the
    standing after it."""
    with uow:
        account = uow.loans.load_line(account_id).account
        standing = uow.loans.load_standings([account_id]).get(account_id)
        standing = standing or line_standing_of(account)
        if uow.ledger.find_by_key(f"recovery:{event_id}") is not None:
            return standing
        product = uow.loans.line_product(account.product_id, account.product_version)
        done = recover_line(
            account,
            product,
            standing,
            _rules_for(rules, product),
            amount,
            as_of=as_of,
            event_id=event_id,
        )
        uow.loans.save_standings([done.standing])
        uow.ledger.post(list(done.booking.entries))
        if done.booking.memo_postings:
            uow.ledger.post_memo(list(done.booking.memo_postings))
        uow.commit()
    return done.standing


def sell_credit_line(
    uow: UnitOfWork,
    account_id: str,
    price: Money,
    *,
    as_of: date,
    event_id: str,
    rules: RulesLike = None,
) -> CreditLineAccount:
    """不良资产转让 of the account for ``price`` on ``as_of`` in one unit of work: brought to the
    date (its days closed, an ``Accrue`` of id ``event_id``), its interest off the books, then
    derecognised against its allowance with the gain or loss to 6702
    (:func:`loancore.delinquency.sell_line`, the loans' ``LoanSold`` template); the account
    then takes no more money events (its record's kind ``sale``) and its quota line is closed
    (key ``<event_id>:close``), as a sold loan's. Refused: ``SALE_OF_PERFORMING_LOAN`` (better
    than 次级 by its last classification), ``LOAN_NOT_ACTIVE``, ``NOTHING_TO_WRITE_OFF``. A
    replay of ``event_id`` returns the stored account."""

    def decide(
        account: CreditLineAccount,
        product: CreditLineProduct,
        standing: LoanStanding,
        chosen: DailyRules,
    ) -> LineWriteOff:
        return sell_line(account, product, standing, chosen, price, as_of=as_of, event_id=event_id)

    return _derecognise(uow, account_id, as_of, event_id, rules, decide, "sale")
