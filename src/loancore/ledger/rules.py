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
from typing import Any, Generic, TypeVar

import attrs

from loancore.checks import DATE_MAX, require_date
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
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
from loancore.ledger.subjects import Chart, Side
from loancore.money import Money

__all__ = [
    "AMOUNT_MINOR_MAX",
    "TOTAL_MINOR_MAX",
    "BatchPlan",
    "Issue",
    "balance_issues",
    "check_batch",
    "check_chart_change",
    "check_entry",
    "check_memo_batch",
    "check_reversal",
    "entries_argument",
    "entries_issues",
    "leg_issues",
    "memo_postings_argument",
    "next_closed_through",
    "plan_batch",
    "plan_memo_batch",
    "require_no_issues",
]

Code = RejectionCode
_DEBIT = Side.DEBIT

AMOUNT_MINOR_MAX = 10**15
"""The largest amount of one leg or memo posting, in minor units (10,000,000,000,000.00 CNY,
10**15 JPY, 10**12 KWD); larger is refused with ``AMOUNT_TOO_LARGE``."""

TOTAL_MINOR_MAX = 2**63 - 1
"""The largest total of all debits booked in one currency (and of all memo increases in one
currency): every stored amount, daily total, balance and report sum is at most this, so it fits
the stores' signed 64-bit columns and sums. A batch that would pass it is refused with
``LEDGER_TOTAL_EXCEEDED``."""


@attrs.frozen
class Issue:
    """One broken rule: a stable code, the entry (or memo posting) it concerns, and why."""

    code: RejectionCode
    entry_id: str | None
    message: str


def entries_issues(
    entries: Iterable[JournalEntry], *, chart: Chart, closed_through: date | None
) -> list[Issue]:
    """The rules that need no other entry, over ``entries`` in one flat pass (the posting hot
    path): per leg a known leaf subject open on the accounting date and a positive amount of at
    most AMOUNT_MINOR_MAX minor units; per entry and currency debits equal to credits; an
    accounting date after the closed period. Issues in entry order, and per entry in that order.

    The scale of an amount is :class:`~loancore.money.Money`'s own rule (an off-scale Money
    cannot be built, nor stored in integer minor units), so it is not checked again here.

    Written for speed, because every posted leg passes here: a subject found open on a day is
    remembered for that day (a set lookup instead of a chart lookup and a method call per leg),
    and an entry in one currency is balanced when its signed amounts add up to zero (the totals
    per currency are counted only when an entry mixes currencies or does not balance)."""
    issues: list[Issue] = []
    leaves = chart.leaves
    open_on: dict[date, set[str]] = {}  # day -> leaf codes found open on it
    for entry in entries:
        day = entry.accounting_date
        open_codes = open_on.get(day)
        if open_codes is None:
            open_codes = open_on[day] = set()
        legs = entry.legs
        currency = legs[0].amount.currency  # a JournalEntry has at least one leg
        net = 0
        mixed = False
        i = 0
        for leg in legs:
            code = leg.subject_code
            if code not in open_codes:
                subject = leaves.get(code)
                if subject is not None and subject.is_open_on(day):
                    open_codes.add(code)
                else:
                    issues.append(_subject_issue(entry, i, chart))
            minor = leg.signed_minor
            # The amount in minor units, signed as given (signed_minor is negated for credits).
            amount = minor if leg.side is _DEBIT else -minor
            if not 0 < amount <= AMOUNT_MINOR_MAX:
                issues.append(_amount_issue(entry, i))
            net += minor
            if leg.amount.currency != currency:
                mixed = True
            i += 1  # noqa: SIM113 (cheaper than enumerate's tuple a leg)
        if net or mixed:
            issues.extend(_unbalanced(entry))
        if closed_through is not None and day <= closed_through:
            message = (
                f"entry {entry.entry_id!r}: {day} is in the closed period (to {closed_through})"
            )
            issues.append(Issue(Code.PERIOD_CLOSED, entry.entry_id, message))
    return issues


def check_entry(
    entry: JournalEntry, *, chart: Chart, closed_through: date | None
) -> tuple[Issue, ...]:
    """:func:`entries_issues` of one entry."""
    return tuple(entries_issues((entry,), chart=chart, closed_through=closed_through))


def leg_issues(entry: JournalEntry, chart: Chart) -> list[Issue]:
    """The per-leg issues of :func:`entries_issues` (for the audit's leg pass)."""
    found = entries_issues((entry,), chart=chart, closed_through=None)
    return [issue for issue in found if issue.code is not Code.ENTRY_UNBALANCED]


_NO_SUBJECTS = Chart(())


def balance_issues(entry: JournalEntry) -> list[Issue]:
    """The balance issues of :func:`entries_issues`: per currency, debits equal credits."""
    found = entries_issues((entry,), chart=_NO_SUBJECTS, closed_through=None)
    return [issue for issue in found if issue.code is Code.ENTRY_UNBALANCED]


def _unbalanced(entry: JournalEntry) -> list[Issue]:
    """One ENTRY_UNBALANCED issue per currency whose debits and credits differ, in code order."""
    net: dict[str, int] = {}
    for leg in entry.legs:
        currency = leg.amount.currency
        net[currency] = net.get(currency, 0) + leg.signed_minor
    return [
        Issue(
            Code.ENTRY_UNBALANCED,
            entry.entry_id,
            f"entry {entry.entry_id!r}: {currency} debits - credits = {value} minor units",
        )
        for currency, value in sorted(net.items())
        if value != 0
    ]


def _where(entry: JournalEntry, index: int) -> str:
    return f"entry {entry.entry_id!r} leg {index}"


def _subject_issue(entry: JournalEntry, index: int, chart: Chart) -> Issue:
    """Why leg ``index``'s subject cannot be posted on the entry's date: unknown, closed or a
    parent."""
    code, day = entry.legs[index].subject_code, entry.accounting_date
    where = _where(entry, index)
    subject = chart.find(code)
    if subject is None:
        return Issue(Code.SUBJECT_UNKNOWN, entry.entry_id, f"{where}: unknown subject {code!r}")
    if not subject.is_open_on(day):
        return Issue(Code.SUBJECT_CLOSED, entry.entry_id, f"{where}: {code} is not open on {day}")
    message = f"{where}: {code} has sub-accounts; post to one of them"
    return Issue(Code.SUBJECT_NOT_LEAF, entry.entry_id, message)


def _too_large(item_id: str, where: str, amount: Money) -> Issue:
    message = f"{where}: {amount} is above the largest amount, {AMOUNT_MINOR_MAX} minor units"
    return Issue(Code.AMOUNT_TOO_LARGE, item_id, message)


def _amount_issue(entry: JournalEntry, index: int) -> Issue:
    """Why leg ``index``'s amount cannot be posted: not positive, or above AMOUNT_MINOR_MAX."""
    leg, where = entry.legs[index], _where(entry, index)
    if leg.amount.amount > 0:
        return _too_large(entry.entry_id, where, leg.amount)
    message = f"{where}: amount {leg.amount} is not positive"
    return Issue(Code.LEG_NOT_POSITIVE, entry.entry_id, message)


def _mirror_key(entry: JournalEntry, flip: bool) -> Counter[tuple[Any, ...]]:
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
    issues: list[Issue] = []
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
    debit_totals: Mapping[str, int],
) -> tuple[Issue, ...]:
    """Every rule over a batch of NEW entries (after :func:`plan_batch`), as one list of issues.

    ``find_entry(entry_id)`` and ``is_reversed(entry_id)`` read the store's booked entries; the
    batch itself is taken into account (an entry may reverse an earlier one of the same batch, and
    two entries may not share an id or reverse the same entry). ``debit_totals`` maps a currency
    to the total debits already booked in it (minor units; a missing currency is zero).
    """
    if closed_through is not None:
        require_date("closed_through", closed_through)
    issues = entries_issues(entries, chart=chart, closed_through=closed_through)
    batch: dict[str, JournalEntry] = {}
    reversed_in_batch: set[str] = set()
    for entry in entries:
        entry_id = entry.entry_id
        if entry_id in batch or find_entry(entry_id) is not None:
            message = f"entry id {entry_id!r} is already used"
            issues.append(Issue(Code.ENTRY_ID_TAKEN, entry_id, message))
        target = entry.reverses
        if target is not None:
            original = batch.get(target) or find_entry(target)
            already = target in reversed_in_batch or (target not in batch and is_reversed(target))
            issues.extend(check_reversal(entry, original, already_reversed=already))
            reversed_in_batch.add(target)
        batch[entry_id] = entry
    issues.extend(total_issues(debit_totals, batch_debits(entries), what="debits"))
    return tuple(issues)


def batch_debits(entries: Iterable[JournalEntry]) -> dict[str, int]:
    """Total debits of ``entries`` per currency, in minor units (what the stores add to their
    running totals when they book them)."""
    totals: dict[str, int] = {}
    # Summed in runs of one currency (one run a batch, usually), added to ``totals`` when the
    # currency changes: a dict update per debit leg would cost half of this pass.
    currency = ""
    run = 0
    for entry in entries:
        for leg in entry.legs:
            minor = leg.signed_minor
            if minor > 0:
                if leg.amount.currency != currency:
                    if run:
                        totals[currency] = totals.get(currency, 0) + run
                    currency, run = leg.amount.currency, 0
                run += minor
    if run:
        totals[currency] = totals.get(currency, 0) + run
    return totals


def total_issues(booked: Mapping[str, int], adding: Mapping[str, int], *, what: str) -> list[Issue]:
    """One LEDGER_TOTAL_EXCEEDED issue per currency whose booked total plus ``adding`` would pass
    TOTAL_MINOR_MAX (so no stored total, balance or report sum can overflow 64 bits)."""
    issues = []
    for currency, minor in sorted(adding.items()):
        total = booked.get(currency, 0) + minor
        if total > TOTAL_MINOR_MAX:
            message = (
                f"total {what} in {currency} would be {total} minor units, above the largest"
                f" total a store keeps ({TOTAL_MINOR_MAX})"
            )
            issues.append(Issue(Code.LEDGER_TOTAL_EXCEEDED, None, message))
    return issues


def require_no_issues(issues: Sequence[Issue]) -> None:
    """Raise :class:`~loancore.errors.PostingRejected` carrying ``issues`` unless it is empty."""
    if issues:
        raise PostingRejected(tuple(issues))


T = TypeVar("T", JournalEntry, MemoPosting)


@attrs.frozen
class BatchPlan(Generic[T]):
    """The outcome of idempotency resolution for a batch.

    ``new`` are the items to check and book, in input order. ``results`` has one item per input:
    the booked original for a replay, the input itself otherwise (also for a key repeated inside
    the batch with the same content, which is booked once).
    """

    new: tuple[T, ...]
    results: tuple[T, ...]


def _plan(items: Iterable[T], find_by_key: Callable[[str], T | None]) -> BatchPlan[T]:
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
    return BatchPlan(tuple(new), tuple(results))


def _ident(item: JournalEntry | MemoPosting) -> str:
    return item.entry_id if isinstance(item, JournalEntry) else item.posting_id


def plan_batch(
    entries: Iterable[JournalEntry], *, find_by_key: Callable[[str], JournalEntry | None]
) -> BatchPlan[JournalEntry]:
    """Resolve idempotency keys (see the module docstring); raises IdempotencyConflict."""
    return _plan(entries, find_by_key)


def plan_memo_batch(
    postings: Iterable[MemoPosting], *, find_by_key: Callable[[str], MemoPosting | None]
) -> BatchPlan[MemoPosting]:
    """:func:`plan_batch` for memo postings."""
    return _plan(postings, find_by_key)


def check_memo_batch(
    postings: Sequence[MemoPosting],
    *,
    closed_through: date | None,
    find_posting: Callable[[str], MemoPosting | None],
    memo_balance: Callable[[MemoRegister, str, Dimensions, date], int],
    increase_totals: Mapping[str, int],
) -> tuple[Issue, ...]:
    """Rules for NEW memo postings: positive amount at scale and within AMOUNT_MINOR_MAX, open
    period, unused id, and a DECREASE no larger than the register's balance for its dimensions and
    currency, both as of its date and as of DATE_MAX (``memo_balance(register, currency,
    dimensions, as_of)`` in minor units, plus the batch's earlier postings). A dip strictly
    between a back-dated decrease and a later increase is not caught (that would need the balance
    at every later date). ``increase_totals`` maps a currency to the total of the memo increases
    already booked in it: with the batch's, at most TOTAL_MINOR_MAX."""
    if closed_through is not None:
        require_date("closed_through", closed_through)
    issues: list[Issue] = []
    done: list[MemoPosting] = []
    for p in postings:
        pid = p.posting_id
        where = f"memo posting {pid!r}"
        if not p.amount.is_positive():
            issues.append(Issue(Code.LEG_NOT_POSITIVE, pid, f"{where}: {p.amount} is not positive"))
        elif p.amount.minor_units > AMOUNT_MINOR_MAX:
            issues.append(_too_large(pid, where, p.amount))
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
                for day in (p.accounting_date, DATE_MAX)
            )
            if p.amount.minor_units > available:
                message = f"{where}: decrease {p.amount} exceeds balance {available} minor units"
                issues.append(Issue(Code.MEMO_BALANCE_INSUFFICIENT, pid, message))
        done.append(p)
    increases: dict[str, int] = {}
    for p in postings:
        if p.direction is MemoDirection.INCREASE:
            increases[p.amount.currency] = (
                increases.get(p.amount.currency, 0) + p.amount.minor_units
            )
    issues.extend(total_issues(increase_totals, increases, what="memo increases"))
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
    operation loancore offers (corrections go into the open period). ``through`` is an accounting
    date (:func:`loancore.checks.require_date`): closing through DATE_MAX is allowed and final.
    """
    require_date("through", through)
    if current is not None and through < current:
        raise InvalidInput("through", through, f"the ledger is already closed through {current}")
    return through


def entries_argument(entries: object) -> tuple[JournalEntry, ...]:
    """``entries`` as a tuple if it is a sequence (list, tuple, ...) of JournalEntry values; else
    :class:`~loancore.errors.InvalidInput` naming ``entries`` (or the item). A single entry, a
    generator or a string is refused the same way by every store."""
    return _batch_argument(entries, JournalEntry, "entries")


def memo_postings_argument(postings: object) -> tuple[MemoPosting, ...]:
    """:func:`entries_argument` for memo postings."""
    return _batch_argument(postings, MemoPosting, "postings")


def _batch_argument(items: object, kind: type[T], field: str) -> tuple[T, ...]:
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        reason = f"expected a sequence (list or tuple) of {kind.__name__} values"
        raise InvalidInput(field, items, reason)
    batch = tuple(items)
    if set(map(type, batch)) <= {kind}:  # one C-level pass for the usual batch of exact values
        return batch
    for i, item in enumerate(batch):
        if type(item) is not kind and not isinstance(item, kind):
            raise InvalidInput(f"{field}[{i}]", item, f"expected a {kind.__name__}")
    return batch


PostedDays = Mapping[str, tuple[date, date]]
"""Subject code -> (first, last) accounting date of the legs booked on it."""


def check_chart_change(stored: Chart, new: Chart, posted: PostedDays) -> None:
    """Refuse a chart change that would alter what booked entries mean; InvalidInput naming the
    subject and field. For every subject with postings (``posted``): it stays in the chart, keeps
    its kind and normal side (a change would flip the sign of its balance), stays a leaf (its own
    legs would sit on a parent), and stays open on its first and last posting days."""
    if not isinstance(new, Chart):
        raise InvalidInput("chart", new, "expected a Chart")
    for code in sorted(posted):
        first, last = posted[code]
        subject = new.find(code)
        if subject is None:
            raise InvalidInput("chart", code, "a subject with postings cannot be removed")
        before = stored.find(code)
        for field in ("kind", "normal_side"):
            value = getattr(subject, field)
            if before is not None and getattr(before, field) is not value:
                reason = f"cannot change from {getattr(before, field).value!r}: it has postings"
                raise InvalidInput(f"{code}.{field}", value.value, reason)
        if not new.is_leaf(code):
            reason = "cannot get sub-accounts: it has postings of its own"
            raise InvalidInput(f"{code}.sub-accounts", new.children(code)[0].code, reason)
        if subject.open_date is not None and subject.open_date > first:
            reason = f"is after its first posting, dated {first}"
            raise InvalidInput(f"{code}.open_date", subject.open_date, reason)
        if subject.close_date is not None and subject.close_date < last:
            reason = f"is before its last posting, dated {last}"
            raise InvalidInput(f"{code}.close_date", subject.close_date, reason)
