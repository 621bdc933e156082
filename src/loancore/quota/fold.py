"""The fold: how journal events become lines, balances and holds (the one place it happens).

:class:`QuotaState` is the accumulator. :func:`~loancore.quota.rebuild` folds a whole journal into
a fresh one; :func:`~loancore.quota.decide` folds an operation's events into a state holding only
the lines it touched (what every store then writes). Every fold step checks before it
writes, so an event that cannot follow the state (a move on an ungranted line, a balance that would
go negative, a capture of a hold that is not open) raises
:class:`~loancore.errors.InvariantViolation` and leaves the state as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from loancore.errors import InvariantViolation
from loancore.quota.model import (
    ZERO_BALANCE,
    EventKind,
    HoldStatus,
    LineBalance,
    LineStatus,
    QuotaEvent,
    QuotaHold,
    QuotaLine,
    TemporaryLimit,
)

__all__ = ["QuotaState"]


class QuotaState:
    """Lines, balances and holds by id, plus the indexes a store needs (open holds by line, master
    lines by borrower, sub-lines by master). Mutable on purpose: it is a fold's accumulator, never
    a value passed around.

    With ``track=True`` the ids written
    are recorded in ``touched`` (``("line"|"balance"|"hold", id)``), which is how
    :func:`~loancore.quota.decide` reports the new state of what an operation changed.
    """

    __slots__ = ("balances", "holds", "lines", "masters", "open_holds", "sub_lines", "touched")

    def __init__(self, *, track: bool = False) -> None:
        self.lines: dict[str, QuotaLine] = {}
        self.balances: dict[str, LineBalance] = {}
        self.holds: dict[str, QuotaHold] = {}
        self.open_holds: dict[str, dict[str, None]] = {}
        self.masters: dict[str, dict[str, None]] = {}
        self.sub_lines: dict[str, dict[str, None]] = {}
        self.touched: dict[tuple[str, str], None] | None = {} if track else None

    # -- loading and reading --------------------------------------------------------------------

    def load_line(self, line: QuotaLine, balance: LineBalance) -> None:
        self.lines[line.line_id] = line
        self.balances[line.line_id] = balance

    def load_hold(self, hold: QuotaHold) -> None:
        self.holds[hold.hold_id] = hold

    def apply(self, event: QuotaEvent) -> None:
        """Fold one event in. Raises InvariantViolation (changing nothing) if it cannot follow."""
        _FOLDS[event.kind](self, event)

    # -- writing (each checks first) ------------------------------------------------------------

    def _touch(self, kind: str, object_id: str) -> None:
        if self.touched is not None:
            self.touched[(kind, object_id)] = None

    def line(self, line_id: str) -> QuotaLine:
        line = self.lines.get(line_id)
        if line is None:
            raise InvariantViolation(f"quota event names line {line_id!r} before its grant")
        return line

    def set_line(self, line: QuotaLine) -> None:
        if line.line_id not in self.lines:
            self.balances[line.line_id] = ZERO_BALANCE
            self._touch("balance", line.line_id)
            if line.master_id is None:
                self.masters.setdefault(line.borrower_id, {})[line.line_id] = None
            else:
                self.sub_lines.setdefault(line.master_id, {})[line.line_id] = None
        self.lines[line.line_id] = line
        self._touch("line", line.line_id)

    def move(self, event: QuotaEvent, used: int, held: int, frozen: int = 0) -> None:
        """Add the deltas to the event's line and (used and held only) to its master."""
        balances, touched = self.balances, self.touched
        line_id, master_id = event.line_id, event.master_id
        new_own = _added(line_id, balances.get(line_id), used, held, frozen)
        if master_id is not None and (used or held):
            balances[master_id] = _added(master_id, balances.get(master_id), used, held, 0)
            if touched is not None:
                touched[("balance", master_id)] = None
        balances[line_id] = new_own
        if touched is not None:
            touched[("balance", line_id)] = None

    def open_hold(self, hold: QuotaHold) -> None:
        self.holds[hold.hold_id] = hold
        self.open_holds.setdefault(hold.line_id, {})[hold.hold_id] = None
        self._touch("hold", hold.hold_id)

    def open_hold_for(self, event: QuotaEvent) -> QuotaHold:
        hold = self.holds.get(event.ref_id)
        if hold is None or hold.status is not HoldStatus.OPEN or hold.line_id != event.line_id:
            raise InvariantViolation(
                f"quota event {event.kind.name} names hold {event.ref_id!r}, "
                f"not open on {event.line_id!r}"
            )
        return hold

    def close_hold(self, hold: QuotaHold, status: HoldStatus, captured_minor: int) -> None:
        self.holds[hold.hold_id] = QuotaHold(
            hold.hold_id, hold.line_id, hold.currency, hold.amount_minor, hold.expires_on,
            status, captured_minor,
        )  # fmt: skip
        open_ids = self.open_holds.get(hold.line_id)
        if open_ids is not None:
            open_ids.pop(hold.hold_id, None)
        self._touch("hold", hold.hold_id)


def _added(line_id: str, old: LineBalance | None, used: int, held: int, frozen: int) -> LineBalance:
    if old is None:
        raise InvariantViolation(f"quota event moves line {line_id!r} before its grant")
    used += old.used_minor
    held += old.held_minor
    frozen += old.frozen_minor
    if used < 0 or held < 0 or frozen < 0:
        found = (used, held, frozen)
        raise InvariantViolation(f"quota balance of {line_id!r} would go negative: {found}")
    return LineBalance(used, held, frozen)


def _granted(state: QuotaState, e: QuotaEvent) -> None:
    if e.line_id in state.lines or e.starts_on is None or e.ends_on is None:
        raise InvariantViolation(f"line {e.line_id!r} granted twice or without dates")
    if e.master_id is not None:
        state.line(e.master_id)
    state.set_line(
        QuotaLine(
            e.line_id,
            e.borrower_id,
            e.master_id,
            e.product,
            e.currency,
            e.amount_minor,
            e.starts_on,
            e.ends_on,
        )
    )


def _placed(state: QuotaState, e: QuotaEvent) -> None:
    if e.ends_on is None or e.ref_id in state.holds:
        raise InvariantViolation(f"hold {e.ref_id!r} placed twice or without expiry")
    state.move(e, 0, e.amount_minor)
    state.open_hold(QuotaHold(e.ref_id, e.line_id, e.currency, e.amount_minor, e.ends_on))


def _captured(state: QuotaState, e: QuotaEvent) -> None:
    hold = state.open_hold_for(e)
    if e.amount_minor + e.released_minor != hold.amount_minor:
        raise InvariantViolation(f"capture of {hold.hold_id!r} does not add up to the hold")
    state.move(e, e.amount_minor, -hold.amount_minor)
    state.close_hold(hold, HoldStatus.CAPTURED, e.amount_minor)


def _released(status: HoldStatus) -> Callable[[QuotaState, QuotaEvent], None]:
    def fold(state: QuotaState, e: QuotaEvent) -> None:
        hold = state.open_hold_for(e)
        if e.amount_minor != hold.amount_minor:
            raise InvariantViolation(f"release of {hold.hold_id!r} does not match the hold")
        state.move(e, 0, -e.amount_minor)
        state.close_hold(hold, status, 0)

    return fold


def _moved(used: int, frozen: int) -> Callable[[QuotaState, QuotaEvent], None]:
    def fold(state: QuotaState, e: QuotaEvent) -> None:
        state.move(e, used * e.amount_minor, 0, frozen * e.amount_minor)

    return fold


def _line_changed(**changes: Any) -> Callable[[QuotaState, QuotaEvent], None]:
    def fold(state: QuotaState, e: QuotaEvent) -> None:
        state.set_line(attrs.evolve(state.line(e.line_id), **changes))

    return fold


def _adjusted(state: QuotaState, e: QuotaEvent) -> None:
    state.set_line(attrs.evolve(state.line(e.line_id), limit_permanent_minor=e.amount_minor))


def _temporary_added(state: QuotaState, e: QuotaEvent) -> None:
    line = state.line(e.line_id)
    if e.starts_on is None or e.ends_on is None:
        raise InvariantViolation(f"temporary limit {e.ref_id!r} without dates")
    added = TemporaryLimit(e.ref_id, e.amount_minor, e.starts_on, e.ends_on)
    state.set_line(attrs.evolve(line, temporary_limits=(*line.temporary_limits, added)))


def _temporary_expired(state: QuotaState, e: QuotaEvent) -> None:
    line = state.line(e.line_id)
    kept = tuple(t for t in line.temporary_limits if t.limit_id != e.ref_id)
    if len(kept) == len(line.temporary_limits):
        found = f"temporary limit {e.ref_id!r} of {e.line_id!r}"
        raise InvariantViolation(f"{found} is not there to expire")
    state.set_line(attrs.evolve(line, temporary_limits=kept))


_FOLDS: Mapping[EventKind, Callable[[QuotaState, QuotaEvent], None]] = {
    EventKind.LINE_GRANTED: _granted,
    EventKind.LIMIT_ADJUSTED: _adjusted,
    EventKind.HOLD_PLACED: _placed,
    EventKind.HOLD_CAPTURED: _captured,
    EventKind.HOLD_VOIDED: _released(HoldStatus.VOIDED),
    EventKind.HOLD_EXPIRED: _released(HoldStatus.EXPIRED),
    EventKind.DRAWN: _moved(1, 0),
    EventKind.RESTORED_REPAID: _moved(-1, 0),
    EventKind.RESTORED_REFUNDED: _moved(-1, 0),
    EventKind.RESTORED_CANCELLED: _moved(-1, 0),
    EventKind.LINE_FROZEN: _line_changed(frozen_whole=True),
    EventKind.LINE_UNFROZEN: _line_changed(frozen_whole=False),
    EventKind.AMOUNT_FROZEN: _moved(0, 1),
    EventKind.AMOUNT_UNFROZEN: _moved(0, -1),
    EventKind.TEMPORARY_LIMIT_ADDED: _temporary_added,
    EventKind.TEMPORARY_LIMIT_EXPIRED: _temporary_expired,
    EventKind.LINE_CLOSED: _line_changed(status=LineStatus.CLOSED),
}
