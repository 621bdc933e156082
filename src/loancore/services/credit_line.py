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
  the way), ``chunk_size`` accounts a unit of work; a failed account is reported and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date

import attrs

from loancore.checks import DATE_MAX, require_date, require_id
from loancore.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidInput,
    LoancoreError,
    NotFound,
    Rejected,
    RejectionCode,
)
from loancore.ledger.entries import DimensionsLike, JournalEntry, dimensions_of
from loancore.ledger.subjects import Side
from loancore.ports import LineRecord, StoredLine, UnitOfWork
from loancore.services.quota import Refusal
from loancore.services.servicing import ATTEMPTS_MAX, LineCheck
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
    Statement,
    apply_line,
    expected_line_balances,
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
]

LINES_CHUNK_SIZE = 500
"""Accounts per unit of work of :func:`close_lines_day` by default."""

_CHUNK_SIZE_MAX = 10_000  # the loans store's batch limit
_CHUNKS_MAX = 10_000_000
_ACCOUNTS_BATCH = 1000
_ACCOUNTS_MAX = 10_000_000

_KINDS: tuple[tuple[type[ServicingEvent], str], ...] = (
    (Draw, "draw"),
    (Repay, "repay"),
    (Accrue, "accrue"),
    (RefundCredit, "refund_credit"),
    (CloseStatement, "close_statement"),
)


def _kind(event: ServicingEvent) -> str:
    for cls, name in _KINDS:  # bounded: five kinds
        if type(event) is cls:
            return name
    raise InvalidInput(
        "event", event, "expected Draw, Repay, Accrue, RefundCredit or CloseStatement"
    )


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


def _save(uow: UnitOfWork, stored: StoredLine, event: ServicingEvent, outcome: LineOutcome) -> None:
    """The account, its record and statements (loans), quota effects, then entries (ledger)."""
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


def _apply_once(
    uow: UnitOfWork, account_id: str, event: ServicingEvent, attempt: int
) -> LineApplied:
    with uow:
        stored = uow.loans.load_line(account_id)
        record = uow.loans.line_record(account_id, event.event_id)
        if record is not None:
            return LineApplied(stored.account, None, record, replayed=True, attempts=attempt)
        product = uow.loans.line_product(stored.account.product_id, stored.account.product_version)
        outcome = apply_line(stored.account, product, event)
        _save(uow, stored, event, outcome)
        uow.commit()
    record = _record(stored, event, outcome)
    return LineApplied(outcome.account, outcome, record, attempts=attempt)


def apply_line_event(
    uow: UnitOfWork,
    account_id: str,
    event: ServicingEvent,
    *,
    attempts_max: int = ATTEMPTS_MAX,
) -> LineApplied:
    """``event`` (``Draw``, ``Repay``, ``Accrue``, ``RefundCredit``, ``CloseStatement``) applied
    to the stored account in one unit of work (module docstring). Refusals raise and change
    nothing: :class:`~loancore.errors.ServicingRejected` from the core, a
    :class:`~loancore.errors.QuotaRejected` of a draw beyond the quota, a posting refusal. A
    :class:`~loancore.errors.ConcurrentUpdate` (another unit of work saved the account after this
    one loaded it) is retried with a fresh load, up to ``attempts_max`` attempts in all."""
    if isinstance(attempts_max, bool) or not isinstance(attempts_max, int) or attempts_max < 1:
        raise InvalidInput("attempts_max", attempts_max, "expected an int >= 1")
    _kind(event)
    for attempt in range(1, attempts_max + 1):
        try:
            return _apply_once(uow, account_id, event, attempt)
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
class LineBalanceCheck:
    """One subject of one account: the net debit the account expects (minor units, debit
    positive) and the ledger's, filtered by ``loan = account_id``."""

    account_id: str
    subject_code: str
    expected_minor: int
    ledger_minor: int

    @property
    def agrees(self) -> bool:
        return self.expected_minor == self.ledger_minor


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


class _Lines:
    """What a line reconciliation keeps while it walks accounts."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.chart = uow.ledger.load_chart()
        self.products: dict[tuple[str, int], CreditLineProduct] = {}
        self.balances: list[LineBalanceCheck] = []
        self.principal: dict[str, int] = {}  # quota line -> principal of its accounts

    def check(self, account: CreditLineAccount) -> None:
        ref = (account.product_id, account.product_version)
        product = self.products.get(ref)
        if product is None:
            product = self.products[ref] = self.uow.loans.line_product(*ref)
        for code, expected in sorted(expected_line_balances(account, product).items()):
            balance = self.uow.ledger.balance(
                code, account.currency, as_of=DATE_MAX, dimensions={"loan": account.account_id}
            ).minor_units
            net = balance if self.chart.get(code).normal_side is Side.DEBIT else -balance
            self.balances.append(LineBalanceCheck(account.account_id, code, expected, net))

    def count(self, accounts: Sequence[CreditLineAccount]) -> None:
        for account in accounts:  # bounded by the caller's batch
            line_id = account.line_id
            self.principal[line_id] = self.principal.get(line_id, 0) + account.principal

    def quota_checks(self) -> tuple[LineCheck, ...]:
        return tuple(
            LineCheck(line_id, self.uow.quota.balance(line_id).used_minor, self.principal[line_id])
            for line_id in sorted(self.principal)
        )


def _account_id_chunks(uow: UnitOfWork) -> Iterator[tuple[str, ...]]:
    after = ""
    for _ in range(_ACCOUNTS_MAX // _ACCOUNTS_BATCH):  # bounded: at most _ACCOUNTS_MAX accounts
        batch = uow.loans.line_ids(after=after, limit=_ACCOUNTS_BATCH)
        if batch:
            yield batch
        if len(batch) < _ACCOUNTS_BATCH:
            return
        after = batch[-1]


def reconcile_line(uow: UnitOfWork, account_id: str | None = None) -> LineReconciliation:
    """Reconcile one account and its quota line, or every account and the quota lines they draw
    on with ``account_id`` None, in one read-only unit of work (module docstring). The quota
    line's used amount is compared with the principal of every account on it
    (``quota_line_accounts``); a quota line that installment loans draw on as well is
    :func:`loancore.services.reconcile`'s, whose total leaves the accounts out, so give a credit
    line a quota line of its own."""
    with uow:
        trial = uow.ledger.trial_balance(as_of=DATE_MAX)
        book = _Lines(uow)
        if account_id is None:
            for ids in _account_id_chunks(uow):
                accounts = [s.account for s in uow.loans.load_lines(ids).values()]
                for account in accounts:
                    book.check(account)
                book.count(accounts)
        else:
            account = uow.loans.load_line(account_id).account
            book.check(account)
            ids = uow.loans.quota_line_accounts(account.line_id)
            for first in range(0, len(ids), _ACCOUNTS_BATCH):  # bounded by the line's accounts
                chunk = ids[first : first + _ACCOUNTS_BATCH]
                book.count([s.account for s in uow.loans.load_lines(chunk).values()])
        checks = book.quota_checks()
    return LineReconciliation(trial.is_balanced(), tuple(book.balances), checks)


# -- the day close --------------------------------------------------------------------------------


def line_day_event_id(account_id: str, day: date) -> str:
    """The id of the day close's ``Accrue`` of ``account_id`` on ``day``:
    ``eod<yyyymmdd>-<account id>`` (the entries' ids and keys derive from it)."""
    return f"eod{day:%Y%m%d}-{account_id}"


@attrs.frozen
class LinesClosed:
    """What :func:`close_lines_day` did: units of work run, accounts brought to the date,
    entries posted, statements closed, and the accounts that failed (each a
    :class:`~loancore.services.quota.Refusal` keyed by its account id; the next run retries)."""

    business_date: date
    chunks: int
    lines_closed: int
    entries: int
    statements: int
    failed: tuple[Refusal, ...]


@attrs.frozen
class _ChunkResult:
    closed: int
    entries: int
    statements: int
    failed: tuple[Refusal, ...]


def _refusal(account_id: str, error: LoancoreError) -> Refusal:
    if isinstance(error, Rejected):
        return Refusal(account_id, error.code, error.detail)
    return Refusal(account_id, RejectionCode.LOAN_CLOSE_FAILED, f"{type(error).__name__}: {error}")


def _decide(
    uow: UnitOfWork, stored: Mapping[str, StoredLine], business_date: date
) -> tuple[list[tuple[StoredLine, Accrue, LineOutcome]], list[Refusal]]:
    """Every account of the chunk brought to the date in memory; the ones that raise left out."""
    products: dict[tuple[str, int], CreditLineProduct] = {}
    decided: list[tuple[StoredLine, Accrue, LineOutcome]] = []
    failed: list[Refusal] = []
    for account_id, line in stored.items():  # bounded by the chunk size
        account = line.account
        event = Accrue(event_id=line_day_event_id(account_id, business_date), as_of=business_date)
        try:
            ref = (account.product_id, account.product_version)
            product = products.get(ref)
            if product is None:
                product = products[ref] = uow.loans.line_product(*ref)
            decided.append((line, event, apply_line(account, product, event)))
        except LoancoreError as error:
            failed.append(_refusal(account_id, error))
    return decided, failed


def _close_chunk(uow: UnitOfWork, ids: Sequence[str], business_date: date) -> _ChunkResult:
    with uow:
        decided, failed = _decide(uow, uow.loans.load_lines(ids), business_date)
        uow.loans.update_lines(  # one write for the chunk; loans first, then quota, then ledger
            [
                (outcome.account, line.version, _record(line, event, outcome), outcome.statements)
                for line, event, outcome in decided
            ]
        )
        for _line, event, outcome in decided:
            for effect in outcome.quota_effects:
                uow.quota.apply(effect.command(), as_of=event.as_of)
        entries: list[JournalEntry] = [e for _l, _e, outcome in decided for e in outcome.entries]
        if entries:
            uow.ledger.post(entries)
        uow.commit()
    statements = sum(len(outcome.statements) for _l, _e, outcome in decided)
    return _ChunkResult(len(decided), len(entries), statements, tuple(failed))


def _close_chunk_safely(uow: UnitOfWork, ids: Sequence[str], business_date: date) -> _ChunkResult:
    """:func:`_close_chunk`; if writing the chunk fails, its accounts one unit of work each, so
    only the account at fault is left out."""
    try:
        return _close_chunk(uow, ids, business_date)
    except LoancoreError:
        pass
    results: list[_ChunkResult] = []
    for account_id in ids:  # bounded by the chunk size
        try:
            results.append(_close_chunk(uow, [account_id], business_date))
        except LoancoreError as error:
            results.append(_ChunkResult(0, 0, 0, (_refusal(account_id, error),)))
    return _ChunkResult(
        closed=sum(r.closed for r in results),
        entries=sum(r.entries for r in results),
        statements=sum(r.statements for r in results),
        failed=tuple(f for r in results for f in r.failed),
    )


def close_lines_day(
    uow: UnitOfWork, business_date: date, *, chunk_size: int = LINES_CHUNK_SIZE
) -> LinesClosed:
    """Bring every credit-line account whose last date is before ``business_date`` to it with an
    ``Accrue`` (event id :func:`line_day_event_id`): interest accrued, and on the way each
    statement closed, late fee and penalty interest charged on its day. ``chunk_size`` accounts
    a unit of work, in account id order.

    Idempotent: an account at the date (closed already, or an event applied on that day) is not
    selected again, so a second run posts nothing. An account whose close raises a
    :class:`~loancore.errors.LoancoreError` is reported in ``failed`` and left as it was (the
    rest of its chunk commits; if writing the chunk fails, its accounts go one unit of work
    each); the next run tries it again."""
    require_date("business_date", business_date)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise InvalidInput("chunk_size", chunk_size, f"expected an int from 1 to {_CHUNK_SIZE_MAX}")
    if not 1 <= chunk_size <= _CHUNK_SIZE_MAX:
        raise InvalidInput("chunk_size", chunk_size, f"expected an int from 1 to {_CHUNK_SIZE_MAX}")
    chunks = closed = entries = statements = 0
    failed: list[Refusal] = []
    after = ""
    for chunk in range(1, _CHUNKS_MAX + 1):  # bounded: each chunk moves ``after`` forward
        with uow:
            ids = uow.loans.lines_to_close(business_date, after=after, limit=chunk_size)
        if not ids:
            break
        result = _close_chunk_safely(uow, ids, business_date)
        chunks, closed = chunk, closed + result.closed
        entries, statements = entries + result.entries, statements + result.statements
        failed.extend(result.failed)
        after = ids[-1]
        if len(ids) < chunk_size:
            break
    return LinesClosed(business_date, chunks, closed, entries, statements, tuple(failed))
