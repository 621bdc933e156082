"""MemoryLedgerStore: the in-memory reference implementation of :class:`loancore.ports.LedgerStore`.

Atomic by construction: every call plans and checks the whole batch first (pure rules from
:mod:`loancore.ledger.rules`), then applies it with operations that cannot fail, under one lock.

Fast reads: per (subject, currency) the store keeps debit and credit totals per accounting day
and, rebuilt on the first read after a write (O(days)), the sorted days with cumulative totals; a
balance as of a date is then a bisect per subject of the subtree, independent of the number of
entries. Dimension filters go through an
index from each ``(key, value)`` to its postings.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from datetime import date
from typing import cast

from loancore.errors import (
    InvalidInput,
    InvariantViolation,
    NotFound,
    PostingRejected,
    RejectionCode,
)
from loancore.ledger.entries import (
    Dimensions,
    DimensionsLike,
    JournalEntry,
    Leg,
    MemoPosting,
    MemoRegister,
    dimensions_of,
    reversal_of,
)
from loancore.ledger.reports import (
    GeneralLedger,
    TrialBalance,
    general_ledger_of,
    in_normal_side,
    trial_balance_of,
)
from loancore.ledger.rules import (
    Issue,
    check_batch,
    check_memo_batch,
    next_closed_through,
    plan_batch,
    plan_memo_batch,
    require_no_issues,
)
from loancore.ledger.subjects import Chart
from loancore.money import Money

__all__ = ["MemoryLedgerStore"]


class _DailySeries:
    """Debit and credit totals per day (date ordinals) of one subject in one currency.

    Writes only touch ``by_day`` and mark the series dirty; the first read after them rebuilds the
    sorted days and cumulative totals, O(days) not O(entries), and then answers by bisection.
    """

    __slots__ = ("by_day", "cum_credit", "cum_debit", "days", "dirty")

    def __init__(self) -> None:
        self.by_day: dict[int, list[int]] = {}
        self.days: list[int] = []
        self.cum_debit: list[int] = []
        self.cum_credit: list[int] = []
        self.dirty = False

    def _rebuild(self) -> None:
        days = sorted(self.by_day)
        cum_debit, cum_credit = [], []
        debit = credit = 0
        for day in days:
            d, c = self.by_day[day]
            debit += d
            credit += c
            cum_debit.append(debit)
            cum_credit.append(credit)
        self.days, self.cum_debit, self.cum_credit = days, cum_debit, cum_credit
        self.dirty = False

    def totals_as_of(self, day: int) -> tuple[int, int]:
        """(debit, credit) totals over days <= ``day``."""
        if self.dirty:
            self._rebuild()
        i = bisect.bisect_right(self.days, day)
        if i == 0:
            return 0, 0
        return self.cum_debit[i - 1], self.cum_credit[i - 1]


def _matches(dimensions: Dimensions, wanted: Dimensions) -> bool:
    for pair in wanted:
        if pair not in dimensions:
            return False
    return True


class MemoryLedgerStore:
    """In-memory :class:`~loancore.ports.LedgerStore` (thread-safe writes, one lock)."""

    def __init__(self, chart: Chart | None = None) -> None:
        self._lock = threading.RLock()
        self._chart = chart if chart is not None else Chart(())
        self._entries: list[JournalEntry] = []
        self._by_id: dict[str, JournalEntry] = {}
        self._by_key: dict[str, JournalEntry] = {}
        self._reversed_by: dict[str, str] = {}
        self._series: dict[tuple[str, str], _DailySeries] = {}
        # Entries (not legs) per subject and per dimension pair, each listed once, in posting
        # order; references only, so indexing allocates no new objects for the collector to scan.
        self._by_subject: dict[str, list[JournalEntry]] = {}
        self._by_dimension: dict[tuple[str, str], list[JournalEntry]] = {}
        self._seq: dict[str, int] = {}  # entry id -> posting sequence
        # Each index covers entries[:n] and catches up on its own, when a read first needs it.
        self._indexed = {"series": 0, "subjects": 0, "dimensions": 0}
        self._closed_through: date | None = None
        self._closes: list[tuple[date, int]] = []
        self._memo: list[MemoPosting] = []
        self._memo_by_id: dict[str, MemoPosting] = {}
        self._memo_by_key: dict[str, MemoPosting] = {}

    # -- chart ----------------------------------------------------------------------------------

    def load_chart(self) -> Chart:
        return self._chart

    def save_chart(self, chart: Chart) -> None:
        with self._lock:
            self._catch_up_series()
            for code in sorted({code for code, _ in self._series}):
                if code not in chart:
                    raise InvalidInput("chart", code, "subject has postings and cannot be removed")
            self._chart = chart

    # -- journal --------------------------------------------------------------------------------

    def post(self, entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
        with self._lock:
            plan = plan_batch(entries, find_by_key=self._by_key.get)
            issues = check_batch(
                plan.new,
                chart=self._chart,
                closed_through=self._closed_through,
                find_entry=self._by_id.get,
                is_reversed=self._reversed_by.__contains__,
            )
            require_no_issues(issues)
            self._check_nets(plan.new)
            self._apply(plan.new)
            return plan.results

    @staticmethod
    def _check_nets(entries: Sequence[JournalEntry]) -> None:
        # Defence in depth, before any state changes: the rules passed, so this never fires.
        net: dict[str, int] = {}
        for entry in entries:
            for leg in entry.legs:
                net[leg.amount.currency] = net.get(leg.amount.currency, 0) + leg.signed_minor
        if any(net.values()):
            raise InvariantViolation(f"batch passed the rules but does not balance: {net}")

    def _apply(self, entries: Sequence[JournalEntry]) -> None:
        """Book checked entries. Nothing here can fail, so a batch is all or nothing.

        Only the journal and its id/key/reversal maps are written here, in bulk; each read index
        (daily series, per subject, per dimension) catches up when a read first needs it, so a
        burst of posts does not pay for indexes nobody has read yet.
        """
        self._entries.extend(entries)
        self._by_id.update([(entry.entry_id, entry) for entry in entries])
        self._by_key.update([(entry.idempotency_key, entry) for entry in entries])
        self._reversed_by.update([(e.reverses, e.entry_id) for e in entries if e.reverses])

    def _pending(self, index: str) -> tuple[int, list[JournalEntry]]:
        """The entries ``index`` has not seen yet (and their first sequence); marks them seen.

        Called under the lock by a reader, right before it brings that index up to date.
        """
        start = self._indexed[index]
        self._indexed[index] = len(self._entries)
        return start, self._entries[start:]

    def _catch_up_series(self) -> None:
        """Add the new entries' legs to the per-(subject, currency) daily totals."""
        series_of = self._series
        for entry in self._pending("series")[1]:
            day = entry.accounting_date.toordinal()
            for leg in entry.legs:
                key = (leg.subject_code, leg.amount.currency)
                series = series_of.get(key)
                if series is None:
                    series = series_of[key] = _DailySeries()
                series.dirty = True
                minor = leg.signed_minor
                totals = series.by_day.get(day)
                if totals is None:
                    series.by_day[day] = [minor, 0] if minor > 0 else [0, -minor]
                elif minor > 0:
                    totals[0] += minor
                else:
                    totals[1] -= minor

    def _catch_up_subjects(self) -> None:
        """List the new entries under each subject they post to, and record their sequence."""
        by_subject = self._by_subject
        start, pending = self._pending("subjects")
        for entry in pending:
            for leg in entry.legs:
                listed = by_subject.get(leg.subject_code)
                if listed is None:
                    by_subject[leg.subject_code] = [entry]
                elif listed[-1] is not entry:
                    listed.append(entry)
        self._seq.update(zip([e.entry_id for e in pending], range(start, start + len(pending))))

    def _catch_up_dimensions(self) -> None:
        """List the new entries under each (dimension, value) one of their legs carries."""
        by_dimension = self._by_dimension
        for entry in self._pending("dimensions")[1]:
            for leg in entry.legs:
                for pair in leg.dimensions:
                    listed = by_dimension.get(pair)
                    if listed is None:
                        by_dimension[pair] = [entry]
                    elif listed[-1] is not entry:
                        listed.append(entry)

    def reverse(
        self,
        entry_id: str,
        *,
        reversal_id: str,
        idempotency_key: str,
        accounting_date: date,
        memo: str | None = None,
    ) -> JournalEntry:
        with self._lock:
            original = self._by_id.get(entry_id)
            if original is None:
                message = f"cannot reverse unknown entry {entry_id!r}"
                raise PostingRejected((Issue(RejectionCode.ENTRY_UNKNOWN, reversal_id, message),))
            entry = reversal_of(
                original,
                entry_id=reversal_id,
                idempotency_key=idempotency_key,
                accounting_date=accounting_date,
                memo=memo,
            )
            return self.post((entry,))[0]

    def get_entry(self, entry_id: str) -> JournalEntry:
        entry = self._by_id.get(entry_id)
        if entry is None:
            raise NotFound("entry", entry_id)
        return entry

    def find_by_key(self, idempotency_key: str) -> JournalEntry | None:
        return self._by_key.get(idempotency_key)

    def reversal_of(self, entry_id: str) -> JournalEntry | None:
        reversal_id = self._reversed_by.get(entry_id)
        return None if reversal_id is None else self._by_id[reversal_id]

    def entries(self) -> Iterator[JournalEntry]:
        return iter(tuple(self._entries))

    # -- balances and reports -------------------------------------------------------------------

    def _net_debit(self, codes: Sequence[str], currency: str, day: int, wanted: Dimensions) -> int:
        with self._lock:  # reads index lazily and may rebuild a series: one thread at a time
            if wanted:
                postings = self._postings(codes, currency, wanted)
                return sum(
                    leg.signed_minor for e, leg in postings if e.accounting_date.toordinal() <= day
                )
            self._catch_up_series()
            net = 0
            for code in codes:
                series = self._series.get((code, currency))
                if series is not None:
                    debit, credit = series.totals_as_of(day)
                    net += debit - credit
            return net

    def _postings(
        self, codes: Sequence[str], currency: str, wanted: Dimensions
    ) -> Iterator[tuple[JournalEntry, Leg]]:
        """(entry, leg) for legs on ``codes`` in ``currency`` carrying ``wanted``, any date.

        Candidates come from the shortest index list (a dimension's, or the subjects'); an entry
        listed under two subjects of the subtree is visited once.
        """
        if wanted:
            self._catch_up_dimensions()
            candidates = min((self._by_dimension.get(pair, []) for pair in wanted), key=len)
        else:
            self._catch_up_subjects()
            candidates = [e for code in codes for e in self._by_subject.get(code, ())]
        subtree = set(codes)
        seen: set[str] = set()
        for entry in candidates:
            if entry.entry_id in seen:
                continue
            seen.add(entry.entry_id)
            for leg in entry.legs:
                if (
                    leg.subject_code in subtree
                    and leg.amount.currency == currency
                    and _matches(leg.dimensions, wanted)
                ):
                    yield entry, leg

    def balance(
        self, subject_code: str, currency: str, *, as_of: date, dimensions: DimensionsLike = None
    ) -> Money:
        subject = self._chart.get(subject_code)
        codes = self._chart.subtree_codes(subject_code)
        net = self._net_debit(codes, currency, as_of.toordinal(), dimensions_of(dimensions))
        return in_normal_side(net, subject, currency)

    def trial_balance(self, *, as_of: date) -> TrialBalance:
        day = as_of.toordinal()
        with self._lock:
            self._catch_up_series()
            rows = [
                (code, currency, *series.totals_as_of(day))
                for (code, currency), series in self._series.items()
            ]
        return trial_balance_of(as_of, rows)

    def general_ledger(
        self,
        subject_code: str,
        currency: str,
        *,
        start: date,
        end: date,
        dimensions: DimensionsLike = None,
    ) -> GeneralLedger:
        subject = self._chart.get(subject_code)
        codes = self._chart.subtree_codes(subject_code)
        wanted = dimensions_of(dimensions)
        with self._lock:  # opening and lines from one consistent state
            opening = self._net_debit(codes, currency, start.toordinal() - 1, wanted)
            self._catch_up_subjects()
            seq = self._seq
            selected = sorted(
                (
                    (entry.accounting_date, seq[entry.entry_id], i, entry, leg)
                    for i, (entry, leg) in enumerate(self._postings(codes, currency, wanted))
                    if start <= entry.accounting_date <= end
                ),
                key=lambda row: row[:3],
            )
        return general_ledger_of(
            subject,
            currency,
            start=start,
            end=end,
            opening_net_debit_minor=opening,
            postings=[(entry, leg) for _, _, _, entry, leg in selected],
        )

    # -- period close ---------------------------------------------------------------------------

    def closed_through(self) -> date | None:
        return self._closed_through

    def close_period(self, through: date) -> None:
        with self._lock:
            new = next_closed_through(self._closed_through, through)
            if new != self._closed_through:
                self._closed_through = new
                self._closes.append((new, len(self._entries)))

    def period_closes(self) -> tuple[tuple[date, int], ...]:
        return tuple(self._closes)

    # -- memo registers -------------------------------------------------------------------------

    def post_memo(self, postings: Sequence[MemoPosting]) -> tuple[MemoPosting, ...]:
        with self._lock:
            plan = plan_memo_batch(postings, find_by_key=self._memo_by_key.get)
            issues = check_memo_batch(
                plan.new,
                closed_through=self._closed_through,
                find_posting=self._memo_by_id.get,
                memo_balance=self._memo_minor,
            )
            require_no_issues(issues)
            for posting in plan.new:
                self._memo.append(posting)
                self._memo_by_id[posting.posting_id] = posting
                self._memo_by_key[posting.idempotency_key] = posting
            return plan.results

    def _memo_minor(
        self, register: MemoRegister, currency: str, wanted: Dimensions, as_of: date
    ) -> int:
        return sum(
            p.signed_minor
            for p in self._memo
            if p.register is register
            and p.amount.currency == currency
            and p.accounting_date <= as_of
            and _matches(p.dimensions, wanted)
        )

    def memo_balance(
        self,
        register: MemoRegister,
        currency: str,
        *,
        as_of: date,
        dimensions: DimensionsLike = None,
    ) -> Money:
        minor = self._memo_minor(MemoRegister(register), currency, dimensions_of(dimensions), as_of)
        return Money.from_minor(minor, currency)

    def memo_postings(self) -> Iterator[MemoPosting]:
        return iter(tuple(self._memo))

    # -- unit of work -------------------------------------------------------------------------

    def _checkpoint(self) -> object:
        """The complete booked state (containers copied, values shared: they are immutable), for
        :class:`~loancore.adapters.memory.uow.MemoryUnitOfWork`'s rollback. The read indexes are
        not copied: :meth:`_restore` empties them and they catch up from the journal."""
        with self._lock:
            return (
                self._chart,
                self._entries[:],
                dict(self._by_id),
                dict(self._by_key),
                dict(self._reversed_by),
                self._closed_through,
                self._closes[:],
                self._memo[:],
                dict(self._memo_by_id),
                dict(self._memo_by_key),
            )

    def _restore(self, checkpoint: object) -> None:
        """Put back the state :meth:`_checkpoint` returned; the read indexes rebuild lazily."""
        saved = cast(_Checkpoint, checkpoint)
        with self._lock:
            self._chart, self._closed_through = saved[0], saved[5]
            self._entries, self._closes, self._memo = saved[1][:], saved[6][:], saved[7][:]
            self._by_id, self._by_key = dict(saved[2]), dict(saved[3])
            self._reversed_by = dict(saved[4])
            self._memo_by_id, self._memo_by_key = dict(saved[8]), dict(saved[9])
            self._series, self._by_subject, self._by_dimension, self._seq = {}, {}, {}, {}
            self._indexed = dict.fromkeys(self._indexed, 0)


_Checkpoint = tuple[
    Chart,
    list[JournalEntry],
    dict[str, JournalEntry],
    dict[str, JournalEntry],
    dict[str, str],
    date | None,
    list[tuple[date, int]],
    list[MemoPosting],
    dict[str, MemoPosting],
    dict[str, MemoPosting],
]
"""What :meth:`MemoryLedgerStore._checkpoint` returns (for the unit of work's rollback)."""
