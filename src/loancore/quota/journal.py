"""Rebuild every quota balance from the journal, and compare the rebuild with a store.

The quota journal is the book of record: lines, balances and holds are a fold of its events
(:func:`rebuild`). :func:`check_rebuild` lists every difference between a rebuild and what a store
holds, as :class:`QuotaIssue` values, so an audit sees all problems at once instead of the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from loancore.errors import InvalidInput
from loancore.quota.fold import QuotaState
from loancore.quota.model import LineBalance, QuotaEvent, QuotaHold, QuotaLine

__all__ = ["QuotaIssue", "QuotaSnapshot", "check_rebuild", "rebuild", "snapshot_of"]

EVENTS_MAX = 100_000_000


@attrs.frozen
class QuotaSnapshot:
    """Lines, balances and holds by id, as a store holds them or as :func:`rebuild` derives them."""

    lines: Mapping[str, QuotaLine]
    balances: Mapping[str, LineBalance]
    holds: Mapping[str, QuotaHold]


@attrs.frozen
class QuotaIssue:
    """One difference between the journal's rebuild and the stored state.

    ``kind`` is ``"line"``, ``"balance"`` or ``"hold"``; ``expected`` is the rebuild's value
    (None: the journal does not know the object), ``found`` the store's (None: missing)."""

    kind: str
    object_id: str
    expected: object
    found: object


def rebuild(events: Iterable[QuotaEvent], *, events_max: int = EVENTS_MAX) -> QuotaSnapshot:
    """Fold ``events`` (in journal order) into lines, balances and holds.

    Raises :class:`~loancore.errors.InvariantViolation` on an event that cannot follow the ones
    before it (a move on an ungranted line, a capture of a hold that is not open, a negative
    balance), and :class:`~loancore.errors.InvalidInput` past ``events_max`` events.
    """
    state = QuotaState()
    for count, event in enumerate(events, start=1):
        if count > events_max:
            raise InvalidInput("events", count, f"more than events_max={events_max} events")
        state.apply(event)
    return snapshot_of(state)


def snapshot_of(state: QuotaState) -> QuotaSnapshot:
    """A :class:`QuotaSnapshot` (values, copied) of a fold's state."""
    return QuotaSnapshot(dict(state.lines), dict(state.balances), dict(state.holds))


def check_rebuild(rebuilt: QuotaSnapshot, stored: QuotaSnapshot) -> tuple[QuotaIssue, ...]:
    """Every line, balance and hold where ``stored`` differs from ``rebuilt``; empty when equal."""
    issues: list[QuotaIssue] = []
    for kind, expected, found in (
        ("line", rebuilt.lines, stored.lines),
        ("balance", rebuilt.balances, stored.balances),
        ("hold", rebuilt.holds, stored.holds),
    ):
        for object_id in sorted(set(expected) | set(found)):
            want, got = expected.get(object_id), found.get(object_id)
            if want != got:
                issues.append(QuotaIssue(kind, object_id, want, got))
    return tuple(issues)
