"""Validation passes over a whole ledger: every problem at once, as a list of issues.

Like beancount's ``ops/validation.py``: each pass is a pure function from entries (and the chart,
the close log, the memo postings) to :class:`~loancore.ledger.rules.Issue` values, and
:func:`validate` runs them all. A store's own rules should make every pass come back empty; the
passes exist for audits of stored data (a database edited by hand, a restored backup, an import),
which is why the entry values can hold what the posting rules would refuse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from loancore.errors import RejectionCode
from loancore.ledger.entries import JournalEntry, MemoDirection, MemoPosting
from loancore.ledger.rules import Issue, check_reversal
from loancore.ledger.subjects import Chart, Side
from loancore.money import CURRENCY_MINOR_UNITS

if TYPE_CHECKING:  # ports imports the ledger's values; a runtime import would be circular
    from loancore.ports import LedgerStore

__all__ = [
    "PASSES",
    "audit",
    "validate",
    "validate_balanced",
    "validate_closed_periods",
    "validate_legs",
    "validate_memo",
    "validate_reversals",
    "validate_unique",
]

Code = RejectionCode


def validate_balanced(entries: Sequence[JournalEntry], *, chart: Chart, closes: Sequence[tuple[date, int]]) -> list[Issue]:
    """Per entry and currency, debits equal credits."""
    issues = []
    for entry in entries:
        net: Counter[str] = Counter()
        for leg in entry.legs:
            net[leg.amount.currency] += leg.signed_minor
        for currency, value in sorted(net.items()):
            if value:
                issues.append(Issue(Code.ENTRY_UNBALANCED, entry.entry_id, f"entry {entry.entry_id!r}: {currency} off by {value} minor units"))
    return issues


def validate_legs(entries: Sequence[JournalEntry], *, chart: Chart, closes: Sequence[tuple[date, int]]) -> list[Issue]:
    """Every leg: known subject, open on the accounting date, positive, at the currency's scale."""
    issues = []
    for entry in entries:
        for i, leg in enumerate(entry.legs):
            where = f"entry {entry.entry_id!r} leg {i}"
            subject = chart.find(leg.subject_code)
            if subject is None:
                issues.append(Issue(Code.SUBJECT_UNKNOWN, entry.entry_id, f"{where}: unknown subject {leg.subject_code!r}"))
            elif not subject.is_open_on(entry.accounting_date):
                issues.append(Issue(Code.SUBJECT_CLOSED, entry.entry_id, f"{where}: {leg.subject_code} not open on {entry.accounting_date}"))
            if leg.signed_minor == 0 or (leg.signed_minor > 0) is not (leg.side is Side.DEBIT):
                issues.append(Issue(Code.LEG_NOT_POSITIVE, entry.entry_id, f"{where}: amount {leg.amount} is not positive"))
            if -leg.amount.amount.as_tuple().exponent > CURRENCY_MINOR_UNITS[leg.amount.currency]:
                issues.append(Issue(Code.AMOUNT_OFF_SCALE, entry.entry_id, f"{where}: {leg.amount} is off scale"))
    return issues


def validate_unique(entries: Sequence[JournalEntry], *, chart: Chart, closes: Sequence[tuple[date, int]]) -> list[Issue]:
    """Entry ids and idempotency keys are unique."""
    issues = []
    ids = Counter(e.entry_id for e in entries)
    keys = Counter(e.idempotency_key for e in entries)
    for entry_id, count in sorted(ids.items()):
        if count > 1:
            issues.append(Issue(Code.ENTRY_ID_TAKEN, entry_id, f"entry id {entry_id!r} used {count} times"))
    for key, count in sorted(keys.items()):
        if count > 1:
            issues.append(Issue(Code.ENTRY_ID_TAKEN, None, f"idempotency key {key!r} used {count} times"))
    return issues


def validate_closed_periods(entries: Sequence[JournalEntry], *, chart: Chart, closes: Sequence[tuple[date, int]]) -> list[Issue]:
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
            issues.append(Issue(Code.PERIOD_CLOSED, entry.entry_id, f"entry {entry.entry_id!r} dated {entry.accounting_date} was booked after closing through {closed}"))
    return issues


def validate_reversals(entries: Sequence[JournalEntry], *, chart: Chart, closes: Sequence[tuple[date, int]]) -> list[Issue]:
    """Every reversal link points to an EARLIER entry, reverses it once, and mirrors its legs."""
    issues = []
    seen: dict[str, JournalEntry] = {}
    reversed_ids: set[str] = set()
    for entry in entries:
        if entry.reverses is not None:
            original = seen.get(entry.reverses)
            issues.extend(check_reversal(entry, original, already_reversed=entry.reverses in reversed_ids))
            reversed_ids.add(entry.reverses)
        seen.setdefault(entry.entry_id, entry)
    return issues


def validate_memo(postings: Sequence[MemoPosting]) -> list[Issue]:
    """Memo postings: positive amounts, and no decrease beyond the register's balance for its
    dimensions (as of its date, counting postings booked before it)."""
    issues = []
    for i, posting in enumerate(postings):
        pid = posting.posting_id
        if not posting.amount.is_positive():
            issues.append(Issue(Code.LEG_NOT_POSITIVE, pid, f"memo posting {pid!r}: amount {posting.amount} is not positive"))
            continue
        if posting.direction is not MemoDirection.DECREASE:
            continue
        wanted = set(posting.dimensions)
        before = sum(
            p.signed_minor
            for p in postings[:i]
            if p.register is posting.register
            and p.amount.currency == posting.amount.currency
            and p.accounting_date <= posting.accounting_date
            and wanted <= set(p.dimensions)
        )
        if posting.amount.minor_units > before:
            issues.append(Issue(Code.MEMO_BALANCE_INSUFFICIENT, pid, f"memo posting {pid!r}: decrease {posting.amount} exceeds {before} minor units"))
    return issues


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
    closes: Sequence[tuple[date, int]] = (),
    memo_postings: Iterable[MemoPosting] = (),
) -> list[Issue]:
    """Run every pass over ``entries`` (in posting order) and ``memo_postings``; all issues."""
    journal = tuple(entries)
    issues: list[Issue] = []
    for validation_pass in PASSES:
        issues.extend(validation_pass(journal, chart=chart, closes=closes))
    issues.extend(validate_memo(tuple(memo_postings)))
    return issues


def audit(store: LedgerStore) -> list[Issue]:
    """:func:`validate` over everything a :class:`~loancore.ports.LedgerStore` holds."""
    return validate(
        store.entries(),
        chart=store.load_chart(),
        closes=store.period_closes(),
        memo_postings=store.memo_postings(),
    )
