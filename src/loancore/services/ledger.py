"""Ledger: a thin facade over a :class:`~loancore.ports.LedgerStore` for application code, and
:func:`audit`, the validation passes over everything a store holds.

The facade adds nothing a store does not enforce; it gives callers one object with the
operations they use, single-entry conveniences, and the audit. It moved here from
``loancore.ledger.book``: it wraps a store, so it belongs to the shell, and the core
(``loancore.ledger``) never imports :mod:`loancore.ports`. Inside a unit of work, wrap the store
the unit of work hands out: ``Ledger(uow.ledger)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from loancore.checks import require_date
from loancore.errors import InvariantViolation
from loancore.ledger.entries import DimensionsLike, JournalEntry, MemoPosting, MemoRegister
from loancore.ledger.reports import GeneralLedger, TrialBalance
from loancore.ledger.rules import Issue
from loancore.ledger.subjects import Chart
from loancore.ledger.validation import validate
from loancore.money import Money
from loancore.ports import LedgerStore

__all__ = ["Ledger", "audit"]


def audit(store: LedgerStore) -> list[Issue]:
    """Every issue the pure validation passes (:func:`loancore.ledger.validation.validate`) find
    in everything ``store`` holds: its entries in posting order, chart, close log and memo
    postings. Empty for a healthy ledger."""
    return validate(
        store.entries(),
        chart=store.load_chart(),
        closes=store.period_closes(),
        memo_postings=store.memo_postings(),
    )


class Ledger:
    """``Ledger(store)``: post, reverse, look-ups, balances, reports, period close and audit."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    @property
    def chart(self) -> Chart:
        return self.store.load_chart()

    def post(self, *entries: JournalEntry) -> tuple[JournalEntry, ...]:
        """Book ``entries`` atomically (replays return the originals); see LedgerStore.post."""
        return self.store.post(entries)

    def reverse(
        self,
        entry_id: str,
        *,
        reversal_id: str,
        idempotency_key: str,
        accounting_date: date,
        memo: str | None = None,
    ) -> JournalEntry:
        """Book the reversal of ``entry_id``; see LedgerStore.reverse."""
        return self.store.reverse(
            entry_id,
            reversal_id=reversal_id,
            idempotency_key=idempotency_key,
            accounting_date=accounting_date,
            memo=memo,
        )

    def get_entry(self, entry_id: str) -> JournalEntry:
        """The booked entry ``entry_id``; NotFound if there is none."""
        return self.store.get_entry(entry_id)

    def find_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry booked under ``idempotency_key``, or None (a caller checking a retry)."""
        return self.store.find_by_key(idempotency_key)

    def entries(self) -> Iterator[JournalEntry]:
        """Every booked entry in posting order (exports, audits)."""
        return self.store.entries()

    def balance(
        self, subject_code: str, currency: str, *, as_of: date, dimensions: DimensionsLike = None
    ) -> Money:
        return self.store.balance(subject_code, currency, as_of=as_of, dimensions=dimensions)

    def trial_balance(self, *, as_of: date) -> TrialBalance:
        return self.store.trial_balance(as_of=as_of)

    def general_ledger(
        self,
        subject_code: str,
        currency: str,
        *,
        start: date,
        end: date,
        dimensions: DimensionsLike = None,
    ) -> GeneralLedger:
        return self.store.general_ledger(
            subject_code, currency, start=start, end=end, dimensions=dimensions
        )

    def post_memo(self, *postings: MemoPosting) -> tuple[MemoPosting, ...]:
        """Book memo (off-balance) postings atomically; see LedgerStore.post_memo."""
        return self.store.post_memo(postings)

    def memo_balance(
        self,
        register: MemoRegister,
        currency: str,
        *,
        as_of: date,
        dimensions: DimensionsLike = None,
    ) -> Money:
        return self.store.memo_balance(register, currency, as_of=as_of, dimensions=dimensions)

    def close_period(self, through: date) -> TrialBalance:
        """Close through ``through`` after checking the trial balance as of that date balances.

        Returns that trial balance (the period's closing report). An unbalanced trial balance
        means a store broke its contract: :class:`InvariantViolation`, and nothing is closed.
        """
        report = self.store.trial_balance(as_of=require_date("through", through))
        if not report.is_balanced():
            message = f"trial balance as of {through} does not balance; period not closed"
            raise InvariantViolation(message)
        self.store.close_period(through)
        return report

    def audit(self) -> list[Issue]:
        """Every issue the validation passes find in the store (empty for a healthy ledger)."""
        return audit(self.store)
