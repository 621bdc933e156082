"""MemorySettlementStore: the plain reference :class:`~loancore.ports.SettlementStore`.

Every value it keeps is immutable, so a checkpoint is a shallow copy of its dicts
(``_checkpoint`` / ``_restore`` serve :class:`~loancore.adapters.memory.uow.MemoryUnitOfWork`).
Every write checks all it needs before changing anything.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from loancore.checks import require_date, require_id
from loancore.errors import IdempotencyConflict, InvalidInput, InvariantViolation
from loancore.money import Money
from loancore.settlement import (
    CHANNEL_LENGTH_MAX,
    Capture,
    CarryForward,
    CommissionTerms,
    Deduction,
    FundingShare,
    MerchantTerms,
    Retry,
    SettlementBatch,
)
from loancore.settlement.joint import check_shares
from loancore.settlement.model import check_id
from loancore.settlement.records import ChannelFileRecord, LineStatus, SettlementInputs

__all__ = [
    "MemorySettlementStore",
    "check_batch",
    "check_commission",
    "check_items",
    "check_joint",
    "check_period",
    "check_record",
    "check_terms",
    "merchant_view",
    "new_statuses",
]

ITEMS_PER_CALL_MAX = 50_000_000
"""Most captures or deductions one ``add_*`` call takes."""


def check_items(field: str, items: object, kind: type[object]) -> tuple[object, ...]:
    """``items`` as a tuple of ``kind`` values with distinct ids; InvalidInput naming the item."""
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise InvalidInput(field, items, f"expected a sequence of {kind.__name__}")
    if len(items) > ITEMS_PER_CALL_MAX:
        raise InvalidInput(field, len(items), f"at most {ITEMS_PER_CALL_MAX} per call")
    seen: set[str] = set()
    for i, item in enumerate(items):
        if type(item) is not kind:
            raise InvalidInput(f"{field}[{i}]", item, f"expected a {kind.__name__}")
        key = item.order_id if isinstance(item, Capture) else item.deduction_id  # type: ignore[attr-defined]
        if key in seen:
            raise InvalidInput(f"{field}[{i}]", key, "given twice")
        seen.add(key)
    return tuple(items)


def check_batch(batch: object) -> SettlementBatch:
    if not isinstance(batch, SettlementBatch):
        raise InvalidInput("batch", batch, "expected a SettlementBatch")
    return batch


def check_record(record: object) -> ChannelFileRecord:
    if not isinstance(record, ChannelFileRecord):
        raise InvalidInput("record", record, "expected a ChannelFileRecord")
    return record


def check_terms(channel: object, terms: object) -> MerchantTerms:
    check_id("channel", channel, CHANNEL_LENGTH_MAX)
    if not isinstance(terms, MerchantTerms):
        raise InvalidInput("terms", terms, "expected a MerchantTerms")
    return terms


def check_joint(loan_id: object, shares: object) -> tuple[FundingShare, ...]:
    """``shares`` of loan ``loan_id`` as a tuple: 1 to FUNDERS_MAX FundingShare values of
    distinct funders whose ratios sum to 1 (InvalidInput naming the field otherwise)."""
    require_id("loan_id", loan_id)
    if not isinstance(shares, Sequence) or isinstance(shares, str):
        raise InvalidInput("shares", shares, "expected a sequence of FundingShare")
    return check_shares(shares)


def check_commission(loan_id: object, terms: object) -> CommissionTerms:
    require_id("loan_id", loan_id)
    if not isinstance(terms, CommissionTerms):
        raise InvalidInput("terms", terms, "expected a CommissionTerms")
    return terms


def check_period(period_start: object, period_end: object) -> None:
    start = require_date("period_start", period_start)
    end = require_date("period_end", period_end)
    if end < start:
        raise InvalidInput("period_end", period_end, f"must be on or after {period_start}")


def new_statuses(batch: SettlementBatch) -> dict[str, LineStatus]:
    """Each line's status when the batch is stored: instructed when the batch pays it, else
    nothing to pay (one pass over the instructions, not one per line)."""
    paid = {instruction.line_id for instruction in batch.instructions}
    return {
        line.line_id: LineStatus.INSTRUCTED if line.line_id in paid else LineStatus.NOTHING_TO_PAY
        for line in batch.lines
    }


def merchant_view(batch: SettlementBatch, merchant_id: str) -> SettlementBatch | None:
    """``batch`` holding only the merchant's line and instruction; None without a line."""
    lines = tuple(line for line in batch.lines if line.merchant_id == merchant_id)
    if not lines:
        return None
    instructions = tuple(i for i in batch.instructions if i.merchant_id == merchant_id)
    return attrs.evolve(batch, lines=lines, instructions=instructions)


class _State:
    __slots__ = (
        "batches", "captures", "carry", "commissions", "deductions", "files", "joint",
        "retries", "settled_captures", "settled_deductions", "statuses", "terms",
    )  # fmt: skip

    def __init__(self) -> None:
        self.terms: dict[str, tuple[str, MerchantTerms]] = {}  # merchant -> (channel, terms)
        self.captures: dict[str, Capture] = {}
        self.deductions: dict[str, Deduction] = {}
        self.settled_captures: dict[str, str] = {}  # order id -> batch id
        self.settled_deductions: dict[str, str] = {}  # deduction id -> batch id
        self.batches: dict[str, SettlementBatch] = {}
        self.statuses: dict[str, LineStatus] = {}  # line id -> status
        self.carry: dict[str, Money] = {}  # merchant -> non-zero balance
        self.retries: dict[str, tuple[Retry, str | None]] = {}  # failed line -> (retry, paid by)
        self.files: dict[str, ChannelFileRecord] = {}
        self.joint: dict[str, tuple[FundingShare, ...]] = {}  # loan id -> funders
        self.commissions: dict[str, CommissionTerms] = {}  # loan id -> platform's terms

    def copy(self) -> _State:
        other = _State()
        for name in _State.__slots__:
            setattr(other, name, dict(getattr(self, name)))
        return other


class MemorySettlementStore:
    """Settlement in dicts (see the module docstring)."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()

    # -- writes -----------------------------------------------------------------------------------

    def save_terms(self, channel: str, terms: MerchantTerms) -> None:
        check_terms(channel, terms)
        with self._lock:
            self._state.terms[terms.merchant_id] = (channel, terms)

    def add_captures(self, captures: Sequence[Capture]) -> None:
        self._add("captures", captures, Capture, self._state.captures)

    def add_deductions(self, deductions: Sequence[Deduction]) -> None:
        self._add("deductions", deductions, Deduction, self._state.deductions)

    def _add(self, field: str, items: object, kind: type[object], into: dict[str, Any]) -> None:
        checked = check_items(field, items, kind)
        with self._lock:
            new: dict[str, Any] = {}
            for i, item in enumerate(checked):
                key = item.order_id if kind is Capture else item.deduction_id  # type: ignore[attr-defined]
                if item.merchant_id not in self._state.terms:  # type: ignore[attr-defined]
                    raise InvalidInput(f"{field}[{i}].merchant_id", item.merchant_id, "no terms")  # type: ignore[attr-defined]
                stored = into.get(key)
                if stored is not None and stored != item:
                    raise IdempotencyConflict(key, f"a different {kind.__name__} has this id")
                new[key] = item
            into.update(new)

    def save_batch(self, batch: SettlementBatch) -> None:
        check_batch(batch)
        with self._lock:
            state = self._state
            stored = state.batches.get(batch.batch_id)
            if stored is not None:
                if stored != batch:
                    raise IdempotencyConflict(batch.batch_id, "a different batch has this id")
                return
            self._check_unsettled(batch)
            state.statuses.update(new_statuses(batch))
            for line in batch.lines:
                for order_id in line.order_ids:
                    state.settled_captures[order_id] = batch.batch_id
                for deduction_id in line.deduction_ids:
                    state.settled_deductions[deduction_id] = batch.batch_id
                for retried in line.retried_line_ids:
                    state.retries[retried] = (state.retries[retried][0], batch.batch_id)
                if line.carried_out.is_zero():
                    state.carry.pop(line.merchant_id, None)
                else:
                    state.carry[line.merchant_id] = line.carried_out
            state.batches[batch.batch_id] = batch

    def _check_unsettled(self, batch: SettlementBatch) -> None:
        state = self._state
        for line in batch.lines:  # bounded by the batch
            merchant = line.merchant_id
            if line.line_id in state.statuses:
                raise InvariantViolation(f"batch line {line.line_id} is stored already")

            def fail(what: str, key: str, line_id: str = line.line_id) -> InvariantViolation:
                return InvariantViolation(f"batch line {line_id}: {what} {key!r} is not pending")

            for order_id in line.order_ids:
                capture = state.captures.get(order_id)
                if capture is None or capture.merchant_id != merchant:
                    raise fail("order", order_id)
                if order_id in state.settled_captures:
                    raise fail("order", order_id)
            for deduction_id in line.deduction_ids:
                deduction = state.deductions.get(deduction_id)
                if deduction is None or deduction.merchant_id != merchant:
                    raise fail("deduction", deduction_id)
                if deduction_id in state.settled_deductions:
                    raise fail("deduction", deduction_id)
            for retried in line.retried_line_ids:
                found = state.retries.get(retried)
                if found is None or found[1] is not None or found[0].merchant_id != merchant:
                    raise fail("retry", retried)

    def save_file(self, record: ChannelFileRecord) -> None:
        check_record(record)
        with self._lock:
            state = self._state
            stored = state.files.get(record.file_id)
            if stored is not None:
                if stored != record:
                    raise IdempotencyConflict(record.file_id, "a different file has this id")
                return
            for instruction in (*record.confirmed, *record.failed):
                if state.statuses.get(instruction.line_id) is not LineStatus.INSTRUCTED:
                    raise InvariantViolation(f"line {instruction.line_id} is not awaiting a result")
            for instruction in record.confirmed:
                state.statuses[instruction.line_id] = LineStatus.CONFIRMED
            for instruction in record.failed:
                state.statuses[instruction.line_id] = LineStatus.FAILED
                retry = Retry(
                    line_id=instruction.line_id,
                    merchant_id=instruction.merchant_id,
                    amount=instruction.amount,
                )
                state.retries[instruction.line_id] = (retry, None)
            state.files[record.file_id] = record

    def save_joint(self, loan_id: str, shares: Sequence[FundingShare]) -> None:
        checked = check_joint(loan_id, shares)
        with self._lock:
            stored = self._state.joint.get(loan_id)
            if stored is not None and stored != checked:
                raise IdempotencyConflict(loan_id, "the loan's funders are stored otherwise")
            self._state.joint[loan_id] = checked

    def save_loan_commission(self, loan_id: str, terms: CommissionTerms) -> None:
        check_commission(loan_id, terms)
        with self._lock:
            stored = self._state.commissions.get(loan_id)
            if stored is not None and stored != terms:
                raise IdempotencyConflict(loan_id, "the loan's commission is stored otherwise")
            self._state.commissions[loan_id] = terms

    # -- reads ------------------------------------------------------------------------------------

    def channel_terms(self, channel: str) -> Mapping[str, MerchantTerms]:
        terms = self._state.terms
        return {m: t for m, (c, t) in sorted(terms.items()) if c == channel}

    def pending(self, channel: str) -> SettlementInputs:
        state = self._state
        terms = self.channel_terms(channel)
        return SettlementInputs(
            terms=terms.values(),
            captures=_unsettled(state.captures, state.settled_captures, terms),
            deductions=_unsettled(state.deductions, state.settled_deductions, terms),
            carry_forward=(
                CarryForward(merchant_id=m, balance=b)
                for m, b in sorted(state.carry.items())
                if m in terms
            ),
            retries=(
                r
                for _k, (r, by) in sorted(state.retries.items())
                if by is None and r.merchant_id in terms
            ),
        )

    def batch(self, batch_id: str) -> SettlementBatch | None:
        return self._state.batches.get(batch_id)

    def line_statuses(self, batch_id: str) -> Mapping[str, LineStatus]:
        batch = self._state.batches.get(batch_id)
        if batch is None:
            return {}
        return {line.line_id: self._state.statuses[line.line_id] for line in batch.lines}

    def merchant_batches(
        self, merchant_id: str, period_start: datetime.date, period_end: datetime.date
    ) -> tuple[SettlementBatch, ...]:
        check_period(period_start, period_end)
        chosen = sorted(
            (b for b in self._state.batches.values() if period_start <= b.run_date <= period_end),
            key=lambda b: (b.run_date, b.batch_id),
        )
        views = (merchant_view(b, merchant_id) for b in chosen)
        return tuple(v for v in views if v is not None)

    def file(self, file_id: str) -> ChannelFileRecord | None:
        return self._state.files.get(file_id)

    def merchant_channel(self, merchant_id: str) -> str | None:
        found = self._state.terms.get(merchant_id)
        return None if found is None else found[0]

    def joint_shares(self, loan_ids: Sequence[str]) -> Mapping[str, tuple[FundingShare, ...]]:
        joint = self._state.joint
        if not joint:
            return {}
        return {i: joint[i] for i in loan_ids if i in joint}

    def loan_commissions(self, loan_ids: Sequence[str]) -> Mapping[str, CommissionTerms]:
        commissions = self._state.commissions
        if not commissions:
            return {}
        return {i: commissions[i] for i in loan_ids if i in commissions}

    def carry_forward(self, merchant_id: str, currency: str) -> Money:
        found = self._state.carry.get(merchant_id)
        return Money.zero(currency) if found is None else found

    def merchant_payable(self, merchant_id: str, currency: str) -> Money:
        require_id("merchant_id", merchant_id)
        state = self._state
        minor = sum(
            c.amount.minor_units
            for k, c in state.captures.items()
            if c.merchant_id == merchant_id and k not in state.settled_captures
        )
        minor -= sum(
            d.amount.minor_units
            for k, d in state.deductions.items()
            if d.merchant_id == merchant_id and k not in state.settled_deductions
        )
        minor += sum(
            r.amount.minor_units
            for r, by in state.retries.values()
            if by is None and r.merchant_id == merchant_id
        )
        return Money.from_minor(minor, currency) + self.carry_forward(merchant_id, currency)

    # -- memory unit of work ----------------------------------------------------------------------

    def _checkpoint(self) -> object:
        with self._lock:
            return self._state.copy()

    def _restore(self, checkpoint: object) -> None:
        if not isinstance(checkpoint, _State):
            raise InvalidInput(
                "checkpoint", checkpoint, "expected a MemorySettlementStore checkpoint"
            )
        with self._lock:
            self._state = checkpoint.copy()


Item = TypeVar("Item", Capture, Deduction)


def _unsettled(
    items: Mapping[str, Item], settled: Mapping[str, str], terms: Mapping[str, MerchantTerms]
) -> Iterator[Item]:
    return (
        item
        for key, item in sorted(items.items())
        if key not in settled and item.merchant_id in terms
    )
