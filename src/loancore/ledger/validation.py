"""Validation passes over a whole ledger: every problem at once, as a list of issues.

Like beancount's ``ops/validation.py``: each pass is a pure function from entries (and the chart,
the close log, the memo postings) to :class:`~loancore.ledger.rules.Issue` values, and
:func:`validate` runs them all. A store's own rules should make every pass come back empty; the
passes exist for audits of stored data (a database edited by hand, a restored backup, an import),
which is why the entry values can hold what the posting rules would refuse. The audit of a
store (reading everything it holds, then :func:`validate`) is :func:`loancore.services.audit`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date

from loancore.errors import RejectionCode
from loancore.ledger.entries import JournalEntry, MemoPosting
from loancore.ledger.rules import (
    Issue,
    balance_issues,
    check_memo_batch,
    check_reversal,
    leg_issues,
)
from loancore.ledger.subjects import Chart

__all__ = [
    "PASSES",
    "validate",
    "validate_balanced",
    "validate_closed_periods",
    "validate_legs",
    "validate_memo",
    "validate_reversals",
    "validate_unique",
]

Code = RejectionCode


Closes = Sequence[tuple[date, int]]


def validate_balanced(
    entries: Sequence[JournalEntry], *, chart: Chart, closes: Closes
) -> list[Issue]:
    """Per entry and currency, debits equal credits."""
    return [issue for entry in entries for issue in balance_issues(entry)]


def validate_legs(entries: Sequence[JournalEntry], *, chart: Chart, closes: Closes) -> list[Issue]:
    """Every leg: known subject, open on the accounting date, positive, at the currency's scale."""
    return [issue for entry in entries for issue in leg_issues(entry, chart)]


def validate_unique(
    entries: Sequence[JournalEntry], *, chart: Chart, closes: Closes
) -> list[Issue]:
    """Entry ids and idempotency keys are unique."""
    issues = []
    ids = Counter(e.entry_id for e in entries)
    keys = Counter(e.idempotency_key for e in entries)
    for entry_id, count in sorted(ids.items()):
        if count > 1:
            message = f"entry id {entry_id!r} used {count} times"
            issues.append(Issue(Code.ENTRY_ID_TAKEN, entry_id, message))
    for key, count in sorted(keys.items()):
        if count > 1:
            message = f"idempotency key {key!r} used {count} times"
            issues.append(Issue(Code.ENTRY_ID_TAKEN, None, message))
    return issues


def validate_closed_periods(
    entries: Sequence[JournalEntry], *, chart: Chart, closes: Closes
) -> list[Issue]:
    """No entry was booked into a period that was already closed when it was booked.

    ``closes`` is the store's close log (``LedgerStore.period_closes``): ``(through, booked)`` with
    ``booked`` the number of entries booked at that close; entry number ``i`` (posting order) was
    booked under the latest close with ``booked <= i``.
    """
    issues = []
    log = sorted(closes, key=lambda c: c[1])
    k = 0
    closed: date | None = None
    for i, entry in enumerate(entries):
        while k < len(log) and log[k][1] <= i:
            closed = log[k][0] if closed is None else max(closed, log[k][0])
            k += 1
        if closed is not None and entry.accounting_date <= closed:
            message = (
                f"entry {entry.entry_id!r} dated {entry.accounting_date} was booked after "
                f"closing through {closed}"
            )
            issues.append(Issue(Code.PERIOD_CLOSED, entry.entry_id, message))
    return issues


def validate_reversals(
    entries: Sequence[JournalEntry], *, chart: Chart, closes: Closes
) -> list[Issue]:
    """Every reversal link points to an EARLIER entry, reverses it once, and mirrors its legs."""
    issues = []
    seen: dict[str, JournalEntry] = {}
    reversed_ids: set[str] = set()
    for entry in entries:
        target = entry.reverses
        if target is not None:
            already = target in reversed_ids
            issues.extend(check_reversal(entry, seen.get(target), already_reversed=already))
            reversed_ids.add(target)
        seen.setdefault(entry.entry_id, entry)
    return issues


def validate_memo(postings: Sequence[MemoPosting]) -> list[Issue]:
    """Memo postings: positive amounts, unique ids, and no decrease beyond the register's balance
    for its dimensions (as of its date, counting the postings booked before it).

    The same rules as posting (:func:`~loancore.ledger.rules.check_memo_batch`), run over the
    whole register as one batch that starts from zero.
    """
    issues = check_memo_batch(
        postings, closed_through=None, find_posting=lambda _id: None, memo_balance=lambda *_: 0
    )
    return list(issues)


PASSES: tuple[Callable[..., list[Issue]], ...] = (
    validate_unique,
    validate_balanced,
    validate_legs,
    validate_closed_periods,
    validate_reversals,
)
"""The journal passes :func:`validate` runs, in order."""


def validate(
    entries: Iterable[JournalEntry],
    *,
    chart: Chart,
    closes: Closes = (),
    memo_postings: Iterable[MemoPosting] = (),
) -> list[Issue]:
    """Run every pass over ``entries`` (in posting order) and ``memo_postings``; all issues."""
    journal = tuple(entries)
    issues: list[Issue] = []
    for validation_pass in PASSES:
        issues.extend(validation_pass(journal, chart=chart, closes=closes))
    issues.extend(validate_memo(tuple(memo_postings)))
    return issues
