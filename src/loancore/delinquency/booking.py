"""What a delinquency function books: the events, their journal entries and memo postings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import attrs

from loancore.ledger.entries import (
    Dimensions,
    JournalEntry,
    MemoDirection,
    MemoPosting,
    MemoRegister,
)
from loancore.money import Money
from loancore.postings import Event, SubjectMapping, entries_for, memo_postings_for

__all__ = ["Booking"]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class Booking:
    """The posting events a step books, in order, with their entries (through the postings
    templates) and the memo (off-balance) postings; the services layer posts both in one unit
    of work. Adding two bookings chains them."""

    events: tuple[Event, ...] = attrs.field(default=(), converter=_tuple)
    entries: tuple[JournalEntry, ...] = attrs.field(default=(), converter=_tuple)
    memo_postings: tuple[MemoPosting, ...] = attrs.field(default=(), converter=_tuple)

    def __add__(self, other: Booking) -> Booking:
        return Booking(
            self.events + other.events,
            self.entries + other.entries,
            self.memo_postings + other.memo_postings,
        )

    @classmethod
    def of(
        cls,
        events: Iterable[Event],
        mapping: SubjectMapping,
        memo_postings: Iterable[MemoPosting] = (),
    ) -> Booking:
        """``events`` booked through their templates under ``mapping``, with the templates' own
        memo postings (write-off, recovery) followed by ``memo_postings``."""
        kept = tuple(events)
        entries = tuple(entry for event in kept for entry in entries_for(event, mapping))
        memos = tuple(m for event in kept for m in memo_postings_for(event))
        return cls(kept, entries, memos + tuple(memo_postings))


def memo_posting(
    register: MemoRegister,
    direction: MemoDirection,
    amount: Money,
    *,
    kind: str,
    event_id: str,
    accounting_date: date,
    dimensions: Dimensions,
    memo: str,
) -> tuple[MemoPosting, ...]:
    """One memo posting (none for a zero amount), id and key ``memo.<kind>:<event_id>``."""
    if not amount.is_positive():
        return ()
    derived = f"memo.{kind}:{event_id}"
    return (
        MemoPosting(
            posting_id=derived,
            idempotency_key=derived,
            register=register,
            accounting_date=accounting_date,
            direction=direction,
            amount=amount,
            dimensions=dimensions,
            memo=memo,
        ),
    )
