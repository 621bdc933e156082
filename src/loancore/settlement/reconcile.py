"""Reconciliation of a batch with the channel's result file.

Each row is matched to the batch's payment instruction by batch id and line id:

- a row for an instruction, same amount, ``SUCCESS``: **confirmed**, booked Dr clearing, Cr bank;
- the same with ``FAILED``: **failed**, booked Dr clearing, Cr merchant payable, and returned as
  a :class:`~loancore.settlement.model.Retry` the next run pays;
- a **mismatch** is reported and books nothing: another batch's id, a line id not in the batch
  (or with nothing to pay), an amount other than the instruction's, or a line id in more than
  one row (every row of that line is a mismatch: which one the channel meant is unknown);
- a row for a line the caller says an earlier file already settled (``settled``) is a
  mismatch too: a line confirmed once and failed later (or the reverse) needs a person;
- an instruction without a row stays **outstanding** (a later file may settle it).

Entry ids and keys derive from the line id, so importing the same file twice books once.
"""

from __future__ import annotations

import datetime
import enum
from collections import Counter
from collections.abc import Iterable

import attrs

from loancore.checks import require_date
from loancore.ledger.entries import JournalEntry
from loancore.postings import DEFAULT_MAPPING, SubjectMapping
from loancore.settlement.booking import confirmed_entries, failed_entries
from loancore.settlement.files import PayoutStatus, ResultRow
from loancore.settlement.model import PaymentInstruction, Retry, SettlementBatch

__all__ = ["Mismatch", "MismatchKind", "Reconciliation", "reconcile"]


class MismatchKind(str, enum.Enum):
    """Why a row of a result file was not booked (persisted by value)."""

    WRONG_BATCH = "wrong_batch"
    UNKNOWN_LINE = "unknown_line"
    AMOUNT = "amount"
    DUPLICATE_LINE = "duplicate_line"
    ALREADY_SETTLED = "already_settled"


@attrs.frozen(kw_only=True)
class Mismatch:
    """A row the reconciliation refused to book, with the row's line number and why."""

    kind: MismatchKind
    line_number: int
    line_id: str
    detail: str


@attrs.frozen(kw_only=True)
class Reconciliation:
    """The outcome of one result file against one batch."""

    batch_id: str
    confirmed: tuple[PaymentInstruction, ...]
    failed: tuple[PaymentInstruction, ...]
    mismatches: tuple[Mismatch, ...]
    outstanding: tuple[PaymentInstruction, ...]
    entries: tuple[JournalEntry, ...]
    retries: tuple[Retry, ...]


def _mismatch(
    row: ResultRow,
    batch: SettlementBatch,
    counts: Counter[str],
    instruction: PaymentInstruction | None,
    settled: frozenset[str],
) -> Mismatch | None:
    kind: MismatchKind | None = None
    if row.batch_id != batch.batch_id:
        kind, detail = MismatchKind.WRONG_BATCH, f"batch {row.batch_id!r}, not {batch.batch_id!r}"
    elif counts[row.line_id] > 1:
        kind, detail = MismatchKind.DUPLICATE_LINE, f"{counts[row.line_id]} rows for this line"
    elif instruction is None:
        kind, detail = MismatchKind.UNKNOWN_LINE, "no payment instruction with this line id"
    elif row.amount != instruction.amount:
        kind, detail = MismatchKind.AMOUNT, f"{row.amount}, instructed {instruction.amount}"
    elif row.line_id in settled:
        kind, detail = MismatchKind.ALREADY_SETTLED, f"{row.status.value} for a settled line"
    if kind is None:
        return None
    return Mismatch(kind=kind, line_number=row.line_number, line_id=row.line_id, detail=detail)


def reconcile(
    batch: SettlementBatch,
    rows: Iterable[ResultRow],
    *,
    booked_on: datetime.date,
    settled: Iterable[str] = (),
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Reconciliation:
    """Match ``rows`` (from :func:`~loancore.settlement.files.parse_result_csv`) to ``batch``;
    confirmed and failed lines are booked on ``booked_on``; ``settled`` holds the line ids that
    earlier files confirmed or failed (module docstring)."""
    require_date("booked_on", booked_on)
    done = frozenset(settled)
    items = tuple(rows)
    by_line = {i.line_id: i for i in batch.instructions}
    counts = Counter(row.line_id for row in items if row.batch_id == batch.batch_id)
    confirmed: list[PaymentInstruction] = []
    failed: list[PaymentInstruction] = []
    mismatches: list[Mismatch] = []
    for row in items:  # bounded by the parsed file (RESULT_ROWS_MAX)
        instruction = by_line.get(row.line_id)
        problem = _mismatch(row, batch, counts, instruction, done)
        if problem is not None:
            mismatches.append(problem)
        elif instruction is not None:
            (confirmed if row.status is PayoutStatus.SUCCESS else failed).append(instruction)
    answered = {row.line_id for row in items if row.batch_id == batch.batch_id}
    outstanding = tuple(
        i for i in batch.instructions if i.line_id not in answered and i.line_id not in done
    )
    entries = [
        e
        for i in sorted(confirmed, key=lambda i: i.line_id)
        for e in confirmed_entries(i.line_id, i.merchant_id, booked_on, i.amount, mapping)
    ]
    entries += [
        e
        for i in sorted(failed, key=lambda i: i.line_id)
        for e in failed_entries(i.line_id, i.merchant_id, booked_on, i.amount, mapping)
    ]
    retries = tuple(
        Retry(line_id=i.line_id, merchant_id=i.merchant_id, amount=i.amount)
        for i in sorted(failed, key=lambda i: i.line_id)
    )
    return Reconciliation(
        batch_id=batch.batch_id,
        confirmed=tuple(sorted(confirmed, key=lambda i: i.line_id)),
        failed=tuple(sorted(failed, key=lambda i: i.line_id)),
        mismatches=tuple(mismatches),
        outstanding=outstanding,
        entries=tuple(entries),
        retries=retries,
    )
