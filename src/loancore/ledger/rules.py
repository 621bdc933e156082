"""The posting rules: pure checks every store runs inside its transaction before booking anything.

A store's ``post`` does, in one transaction:

1. :func:`plan_batch` — resolve idempotency: entries whose key is already booked with the same
   content are replays (their original is returned, nothing is posted); the same key with other
   content raises :class:`~loancore.errors.IdempotencyConflict`.
2. :func:`check_batch` over the new entries — returns every broken rule as an :class:`Issue`;
   :func:`require_no_issues` raises :class:`~loancore.errors.PostingRejected` if there is any.
3. Book the new entries (all or nothing), then commit.

Memo postings follow the same path with :func:`plan_memo_batch` and :func:`check_memo_batch`.
The checks read the store only through the callbacks passed in (``find_entry``, ``is_reversed``,
``memo_balance``), so the rules stay pure and every store enforces exactly the same ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TypeVar

import attrs

from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    PostingRejected,
    RejectionCode,
)
from loancore.ledger.entries import (
    Dimensions,
    JournalEntry,
    MemoDirection,
    MemoPosting,
    MemoRegister,
)
from loancore.ledger.subjects import Chart, Side, Subject
from loancore.money import CURRENCY_MINOR_UNITS

__all__ = [
    "BatchPlan",
    "Issue",
    "balance_issues",
    "check_batch",
    "check_entry",
    "check_memo_batch",
    "check_reversal",
    "leg_issues",
    "next_closed_through",
    "plan_batch",
    "plan_memo_batch",
    "require_no_issues",
]

Code = RejectionCode
_DEBIT = Side.DEBIT


@attrs.frozen
class Issue:
    """One broken rule: a stable code, the entry (or memo posting) it concerns, and why."""

    code: RejectionCode
    entry_id: str | None
    message: str


def leg_issues(entry: JournalEntry, chart: Chart) -> list[Issue]:
    """Per leg: a known subject, open on the accounting date; a positive amount at scale."""
    issues: list[Issue] = []
    day = entry.accounting_date
    eid = entry.entry_id
    for i, leg in enumerate(entry.legs):
        where = f"entry {eid!r} leg {i}"
        code = leg.subject_code
        subject = chart.find(code)
        if subject is None:
            issues.append(Issue(Code.SUBJECT_UNKNOWN, eid, f"{where}: unknown subject {code!r}"))
        elif not subject.is_open_on(day):
            issues.append(Issue(Code.SUBJECT_CLOSED, eid, f"{where}: {code} is not open on {day}"))
        if leg.signed_minor == 0 or (leg.signed_minor > 0) is not (leg.side is _DEBIT):
            message = f"{where}: amount {leg.amount} is not positive"
            issues.append(Issue(Code.LEG_NOT_POSITIVE, eid, message))
        if -leg.amount.amount.as_tuple().exponent > CURRENCY_MINOR_UNITS[leg.amount.currency]:
            message = f"{where}: {leg.amount} is off its currency's scale"
            issues.append(Issue(Code.AMOUNT_OFF_SCALE, eid, message))
    return issues


def balance_issues(entry: JournalEntry) -> list[Issue]:
    """Per currency, debits equal credits."""
    net: dict[str, int] = {}
    for leg in entry.legs:
        net[leg.amount.currency] = net.get(leg.amount.currency, 0) + leg.signed_minor
    return [
        Issue(
            Code.ENTRY_UNBALANCED,
            entry.entry_id,
            f"entry {entry.entry_id!r}: {currency} debits - credits = {value} minor units",
        )
        for currency, value in sorted(net.items())
        if value != 0
    ]


def _passes(
    entry: JournalEntry, subjects: Mapping[str, Subject], closed_through: date | None
) -> bool:
    """The hot path of :func:`check_entry`: True when no rule is broken (no issue values built).

    Kept flat because every posted entry goes through it; :func:`_explain` lists the issues when
    this returns False. Scale is guaranteed by Money (it refuses off-scale amounts) and is
    re-checked in :func:`_explain` and the audit passes.
    """
    day = entry.accounting_date
    if closed_through is not None and day <= closed_through:
        return False
    nets: dict[str, int] | None = None
    currency = None
    net = 0
    for leg in entry.legs:
        subject = subjects.get(leg.subject_code)
        if subject is None:
            return False
        if (subject.open_date is not None and day < subject.open_date) or (
            subject.close_date is not None and day > subject.close_date
        ):
            return False
        minor = leg.signed_minor
        if minor == 0 or (minor > 0) is not (leg.side is _DEBIT):
            return False
        leg_currency = leg.amount.currency
        if currency is None:
            currency = leg_currency
        if leg_currency == currency:
            net += minor
        else:
            nets = nets if nets is not None else {}
            nets[leg_currency] = nets.get(leg_currency, 0) + minor
    return net == 0 and (nets is None or not any(nets.values()))


def check_entry(
    entry: JournalEntry, *, chart: Chart, closed_through: date | None
) -> tuple[Issue, ...]:
    """The rules that need no other entry: balance per currency, positive legs at scale, known
    subjects open on the accounting date, and an accounting date after the closed period."""
    if _passes(entry, chart.by_code, closed_through):
        return ()
    return _explain(entry, chart, closed_through)


def _explain(entry: JournalEntry, chart: Chart, closed_through: date | None) -> tuple[Issue, ...]:
    """Every issue of an entry :func:`_passes` refused; at least one, or the two disagree."""
    issues = leg_issues(entry, chart) + balance_issues(entry)
    if closed_through is not None and entry.accounting_date <= closed_through:
        day = entry.accounting_date
        message = f"entry {entry.entry_id!r}: {day} is in the closed period (to {closed_through})"
        issues.append(Issue(Code.PERIOD_CLOSED, entry.entry_id, message))
    if not issues:  # the fast path refused what the full rules accept: never book on a doubt
        raise InvariantViolation(f"posting rules disagree on entry {entry.entry_id!r}")
    return tuple(issues)


def _mirror_key(entry: JournalEntry, flip: bool) -> Counter:
    return Counter(
        (leg.subject_code, leg.side.opposite if flip else leg.side, leg.amount, leg.dimensions)
        for leg in entry.legs
    )


def check_reversal(
    entry: JournalEntry, original: JournalEntry | None, *, already_reversed: bool
) -> tuple[Issue, ...]:
    """Rules for an entry with ``reverses`` set: the original exists and is not reversed yet, the
    reversal is not dated before it, and its legs mirror the original's (as a multiset)."""
    target, eid = entry.reverses, entry.entry_id
    if original is None:
        return (Issue(Code.ENTRY_UNKNOWN, eid, f"entry {eid!r} reverses unknown entry {target!r}"),)
    issues = []
    if already_reversed:
        message = f"entry {target!r} is already reversed"
        issues.append(Issue(Code.ENTRY_ALREADY_REVERSED, eid, message))
    if entry.accounting_date < original.accounting_date:
        message = f"reversal {eid!r} is dated before {target!r} ({original.accounting_date})"
        issues.append(Issue(Code.REVERSAL_MISMATCH, eid, message))
    if _mirror_key(entry, flip=False) != _mirror_key(original, flip=True):
        message = f"legs of {eid!r} do not mirror {target!r}"
        issues.append(Issue(Code.REVERSAL_MISMATCH, eid, message))
    return tuple(issues)


def check_batch(
    entries: Sequence[JournalEntry],
    *,
    chart: Chart,
    closed_through: date | None,
    find_entry: Callable[[str], JournalEntry | None],
    is_reversed: Callable[[str], bool],
) -> tuple[Issue, ...]:
    """Every rule over a batch of NEW entries (after :func:`plan_batch`), as one list of issues.

    ``find_entry(entry_id)`` and ``is_reversed(entry_id)`` read the store's booked entries; the
    batch itself is taken into account (an entry may reverse an earlier one of the same batch, and
    two entries may not share an id or reverse the same entry).
    """
    issues: list[Issue] = []
    batch: dict[str, JournalEntry] = {}
    reversed_in_batch: set[str] = set()
    subjects = chart.by_code
    for entry in entries:
        if not _passes(entry, subjects, closed_through):
            issues.extend(_explain(entry, chart, closed_through))
        if entry.entry_id in batch or find_entry(entry.entry_id) is not None:
            message = f"entry id {entry.entry_id!r} is already used"
            issues.append(Issue(Code.ENTRY_ID_TAKEN, entry.entry_id, message))
        target = entry.reverses
        if target is not None:
            original = batch.get(target) or find_entry(target)
            already = target in reversed_in_batch or (target not in batch and is_reversed(target))
            issues.extend(check_reversal(entry, original, already_reversed=already))
            reversed_in_batch.add(target)
        batch[entry.entry_id] = entry
    return tuple(issues)


def require_no_issues(issues: Sequence[Issue]) -> None:
    """Raise :class:`~loancore.errors.PostingRejected` carrying ``issues`` unless it is empty."""
    if issues:
        raise PostingRejected(tuple(issues))


T = TypeVar("T", JournalEntry, MemoPosting)


@attrs.frozen
class BatchPlan:
    """The outcome of idempotency resolution for a batch.

    ``new`` are the items to check and book, in input order. ``results`` has one item per input:
    the booked original for a replay, the input itself otherwise (also for a key repeated inside
    the batch with the same content, which is booked once).
    """

    new: tuple = attrs.field(converter=tuple)
    results: tuple = attrs.field(converter=tuple)


def _plan(items: Iterable[T], find_by_key: Callable[[str], T | None]) -> BatchPlan:
    new: list[T] = []
    results: list[T] = []
    seen: dict[str, T] = {}
    for item in items:
        key = item.idempotency_key
        first = seen.get(key)
        if first is None:
            first = find_by_key(key)
            if first is None:
                seen[key] = item
                new.append(item)
                results.append(item)
                continue
            seen[key] = first
        if first.content() != item.content():
            raise IdempotencyConflict(key, f"first booked as {_ident(first)!r}")
        results.append(first)
    return BatchPlan(new, results)


def _ident(item: JournalEntry | MemoPosting) -> str:
    return item.entry_id if isinstance(item, JournalEntry) else item.posting_id


def plan_batch(
    entries: Iterable[JournalEntry], *, find_by_key: Callable[[str], JournalEntry | None]
) -> BatchPlan:
    """Resolve idempotency keys (see the module docstring); raises IdempotencyConflict."""
    return _plan(entries, find_by_key)


def plan_memo_batch(
    postings: Iterable[MemoPosting], *, find_by_key: Callable[[str], MemoPosting | None]
) -> BatchPlan:
    """:func:`plan_batch` for memo postings."""
    return _plan(postings, find_by_key)


def check_memo_batch(
    postings: Sequence[MemoPosting],
    *,
    closed_through: date | None,
    find_posting: Callable[[str], MemoPosting | None],
    memo_balance: Callable[[MemoRegister, str, Dimensions, date], int],
) -> tuple[Issue, ...]:
    """Rules for NEW memo postings: positive amount at scale, open period, unused id, and a
    DECREASE no larger than the register's balance for its dimensions and currency, both as of its
    date and as of ``date.max`` (``memo_balance(register, currency, dimensions, as_of)`` in minor
    units, plus the batch's earlier postings). A dip strictly between a back-dated decrease and a
    later increase is not caught (that would need the balance at every later date)."""
    issues: list[Issue] = []
    done: list[MemoPosting] = []
    for p in postings:
        pid = p.posting_id
        where = f"memo posting {pid!r}"
        if not p.amount.is_positive():
            issues.append(Issue(Code.LEG_NOT_POSITIVE, pid, f"{where}: {p.amount} is not positive"))
        if closed_through is not None and p.accounting_date <= closed_through:
            message = f"{where}: {p.accounting_date} is in the closed period"
            issues.append(Issue(Code.PERIOD_CLOSED, pid, message))
        if find_posting(pid) is not None or any(d.posting_id == pid for d in done):
            issues.append(Issue(Code.ENTRY_ID_TAKEN, pid, f"{where}: id already used"))
        if p.direction is MemoDirection.DECREASE:
            # As of its own date and as of the end of time: a back-dated decrease must not take
            # the register negative then, nor leave it negative at the end.
            available = min(
                memo_balance(p.register, p.amount.currency, p.dimensions, day)
                + _memo_net(done, p, day)
                for day in (p.accounting_date, date.max)
            )
            if p.amount.minor_units > available:
                message = f"{where}: decrease {p.amount} exceeds balance {available} minor units"
                issues.append(Issue(Code.MEMO_BALANCE_INSUFFICIENT, pid, message))
        done.append(p)
    return tuple(issues)


def _memo_net(earlier: Sequence[MemoPosting], posting: MemoPosting, as_of: date) -> int:
    """Net of ``earlier`` postings that count in ``posting``'s balance as of ``as_of``."""
    wanted = set(posting.dimensions)
    return sum(
        d.signed_minor
        for d in earlier
        if d.register is posting.register
        and d.amount.currency == posting.amount.currency
        and d.accounting_date <= as_of
        and wanted <= set(d.dimensions)
    )


def next_closed_through(current: date | None, through: date) -> date:
    """The closed-through date after closing the period ending ``through`` (inclusive).

    Closing only moves forward; closing the same date again is a no-op. Reopening is not an
    operation loancore offers (corrections go into the open period).
    """
    if current is not None and through < current:
        raise InvalidInput("through", through, f"the ledger is already closed through {current}")
    return through
