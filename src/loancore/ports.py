"""Ports: the Protocols services need from the outside world (stores, the unit of work).

UnitOfWork contract
===================

A use case is one :class:`UnitOfWork` (cosmicpython's pattern)::

    with uow:
        uow.quota.apply(Hold(...), as_of=today)
        uow.ledger.post([entry])
        uow.commit()

- ``with uow:`` opens ONE transaction and hands out every store (``uow.loans``,
  ``uow.settlement``, ``uow.quota``, ``uow.ledger``) bound to it.
- ``uow.commit()`` makes all of it durable at once. Leaving the block without it (an exception, a
  :class:`~loancore.errors.Rejected` refusal raised by a store, a ``return``) leaves every store
  exactly as it was before ``with``. ``uow.rollback()`` undoes explicitly. After either, the
  stores refuse further use (:class:`~loancore.errors.InvariantViolation`) until the next
  ``with uow:``, which opens a new transaction.
- Lock order: writes go loans, then settlement, then quota, then the ledger (:data:`LOCK_ORDER`). A write to a
  store earlier in the order after a write to a later one raises InvariantViolation before it
  touches anything, so no two units of work can wait on each other in a cycle; the ledger's
  writer lock (shared among posts on PostgreSQL), taken last, is held only for the ledger step
  and the commit. Reads lock nothing and
  may come in any order.
- A store operation that raises inside the block undoes only itself (a SQL SAVEPOINT, the memory
  stores' own all-or-nothing checks): a batch that catches a ``Rejected`` per item may go on and
  commit the items that were accepted.
- Implementations: :class:`~loancore.adapters.memory.uow.MemoryUnitOfWork` (serialises units of
  work, restores checkpoints on rollback) and :class:`~loancore.adapters.sql.uow.SqlUnitOfWork`
  (SQLite, PostgreSQL; joins an application's Connection in a SAVEPOINT). docs/architecture.md
  has the layers and the reasons.

LedgerStore contract
====================

Every ledger store (memory, SQLite, PostgreSQL) implements :class:`LedgerStore` and passes the
same conformance suite (``tests/ledger/``). What a store must guarantee:

Atomicity
    ``post``, ``reverse``, ``post_memo``, ``close_period`` and ``save_chart`` either do all of
    their work or none. A batch of 100 entries with one bad entry books nothing and raises. A SQL
    store runs each call in one transaction (or inside the caller's, when it was handed an open
    connection) and relies on the database for crash safety; the memory store validates
    everything before touching its state.

What a store checks inside its transaction (in this order, under the ledger's writer lock: on
SQLite ``BEGIN IMMEDIATE``, which serialises writers; on PostgreSQL, since ledger schema 5, a
transaction-level advisory lock taken in SHARED mode by posts, so writers run side by side while
the idempotency keys are UNIQUE and the running totals spread over per-writer slots, and in
EXCLUSIVE mode by a period close or a chart change; docs/storage.md, docs/scaling.md):

1. Idempotency: :func:`loancore.ledger.rules.plan_batch` with ``find_by_key`` reading the store.
   Same key + same content (:meth:`JournalEntry.content`: everything but the entry id) -> the
   ORIGINAL booked entry is returned in that position and nothing is posted for it. Same key +
   different content -> :class:`~loancore.errors.IdempotencyConflict` and nothing of the batch is
   posted. A key repeated inside one batch with the same content is booked once.
2. Posting rules: :func:`loancore.ledger.rules.check_batch` over the new entries with the stored
   chart and closed-through date; ``require_no_issues`` raises
   :class:`~loancore.errors.PostingRejected` listing every issue (unbalanced per currency, zero or
   negative leg, a leg above ``AMOUNT_MINOR_MAX``, a currency's running debit total above
   ``TOTAL_MINOR_MAX``, unknown subject, a subject with sub-accounts (postings go to leaves),
   subject not open on the accounting date, accounting date in the closed period, entry id
   already used, reversal of an unknown or already-reversed entry, reversal legs not mirroring the
   original). Off-scale amounts never get this far: :class:`~loancore.money.Money` refuses them.
   ``entries`` is any sequence of entries; a single entry, a generator or anything else raises
   InvalidInput, on every store alike.
3. Book the new entries with their legs in order (amounts as integer minor units + currency),
   keep the reversal link (an entry can be reversed at most once; SQL: unique ``reverses``).

Memo registers follow the same three steps with ``plan_memo_batch`` / ``check_memo_batch``.
Unique constraints (entry id, idempotency key, memo posting id) back these checks in SQL, so a
race between two writers ends in one booking and one replay or conflict, never two bookings.

Reading
    Balances are as of an accounting date, inclusive, rolled up over the subject's sub-accounts
    (``Chart.subtree_codes``), in one currency, optionally filtered by dimensions (a leg matches
    when it carries every requested ``(key, value)``), and expressed on the subject's normal side
    (:func:`loancore.ledger.reports.in_normal_side`). Entries come back exactly as posted (same
    legs, same order, same dimensions). Ordering of entries is posting order; ledger detail is
    ordered by accounting date, then posting order.

Period close
    ``close_period(through)`` moves the closed-through date forward
    (:func:`loancore.ledger.rules.next_closed_through`); afterwards no entry or memo posting dated
    on or before it can be booked (reversals of old entries are dated in the open period).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import attrs

from loancore.delinquency.daily import LoanStanding
from loancore.ledger.entries import DimensionsLike, JournalEntry, MemoPosting, MemoRegister
from loancore.ledger.reports import GeneralLedger, TrialBalance
from loancore.ledger.subjects import Chart
from loancore.money import Money
from loancore.quota import (
    Command,
    LineBalance,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaIssue,
    QuotaLine,
    QuotaResult,
    QuotaSnapshot,
)
from loancore.servicing import (
    CreditLineAccount,
    CreditLineProduct,
    LineQuotaEffect,
    Loan,
    LoanProduct,
    Statement,
)
from loancore.settlement import (
    Capture,
    CommissionTerms,
    Deduction,
    FundingShare,
    MerchantTerms,
    SettlementBatch,
)
from loancore.settlement.records import ChannelFileRecord, LineStatus, SettlementInputs

__all__ = [
    "LOCK_ORDER",
    "LedgerStore",
    "LineRecord",
    "LoanStore",
    "QuotaStore",
    "SettlementStore",
    "StoredLine",
    "UnitOfWork",
]

LOCK_ORDER: tuple[str, ...] = ("loans", "settlement", "quota", "ledger")
"""The order in which a unit of work may write (and so lock) its stores: loan rows, then
settlement rows (orders, batches, a merchant's carry-forward), then quota lines, then the ledger.
A store added to the unit of work takes its place here by name (docs/architecture.md, "Lock
order", says why each one sits where it does)."""


@attrs.frozen(kw_only=True)
class StoredLine:
    """A credit-line account as a :class:`LoanStore` keeps it: the account, its optimistic
    ``version`` (1 when added, one more per event) and the customer it belongs to."""

    account: CreditLineAccount
    version: int
    customer_id: str


@attrs.frozen(kw_only=True)
class LineRecord:
    """What one event did to a credit-line account, as the store keeps it (a replayed event id
    returns it): the event's id, date and kind (``draw``, ``repay``, ``accrue``,
    ``refund_credit``, ``close_statement``, ``waive``, ``reverse_payment``, ``write_off``), the
    account ``version`` the event produced, the ids
    of the journal entries posted, the quota effects applied and the numbers of the statements
    the event closed on its way."""

    event_id: str
    as_of: date
    kind: str
    version: int
    entry_ids: tuple[str, ...]
    quota_effects: tuple[LineQuotaEffect, ...]
    statements: tuple[int, ...]


@runtime_checkable
class LedgerStore(Protocol):
    """The book of record: chart, journal entries, memo registers, period close."""

    # -- chart ----------------------------------------------------------------------------------

    def load_chart(self) -> Chart:
        """The stored chart (an empty chart if none was saved)."""
        ...

    def save_chart(self, chart: Chart) -> None:
        """Replace the stored chart with ``chart``, atomically.

        Subjects may be added and their names, parents or open/close dates changed, as long as
        booked entries keep their meaning (:func:`loancore.ledger.rules.check_chart_change`): a
        subject that has postings may not be removed, change its kind or normal side, gain
        sub-accounts, open after its first posting or close before its last (each raises
        :class:`~loancore.errors.InvalidInput` naming it, and nothing changes).
        """
        ...

    # -- journal --------------------------------------------------------------------------------

    def post(self, entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
        """Book ``entries`` atomically (see the module docstring for the checks).

        Returns one entry per input, in order: the booked entry, or for a replayed key the
        original. Raises IdempotencyConflict or PostingRejected; then nothing was booked.
        """
        ...

    def reverse(
        self,
        entry_id: str,
        *,
        reversal_id: str,
        idempotency_key: str,
        accounting_date: date,
        memo: str | None = None,
    ) -> JournalEntry:
        """Book the reversal of ``entry_id`` (:func:`loancore.ledger.entries.reversal_of`) in one
        transaction; same idempotency as :meth:`post`. Unknown entry -> PostingRejected
        (ENTRY_UNKNOWN); already reversed -> PostingRejected (ENTRY_ALREADY_REVERSED)."""
        ...

    def get_entry(self, entry_id: str) -> JournalEntry:
        """The booked entry; :class:`~loancore.errors.NotFound` if there is none."""
        ...

    def find_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry booked under ``idempotency_key``, or None."""
        ...

    def reversal_of(self, entry_id: str) -> JournalEntry | None:
        """The entry that reverses ``entry_id``, or None."""
        ...

    def entries(self) -> Iterator[JournalEntry]:
        """Every booked entry in posting order (for audits and exports)."""
        ...

    # -- balances and reports -------------------------------------------------------------------

    def balance(
        self, subject_code: str, currency: str, *, as_of: date, dimensions: DimensionsLike = None
    ) -> Money:
        """Balance of ``subject_code`` and its sub-accounts on accounting dates <= ``as_of``, on
        the subject's normal side, for legs carrying all of ``dimensions``. Unknown subject ->
        NotFound. No postings -> zero."""
        ...

    def trial_balance(self, *, as_of: date) -> TrialBalance:
        """Debit and credit totals of every posted subject and currency up to ``as_of``
        (:func:`loancore.ledger.reports.trial_balance_of`)."""
        ...

    def general_ledger(
        self,
        subject_code: str,
        currency: str,
        *,
        start: date,
        end: date,
        dimensions: DimensionsLike = None,
    ) -> GeneralLedger:
        """Detail of ``subject_code`` (rolled up) over ``start..end`` inclusive
        (:func:`loancore.ledger.reports.general_ledger_of`)."""
        ...

    # -- period close ---------------------------------------------------------------------------

    def closed_through(self) -> date | None:
        """The last closed accounting date, or None if no period was closed."""
        ...

    def close_period(self, through: date) -> None:
        """Close every accounting date up to ``through`` inclusive (forward only).

        Closing the current closed-through date again is a no-op (not logged twice); an earlier
        date raises InvalidInput. Each close that moves the date is logged (:meth:`period_closes`).
        """
        ...

    def period_closes(self) -> tuple[tuple[date, int], ...]:
        """The close log, oldest first: ``(through, entries_booked)`` per close, where
        ``entries_booked`` is how many journal entries were booked when the close happened (so an
        audit can tell an entry booked before a close from one slipped into a closed period)."""
        ...

    # -- memo registers -------------------------------------------------------------------------

    def post_memo(self, postings: Sequence[MemoPosting]) -> tuple[MemoPosting, ...]:
        """Book memo postings atomically; idempotency and rejections as for :meth:`post`."""
        ...

    def memo_balance(
        self,
        register: MemoRegister,
        currency: str,
        *,
        as_of: date,
        dimensions: DimensionsLike = None,
    ) -> Money:
        """Increases minus decreases on dates <= ``as_of`` for postings carrying ``dimensions``."""
        ...

    def memo_postings(self) -> Iterator[MemoPosting]:
        """Every memo posting in posting order."""
        ...


@runtime_checkable
class QuotaStore(Protocol):
    """Revolving credit quota: lines, holds and the quota journal (docs/quota.md).

    Implemented by :class:`~loancore.adapters.memory.quota.MemoryQuotaStore` and
    :class:`~loancore.adapters.sql.quota.SqlQuotaStore`; one suite (``tests/quota/``) runs against
    both. ``apply`` is atomic: it loads what the command touches (locking the master line before
    the sub-line, then writing the journal last), checks the idempotency key, lets
    :func:`loancore.quota.decide` decide, and writes the new state and the journal events together.

    Refusals follow the library's one convention (:mod:`loancore.errors`): a refused command
    raises :class:`~loancore.errors.QuotaRejected` carrying its ``RejectionCode`` (docs/quota.md
    gives the order of the checks, hence which code wins when several apply); it changes nothing
    and is NOT recorded, so its key stays free and a retry is judged afresh. An accepted key
    applied again returns the first :class:`~loancore.quota.QuotaResult` (``replayed`` True) and
    changes nothing; the same key with another command raises IdempotencyConflict.
    """

    config: QuotaConfig

    def apply(self, command: Command, *, as_of: date) -> QuotaResult:
        """Apply one quota command as of the business date ``as_of``; return the accepted result
        or raise :class:`~loancore.errors.QuotaRejected`."""
        ...

    def apply_many(self, commands: Sequence[Command], *, as_of: date) -> tuple[QuotaResult, ...]:
        """Apply ``commands`` in order as one atomic step: the results ``apply`` would return
        one after the other, or the first refusal (or error) raised and nothing changed."""
        ...

    def result(self, key: str) -> QuotaResult | None:
        """The result stored under idempotency key ``key``, or None."""
        ...

    def line(self, line_id: str) -> QuotaLine:
        """The line's terms; NotFound if there is none."""
        ...

    def balance(self, line_id: str) -> LineBalance:
        """The line's used, held and frozen amounts (minor units); NotFound if there is none."""
        ...

    def hold(self, hold_id: str) -> QuotaHold:
        """The hold placed by the Hold with key ``hold_id``; NotFound if there is none."""
        ...

    def holds(self, hold_ids: Sequence[str]) -> dict[str, QuotaHold]:
        """The holds of ``hold_ids`` (at most :data:`~loancore.quota.HOLDS_READ_MAX`) by key,
        read at once: what :meth:`hold` returns for each key, in the order given; a key that
        placed no hold is left out (not an error: :meth:`hold` says NotFound)."""
        ...

    def available(self, line_id: str, *, as_of: date) -> Money:
        """Available on the line as of ``as_of``, bound by its master's."""
        ...

    def lines(self, *, borrower_id: str | None = None) -> tuple[QuotaLine, ...]:
        """Every line (of one borrower), in line id order."""
        ...

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]:
        """The line's open holds, in hold id order."""
        ...

    def line_ids_with_expired_holds(self, *, as_of: date) -> tuple[str, ...]:
        """Lines with an open hold whose expiry is before ``as_of``."""
        ...

    def journal(self) -> Iterator[QuotaEvent]:
        """Every quota journal event in order."""
        ...

    def snapshot(self) -> QuotaSnapshot:
        """The stored lines, balances and holds."""
        ...

    def check(self) -> tuple[QuotaIssue, ...]:
        """Differences between the journal's rebuild and the stored state; empty when sound."""
        ...


@runtime_checkable
class LoanStore(Protocol):
    """Loans and the product versions they were booked under (docs/storage.md, "Loans").

    Implemented by :class:`~loancore.adapters.memory.loans.MemoryLoanStore` and
    :class:`~loancore.adapters.sql.loans.SqlLoanStore`; ``tests/loans/`` runs one suite on both.
    A loan is stored whole and comes back equal (``load(save(loan)) == loan``).

    Optimistic concurrency: :meth:`update` writes ``loan`` only if the stored loan is still at
    ``expected_version`` (the version the caller loaded); otherwise it raises
    :class:`~loancore.errors.ConcurrentUpdate` and changes nothing, and the caller loads again and
    retries. Writes are ``save_product``, ``add``, ``update``, ``update_many``,
    ``save_standings``, ``save_line_product``, ``add_line``, ``update_line`` and ``update_lines``
    (:data:`LOCK_ORDER`: first).

    Revolving credit-line accounts (:class:`~loancore.servicing.CreditLineAccount`) and their
    products live here too, under the same lock position, with the same optimistic versions
    (:class:`StoredLine`), a :class:`LineRecord` per event applied and the statements closed.
    """

    def save_product(self, toml_text: str) -> LoanProduct:
        """Store the product the TOML text describes (:func:`loancore.servicing.product_from_toml`)
        under its ``(product_id, version)``; the same version again with the same content is a
        no-op, with other content :class:`~loancore.errors.IdempotencyConflict` (a version, once
        loans are booked under it, never changes)."""
        ...

    def product(self, product_id: str, version: int) -> LoanProduct:
        """The stored product version; NotFound if there is none."""
        ...

    def add(self, loan: Loan, *, customer_id: str) -> None:
        """Store a new loan of ``customer_id``; an existing loan id raises IdempotencyConflict
        unless the stored loan is equal (a replayed booking)."""
        ...

    def load(self, loan_id: str) -> Loan:
        """The stored loan; NotFound if there is none."""
        ...

    def update(self, loan: Loan, *, expected_version: int) -> None:
        """Replace the stored loan (same id) if it is still at ``expected_version``; else
        ConcurrentUpdate. NotFound if there is no such loan."""
        ...

    def load_many(self, loan_ids: Sequence[str]) -> dict[str, Loan]:
        """The stored loans of ``loan_ids`` (at most 10,000; duplicates allowed) by id, read at
        once (a batch's loans); NotFound for the first id in order that has none."""
        ...

    def versions(self, loan_ids: Sequence[str]) -> dict[str, int]:
        """The stored version of each loan of ``loan_ids`` (at most 10,000; duplicates
        allowed) by id, without reading the loans (a check that what was decided on is still
        current); NotFound for the first id in order that has none."""
        ...

    def update_many(self, updates: Sequence[tuple[Loan, int]]) -> None:
        """:meth:`update` of each ``(loan, expected_version)`` (at most 10,000, one per loan
        id), written at once and all or nothing: the first loan in order that is not
        stored raises NotFound, or is no longer at its expected version ConcurrentUpdate, and
        then nothing is written."""
        ...

    def prepare_updates(self, loans: Sequence[Loan]) -> None:
        """Do now the work a later :meth:`update_many` (or :meth:`update`) of these very loan
        objects, in a unit of work of this thread, would do before writing (at most 10,000):
        a batch decided in one unit of work and written in the next prepares its changed loans
        before the second takes the writer's lock. Stores nothing and changes no result; a loan
        written without it, or another object equal to it, is simply encoded when written (the
        SQL store encodes the documents here; the memory store has nothing to do)."""
        ...

    def customer_loans(self, customer_id: str) -> tuple[str, ...]:
        """The ids of ``customer_id``'s loans, in id order."""
        ...

    def loan_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        """Up to ``limit`` loan ids greater than ``after``, in id order (for batches)."""
        ...

    def load_standings(self, loan_ids: Sequence[str]) -> dict[str, LoanStanding]:
        """The end-of-day standings stored for ``loan_ids`` (at most 10,000) by loan id; a loan
        without one is left out (it was never closed)."""
        ...

    def save_standings(self, standings: Sequence[LoanStanding]) -> None:
        """Store each standing (at most 10,000, one per loan or credit-line account, by id),
        replacing the previous one; NotFound (nothing written) if no loan or account has the
        id."""
        ...

    def loans_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        """Up to ``limit`` ids greater than ``after``, in id order, of active loans whose
        standing is missing or closed before ``through`` (the end-of-day batch's work)."""
        ...

    def standings(self, *, after: str = "", limit: int = 1000) -> tuple[LoanStanding, ...]:
        """Up to ``limit`` stored standings of loan ids greater than ``after``, in id order."""
        ...

    # -- revolving credit lines (docs/servicing.md, "Stored credit lines") ----------------------

    def save_line_product(self, toml_text: str) -> CreditLineProduct:
        """Store the credit-line product the TOML describes
        (:func:`loancore.servicing.credit_line_product_from_toml`) under its ``(product_id,
        version)``; the same content again is a no-op, other content IdempotencyConflict."""
        ...

    def line_product(self, product_id: str, version: int) -> CreditLineProduct:
        """The stored credit-line product version; NotFound if there is none."""
        ...

    def add_line(self, account: CreditLineAccount, *, customer_id: str) -> None:
        """Store a new credit-line account of ``customer_id`` at version 1; an existing account
        id raises IdempotencyConflict unless the stored account and customer are equal."""
        ...

    def load_line(self, account_id: str) -> StoredLine:
        """The stored account with its version; NotFound if there is none."""
        ...

    def load_lines(self, account_ids: Sequence[str]) -> dict[str, StoredLine]:
        """The stored accounts of ``account_ids`` (at most 10,000) by id, read at once;
        NotFound for the first id in order that has none."""
        ...

    def update_line(
        self,
        account: CreditLineAccount,
        *,
        expected_version: int,
        record: LineRecord,
        statements: Sequence[Statement] = (),
    ) -> None:
        """Replace the stored account (same id) if it is still at ``expected_version``, with
        ``record`` (its ``version`` must be ``expected_version + 1``) and the ``statements``
        the event closed, all or nothing. ConcurrentUpdate if the version moved, NotFound if
        there is no such account, IdempotencyConflict if the record's event id or a statement
        number is already stored for the account."""
        ...

    def update_lines(
        self, updates: Sequence[tuple[CreditLineAccount, int, LineRecord, Sequence[Statement]]]
    ) -> None:
        """:meth:`update_line` of each ``(account, expected_version, record, statements)`` (at
        most 10,000, one per account id), written at once (a day close's chunk) and all or
        nothing: the first refusal in order (NotFound, ConcurrentUpdate, IdempotencyConflict)
        is raised and nothing is written."""
        ...

    def line_record(self, account_id: str, event_id: str) -> LineRecord | None:
        """The record of ``event_id`` applied to the account, or None."""
        ...

    def line_statements(self, account_id: str) -> tuple[Statement, ...]:
        """Every statement closed on the account, by number (empty for an unknown account)."""
        ...

    def line_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        """Up to ``limit`` account ids greater than ``after``, in id order."""
        ...

    def lines_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        """Up to ``limit`` ids greater than ``after``, in id order, of the accounts whose last
        date is before ``through``, or whose standing is missing or closed before it (the line
        day close's work)."""
        ...

    def quota_line_accounts(self, line_id: str) -> tuple[str, ...]:
        """The ids of the accounts drawing on quota line ``line_id``, in id order."""
        ...


@runtime_checkable
class SettlementStore(Protocol):
    """Merchant terms, captured orders, refunds and chargebacks, settlement batches with their
    line statuses, carry-forward, retries of failed payouts and imported channel files
    (docs/storage.md, "Settlement"; docs/settlement.md, "Stored settlement").

    Implemented by :class:`~loancore.adapters.memory.settlement.MemorySettlementStore` and
    :class:`~loancore.adapters.sql.settlement.SqlSettlementStore`; ``tests/settlement/`` runs one
    suite on memory, SQLite and PostgreSQL. Amounts are stored as integer minor units. Every
    write checks all it needs before changing anything; replaying a write with the same content
    is a no-op, with other content :class:`~loancore.errors.IdempotencyConflict`. Writes are
    ``save_terms``, ``add_captures``, ``add_deductions``, ``save_batch`` and ``save_file``
    (:data:`LOCK_ORDER`: after loans, before quota).
    """

    def save_terms(self, channel: str, terms: MerchantTerms) -> None:
        """Store (or replace) the merchant's terms and the channel that pays it."""
        ...

    def add_captures(self, captures: Sequence[Capture]) -> None:
        """Store captured orders, not yet settled; each merchant must have terms."""
        ...

    def add_deductions(self, deductions: Sequence[Deduction]) -> None:
        """Store refunds and chargebacks, not yet settled; each merchant must have terms."""
        ...

    def save_batch(self, batch: SettlementBatch) -> None:
        """Store a run's batch: its lines (status ``instructed`` when the line pays, else
        ``nothing_to_pay``), each line's orders, deductions and retries marked settled by it
        (InvariantViolation if one is unknown or already settled: nothing is stored), and each
        merchant's carry-forward set to its line's ``carried_out``."""
        ...

    def save_file(self, record: ChannelFileRecord) -> None:
        """Store an imported result file: its confirmed lines become ``confirmed``, its failed
        lines ``failed`` with a pending Retry each (InvariantViolation unless each was
        ``instructed``: nothing is stored)."""
        ...

    def channel_terms(self, channel: str) -> Mapping[str, MerchantTerms]:
        """The terms of every merchant the channel pays, by merchant id."""
        ...

    def pending(self, channel: str) -> SettlementInputs:
        """What a run of ``channel`` reads: its merchants' terms, their unsettled captures and
        deductions, non-zero carry-forward and pending retries."""
        ...

    def batch(self, batch_id: str) -> SettlementBatch | None:
        """The stored batch, equal to the one saved; None if there is none."""
        ...

    def line_statuses(self, batch_id: str) -> Mapping[str, LineStatus]:
        """Each line of the batch with its status, by line id (empty for an unknown batch)."""
        ...

    def merchant_batches(
        self, merchant_id: str, period_start: date, period_end: date
    ) -> tuple[SettlementBatch, ...]:
        """The batches run in the period (both ends included) with a line for the merchant,
        by run date, each holding only that merchant's line and instruction."""
        ...

    def file(self, file_id: str) -> ChannelFileRecord | None:
        """The stored record of an imported file; None if there is none."""
        ...

    def carry_forward(self, merchant_id: str, currency: str) -> Money:
        """The merchant's carry-forward (signed: negative is a receivable from it)."""
        ...

    def merchant_payable(self, merchant_id: str, currency: str) -> Money:
        """What the lender owes the merchant by the store (negative: the merchant owes):
        unsettled captures - unsettled deductions + carry-forward + pending retries. Equal to
        the merchant's merchant-payable balance in the ledger (credit positive) when every
        capture and deduction was booked with it."""
        ...

    def merchant_channel(self, merchant_id: str) -> str | None:
        """The channel that pays the merchant; None when it has no terms (not settled here)."""
        ...

    def save_joint(self, loan_id: str, shares: Sequence[FundingShare]) -> None:
        """Store a joint loan's funders and ratios (the same again is a no-op, others
        IdempotencyConflict: a loan's funding does not change)."""
        ...

    def joint_shares(self, loan_ids: Sequence[str]) -> Mapping[str, tuple[FundingShare, ...]]:
        """The funders of each of ``loan_ids`` that is a joint loan, in their stored order."""
        ...

    def save_loan_commission(self, loan_id: str, terms: CommissionTerms) -> None:
        """Store the commission a platform earns on the loan (助贷; the same again is a no-op,
        other terms IdempotencyConflict)."""
        ...

    def loan_commissions(self, loan_ids: Sequence[str]) -> Mapping[str, CommissionTerms]:
        """The commission terms of each of ``loan_ids`` that has some."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """One transaction across every store (module docstring, "UnitOfWork contract").

    The stores are read-only attributes, valid between ``with uow:`` and ``commit()`` /
    ``rollback()``; adding a store to the unit of work is one property here and one entry in each
    implementation's table of stores (and its name in :data:`LOCK_ORDER`).
    """

    @property
    def ledger(self) -> LedgerStore:
        """The ledger store bound to this unit of work's transaction."""
        ...

    @property
    def quota(self) -> QuotaStore:
        """The quota store bound to this unit of work's transaction."""
        ...

    @property
    def loans(self) -> LoanStore:
        """The loan store bound to this unit of work's transaction."""
        ...

    @property
    def settlement(self) -> SettlementStore:
        """The settlement store bound to this unit of work's transaction."""
        ...

    def __enter__(self) -> Self:
        """Open the transaction (and, in memory, take the units of work lock)."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, release the transaction; never swallows."""
        ...

    def commit(self) -> None:
        """Make every write of this unit of work durable, at once."""
        ...

    def rollback(self) -> None:
        """Undo every write of this unit of work."""
        ...
