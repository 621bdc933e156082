"""The pure core of the quota: decide an operation over the lines it touches, fold events.

``decide(command, view, as_of=..., config=...)`` looks at a :class:`QuotaView` (the line, its
master, the hold, the borrower's other limits, loaded by a store), checks the command, and returns
a :class:`Decision`: a :class:`~loancore.errors.RejectionCode`, the journal events, and the new
state of everything it touched, obtained by folding those events into a
:class:`~loancore.quota.QuotaState`, the same fold :func:`~loancore.quota.rebuild` runs over a
whole journal. So the stored balances are a fold of the journal by construction, and the journal
check proves the stores kept it so.

The formula (minor units; see docs/quota.md)::

    effective = permanent limit + temporary limits in force on as_of
    available = max(0, effective - used - held - frozen)   (0 if closed, frozen whole,
                                                             expired or not yet started)
    available on a sub-line = min(its own available, its master's available)
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from loancore.checks import require_date, require_ids
from loancore.errors import (
    CurrencyMismatch,
    InvalidInput,
    InvariantViolation,
    QuotaRejected,
    RejectionCode,
    shown,
)
from loancore.money import Money
from loancore.quota.commands import (
    AddTemporaryLimit,
    AdjustLimit,
    Capture,
    Close,
    Command,
    Draw,
    ExpireHolds,
    ExpireTemporaryLimits,
    Freeze,
    Grant,
    Hold,
    RestoreRefunded,
    RestoreRepaid,
    Unfreeze,
    Void,
)
from loancore.quota.fold import QuotaState
from loancore.quota.model import (
    ZERO_BALANCE,
    EventKind,
    HoldStatus,
    LineBalance,
    LineStatus,
    QuotaConfig,
    QuotaEvent,
    QuotaHold,
    QuotaLine,
    RefundReason,
)

__all__ = [
    "Decision",
    "QuotaView",
    "ViewSource",
    "available_minor",
    "check_as_of",
    "check_command",
    "decide",
    "line_code",
    "load_view",
    "own_available_minor",
]

Code = RejectionCode
OK = RejectionCode.OK
_NO_EVENTS: tuple[QuotaEvent, ...] = ()


def check_command(command: object) -> None:
    """Refuse anything that is not one of the quota commands (before its key is even read)."""
    if type(command) not in _RULES:
        raise InvalidInput("command", command, "expected a quota command (loancore.quota.Command)")


HOLDS_READ_MAX = 10_000
"""The most hold ids one :meth:`~loancore.ports.QuotaStore.holds` read takes (an
``apply_batch`` of its most events restores quota on at most that many holds)."""


def check_hold_ids(hold_ids: object) -> tuple[str, ...]:
    """``hold_ids`` as a tuple of ids, at most :data:`HOLDS_READ_MAX`; else InvalidInput
    naming ``hold_ids`` (or the bad one, ``hold_ids[i]``)."""
    return require_ids("hold_ids", hold_ids, count_max=HOLDS_READ_MAX)


def check_as_of(as_of: object) -> datetime.date:
    """``as_of``, the operation's business date, if it passes
    :func:`loancore.checks.require_date`; else InvalidInput naming ``as_of``."""
    return require_date("as_of", as_of)


# -- availability -------------------------------------------------------------------------------


def line_code(line: QuotaLine, as_of: datetime.date) -> RejectionCode:
    """Why ``line`` alone cannot be drawn on as of ``as_of``, or OK."""
    if line.status is LineStatus.CLOSED:
        return Code.QUOTA_LINE_CLOSED
    if line.frozen_whole:
        return Code.QUOTA_LINE_FROZEN
    if as_of < line.starts_on:
        return Code.QUOTA_LINE_NOT_STARTED
    if as_of > line.expires_on:
        return Code.QUOTA_LINE_EXPIRED
    return OK


def own_available_minor(line: QuotaLine, balance: LineBalance, as_of: datetime.date) -> int:
    """``max(0, effective - used - held - frozen)`` of ``line`` alone; 0 when it cannot be used."""
    if line_code(line, as_of) is not OK:
        return 0
    return max(0, _free_minor(line, balance, as_of))


def available_minor(
    line: QuotaLine,
    balance: LineBalance,
    master: QuotaLine | None = None,
    master_balance: LineBalance | None = None,
    *,
    as_of: datetime.date,
) -> int:
    """Available on ``line`` in minor units: its own, bound by its master's (``min`` of the two)."""
    own = own_available_minor(line, balance, as_of)
    if master is None or master_balance is None:
        return own
    return min(own, own_available_minor(master, master_balance, as_of))


# -- the view an operation needs ----------------------------------------------------------------


@attrs.frozen
class QuotaView:
    """What one operation may read: the line (None if unknown) and its master (None for a master),
    the hold it names (Capture, Void), the line's open holds (ExpireHolds), the exposure of the
    borrower's *other* master lines (for the borrower cap), and, for a restore on a master, what its
    sub-lines use (a master can only restore its own direct use). A store loads it under locks."""

    line: QuotaLine | None
    balance: LineBalance | None
    master: QuotaLine | None = None
    master_balance: LineBalance | None = None
    hold: QuotaHold | None = None
    holds: tuple[QuotaHold, ...] = ()
    borrower_exposure_minor: int = 0
    sub_lines_used_minor: int = 0


class ViewSource(Protocol):
    """What a store offers :func:`load_view`; a SQL store locks rows here (master first)."""

    def line_pair(
        self, line_id: str
    ) -> tuple[QuotaLine | None, LineBalance | None, QuotaLine | None, LineBalance | None]:
        """The line and its balance, and its master and the master's (None, None for a master)."""

    def hold(self, hold_id: str) -> QuotaHold | None: ...

    def open_holds(self, line_id: str) -> tuple[QuotaHold, ...]: ...

    def sub_lines_used_minor(self, master_id: str) -> int:
        """Sum of used over the sub-lines of ``master_id``."""

    def borrower_exposure_minor(
        self, borrower_id: str, *, exclude_line_id: str, as_of: datetime.date
    ) -> int:
        """Sum of :meth:`QuotaLine.limit_exposure_minor` over the borrower's master lines except
        ``exclude_line_id``."""


def load_view(command: Command, source: ViewSource, *, as_of: datetime.date) -> QuotaView:
    """Read what ``command`` needs from ``source``, master before sub-line (the lock order)."""
    kind = type(command)
    if kind is Capture or kind is Void:
        hold = source.hold(command.hold_id)  # type: ignore[union-attr]
        if hold is None:
            return QuotaView(None, None)
        line, balance, master, master_balance = source.line_pair(hold.line_id)
        # Read again now that the line is locked: only a holder of the line lock changes a hold.
        hold = source.hold(command.hold_id)  # type: ignore[union-attr]
        return QuotaView(line, balance, master, master_balance, hold=hold)
    if kind is Grant:
        return _load_grant_view(command, source, as_of)  # type: ignore[arg-type]
    line_id: str = command.line_id  # type: ignore[union-attr]
    line, balance, master, master_balance = source.line_pair(line_id)
    holds: tuple[QuotaHold, ...] = ()
    exposure = 0
    if line is not None and kind is ExpireHolds:
        holds = source.open_holds(line.line_id)
    sub_used = 0
    if line is not None and line.master_id is None:
        if kind is AdjustLimit or kind is AddTemporaryLimit:
            exposure = source.borrower_exposure_minor(
                line.borrower_id, exclude_line_id=line.line_id, as_of=as_of
            )
        elif kind is RestoreRepaid or kind is RestoreRefunded:
            sub_used = source.sub_lines_used_minor(line.line_id)
    return QuotaView(
        line, balance, master, master_balance, holds=holds, borrower_exposure_minor=exposure,
        sub_lines_used_minor=sub_used,
    )  # fmt: skip


def _load_grant_view(command: Grant, source: ViewSource, as_of: datetime.date) -> QuotaView:
    if command.master_id is not None:
        master, master_balance, _, _ = source.line_pair(command.master_id)
        line, balance, _, _ = source.line_pair(command.line_id)
        return QuotaView(line, balance, master, master_balance)
    exposure = source.borrower_exposure_minor(
        command.borrower_id, exclude_line_id=command.line_id, as_of=as_of
    )
    line, balance, _, _ = source.line_pair(command.line_id)
    return QuotaView(line, balance, borrower_exposure_minor=exposure)


# -- deciding -----------------------------------------------------------------------------------


@attrs.frozen
class Decision:
    """An accepted command, as :func:`decide` returns it: the journal events, and the new state of
    what they touched (lines whose terms changed, balances by line id, holds)."""

    events: tuple[QuotaEvent, ...] = ()
    lines: tuple[QuotaLine, ...] = ()
    balances: tuple[tuple[str, LineBalance], ...] = ()
    holds: tuple[QuotaHold, ...] = ()


Outcome = tuple[RejectionCode, tuple[QuotaEvent, ...]]
Rule = Callable[[Any, QuotaView, datetime.date, QuotaConfig], Outcome]


def decide(
    command: Command, view: QuotaView, *, as_of: datetime.date, config: QuotaConfig
) -> Decision:
    """Check ``command`` against ``view`` as of ``as_of``; return its events and the new state.

    Raises :class:`~loancore.errors.QuotaRejected` when the command is refused (docs/quota.md
    lists the checks of each command in the order they run: the first that fails names the
    code), and InvalidInput or CurrencyMismatch for an argument that cannot apply to the line.
    Either way nothing is decided, so a store that calls this before writing changes nothing.
    """
    rule = _RULES.get(type(command))
    if rule is None:
        raise InvalidInput("command", command, "expected a quota command (loancore.quota.Command)")
    code, events = rule(command, view, as_of, config)
    if code is not OK:
        raise QuotaRejected(code, _refusal_detail(command, code), key=command.key)
    state = QuotaState(track=True)
    if view.line is not None:
        state.load_line(view.line, view.balance or ZERO_BALANCE)
    if view.master is not None:
        state.load_line(view.master, view.master_balance or ZERO_BALANCE)
    if view.hold is not None:
        state.load_hold(view.hold)
    for hold in view.holds:
        state.load_hold(hold)
    for event in events:  # bounded: one operation's events
        state.apply(event)
    touched = state.touched or {}
    return Decision(
        events,
        tuple(state.lines[i] for kind, i in touched if kind == "line"),
        tuple((i, state.balances[i]) for kind, i in touched if kind == "balance"),
        tuple(state.holds[i] for kind, i in touched if kind == "hold"),
    )


def _refusal_detail(command: Command, code: RejectionCode) -> str:
    target = getattr(command, "line_id", None) or getattr(command, "hold_id", "")
    what = "hold" if isinstance(command, (Capture, Void)) else "line"
    return f"{type(command).__name__} {shown(command.key)} on {what} {shown(target)}: {code.name}"


def _minor(money: Money, line: QuotaLine, operation: str) -> int:
    if money.currency != line.currency:
        raise CurrencyMismatch(operation, line.currency, money.currency)
    return money.minor_units


def _event(
    command: Any,
    line: QuotaLine,
    as_of: datetime.date,
    kind: EventKind,
    amount_minor: int,
    **more: Any,
) -> QuotaEvent:
    return QuotaEvent(
        command.key, more.pop("seq", 0), kind, as_of, line.borrower_id, line.line_id,
        line.master_id, line.currency, amount_minor, **more,
    )  # fmt: skip


def _use_code(view: QuotaView, amount_minor: int, as_of: datetime.date) -> RejectionCode:
    """Why ``amount_minor`` cannot be newly held or drawn on the view's line, or OK."""
    line, master = view.line, view.master
    assert line is not None and view.balance is not None
    code = line_code(line, as_of)
    if master is not None:
        code = _graver(code, line_code(master, as_of))
    if code is not OK:
        return code
    # Both lines are usable, so available = max(0, free): "amount > available" is "amount > free".
    if amount_minor > _free_minor(line, view.balance, as_of):
        return Code.QUOTA_EXCEEDS_AVAILABLE
    master_balance = view.master_balance or ZERO_BALANCE
    if master is not None and amount_minor > _free_minor(master, master_balance, as_of):
        return Code.QUOTA_MASTER_EXCEEDS_AVAILABLE
    return OK


# The line states that stop new use, gravest first: when the line and its master are stopped for
# different reasons, the gravest names the refusal (a closed master outranks a frozen sub-line).
_GRAVITY = (
    Code.QUOTA_LINE_CLOSED, Code.QUOTA_LINE_FROZEN, Code.QUOTA_LINE_NOT_STARTED,
    Code.QUOTA_LINE_EXPIRED, OK,
)  # fmt: skip


def _graver(first: RejectionCode, second: RejectionCode) -> RejectionCode:
    return first if _GRAVITY.index(first) <= _GRAVITY.index(second) else second


def _free_minor(line: QuotaLine, balance: LineBalance, as_of: datetime.date) -> int:
    """effective - used - held - frozen (may be negative)."""
    taken = balance.used_minor + balance.held_minor + balance.frozen_minor
    return line.limit_effective_minor(as_of) - taken


def _hold(command: Hold, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = _minor(command.amount, line, "hold")
    if command.expires_on < as_of:
        raise InvalidInput("expires_on", command.expires_on, f"must not be before as_of {as_of}")
    code = _use_code(view, amount, as_of)
    if code is not OK:
        return code, _NO_EVENTS
    kind, expires_on = EventKind.HOLD_PLACED, command.expires_on
    return OK, (_event(command, line, as_of, kind, amount, ref_id=command.key, ends_on=expires_on),)


def _draw(command: Draw, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = _minor(command.amount, line, "draw")
    code = _use_code(view, amount, as_of)
    if code is not OK:
        return code, _NO_EVENTS
    return OK, (_event(command, line, as_of, EventKind.DRAWN, amount),)


def _open_hold_code(view: QuotaView) -> RejectionCode:
    if view.hold is None or view.line is None:
        return Code.QUOTA_HOLD_UNKNOWN
    if view.hold.status is not HoldStatus.OPEN:
        return Code.QUOTA_HOLD_NOT_OPEN
    return OK


def _closed_code(view: QuotaView) -> RejectionCode:
    """QUOTA_LINE_CLOSED if the view's line or its master is closed, else OK."""
    line, master = view.line, view.master
    if line is not None and line.status is LineStatus.CLOSED:
        return Code.QUOTA_LINE_CLOSED
    if master is not None and master.status is LineStatus.CLOSED:
        return Code.QUOTA_LINE_CLOSED
    return OK


def _capture(command: Capture, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    code = _open_hold_code(view)
    if code is not OK:
        return code, _NO_EVENTS
    hold, line = view.hold, view.line
    assert hold is not None and line is not None
    amount = hold.amount_minor
    if command.amount is not None:
        amount = _minor(command.amount, line, "capture")
    if as_of > hold.expires_on:
        return Code.QUOTA_HOLD_EXPIRED, _NO_EVENTS
    if _closed_code(view) is not OK:
        return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    if amount > hold.amount_minor:
        return Code.QUOTA_EXCEEDS_HOLD, _NO_EVENTS
    released, kind = hold.amount_minor - amount, EventKind.HOLD_CAPTURED
    event = _event(command, line, as_of, kind, amount, released_minor=released, ref_id=hold.hold_id)
    return OK, (event,)


def _void(command: Void, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    code = _open_hold_code(view)
    if code is not OK:
        return code, _NO_EVENTS
    hold, line = view.hold, view.line
    assert hold is not None and line is not None
    kind = EventKind.HOLD_VOIDED
    return OK, (_event(command, line, as_of, kind, hold.amount_minor, ref_id=hold.hold_id),)


def _expire_holds(
    command: ExpireHolds, view: QuotaView, as_of: datetime.date, _c: QuotaConfig
) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    expired = sorted(
        (h for h in view.holds if h.status is HoldStatus.OPEN and h.expires_on < as_of),
        key=lambda h: (h.expires_on, h.hold_id),
    )
    return OK, tuple(
        _event(
            command, line, as_of, EventKind.HOLD_EXPIRED, h.amount_minor, ref_id=h.hold_id, seq=seq
        )
        for seq, h in enumerate(expired)
    )


def _restore(
    command: Any, view: QuotaView, as_of: datetime.date, kind: EventKind, principal: Money
) -> Outcome:
    line, balance = view.line, view.balance
    if line is None or balance is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = _minor(principal, line, "restore")
    # A master restores only its own direct use; its sub-lines' use comes back through them.
    if amount > balance.used_minor - view.sub_lines_used_minor:
        return Code.QUOTA_RESTORE_EXCEEDS_USED, _NO_EVENTS
    if view.master_balance is not None and amount > view.master_balance.used_minor:
        raise InvariantViolation(f"master of {line.line_id!r} has used below its sub-line's")
    return OK, (_event(command, line, as_of, kind, amount),)


def _restore_repaid(
    command: RestoreRepaid, view: QuotaView, as_of: datetime.date, _c: QuotaConfig
) -> Outcome:
    # Only the principal part: RepaymentParts makes the interest, fees and penalties unreachable.
    return _restore(command, view, as_of, EventKind.RESTORED_REPAID, command.repaid.principal)


def _restore_refunded(
    command: RestoreRefunded, view: QuotaView, as_of: datetime.date, _c: QuotaConfig
) -> Outcome:
    kind = EventKind.RESTORED_REFUNDED
    if command.reason is RefundReason.CANCELLATION:
        kind = EventKind.RESTORED_CANCELLED
    return _restore(command, view, as_of, kind, command.principal)


def _freeze(command: Freeze, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    line, balance = view.line, view.balance
    if line is None or balance is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = None if command.amount is None else _minor(command.amount, line, "freeze")
    if _closed_code(view) is not OK:
        return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    if amount is None:
        if line.frozen_whole:
            return Code.QUOTA_LINE_FROZEN, _NO_EVENTS
        return OK, (_event(command, line, as_of, EventKind.LINE_FROZEN, 0),)
    # More than the available may be frozen (available then stays at 0), never more than the limit.
    if balance.frozen_minor + amount > line.limit_effective_minor(as_of):
        return Code.QUOTA_FREEZE_EXCEEDS_LIMIT, _NO_EVENTS
    return OK, (_event(command, line, as_of, EventKind.AMOUNT_FROZEN, amount),)


def _unfreeze(command: Unfreeze, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    line, balance = view.line, view.balance
    if line is None or balance is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    if command.amount is None:
        if not line.frozen_whole:
            return Code.QUOTA_LINE_NOT_FROZEN, _NO_EVENTS
        return OK, (_event(command, line, as_of, EventKind.LINE_UNFROZEN, 0),)
    amount = _minor(command.amount, line, "unfreeze")
    if amount > balance.frozen_minor:
        return Code.QUOTA_UNFREEZE_EXCEEDS_FROZEN, _NO_EVENTS
    return OK, (_event(command, line, as_of, EventKind.AMOUNT_UNFROZEN, amount),)


def _cap_code(view: QuotaView, before: int, after: int, config: QuotaConfig) -> RejectionCode:
    """Refuse an increase of a master line's exposure that takes the borrower past the cap."""
    if after > before and view.borrower_exposure_minor + after > config.borrower_cap_minor:
        return Code.QUOTA_BORROWER_CAP_EXCEEDED
    return OK


def _check_cap_currency(line_currency: str, config: QuotaConfig) -> None:
    if line_currency != config.borrower_cap.currency:
        raise CurrencyMismatch("borrower cap", config.borrower_cap.currency, line_currency)


def _adjust(
    command: AdjustLimit, view: QuotaView, as_of: datetime.date, config: QuotaConfig
) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = _minor(command.limit, line, "adjust limit")
    if _closed_code(view) is not OK:
        return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    if line.master_id is None:
        after = attrs.evolve(line, limit_permanent_minor=amount).limit_exposure_minor(as_of)
        code = _cap_code(view, line.limit_exposure_minor(as_of), after, config)
        if code is not OK:
            return code, _NO_EVENTS
    return OK, (_event(command, line, as_of, EventKind.LIMIT_ADJUSTED, amount),)


def _add_temporary(
    command: AddTemporaryLimit, view: QuotaView, as_of: datetime.date, config: QuotaConfig
) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    amount = _minor(command.amount, line, "add temporary limit")
    if command.ends_on < as_of:
        raise InvalidInput("ends_on", command.ends_on, f"must not be before as_of {as_of}")
    if _closed_code(view) is not OK:
        return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    if line.master_id is None:
        before = line.limit_exposure_minor(as_of)
        code = _cap_code(view, before, before + amount, config)
        if code is not OK:
            return code, _NO_EVENTS
    event = _event(
        command, line, as_of, EventKind.TEMPORARY_LIMIT_ADDED, amount,
        ref_id=command.key, starts_on=command.starts_on, ends_on=command.ends_on,
    )  # fmt: skip
    return OK, (event,)


def _expire_temporary(
    command: ExpireTemporaryLimits, view: QuotaView, as_of: datetime.date, _c: QuotaConfig
) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    ended = [t for t in line.temporary_limits if t.ends_on < as_of]
    return OK, tuple(
        _event(command, line, as_of, EventKind.TEMPORARY_LIMIT_EXPIRED, t.amount_minor,
               ref_id=t.limit_id, starts_on=t.starts_on, ends_on=t.ends_on, seq=seq)
        for seq, t in enumerate(ended)
    )  # fmt: skip


def _close(command: Close, view: QuotaView, as_of: datetime.date, _c: QuotaConfig) -> Outcome:
    line = view.line
    if line is None:
        return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
    if line.status is LineStatus.CLOSED:
        return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    return OK, (_event(command, line, as_of, EventKind.LINE_CLOSED, 0),)


def _grant(command: Grant, view: QuotaView, as_of: datetime.date, config: QuotaConfig) -> Outcome:
    if view.line is not None:
        return Code.QUOTA_LINE_EXISTS, _NO_EVENTS
    amount = command.limit.minor_units
    master = view.master
    if command.master_id is not None:
        if master is None:
            return Code.QUOTA_LINE_UNKNOWN, _NO_EVENTS
        _check_sub_line(command, master)
        if master.status is LineStatus.CLOSED:
            return Code.QUOTA_LINE_CLOSED, _NO_EVENTS
    else:
        _check_cap_currency(command.limit.currency, config)
        code = _cap_code(view, 0, amount, config)
        if code is not OK:
            return code, _NO_EVENTS
    event = QuotaEvent(
        command.key, 0, EventKind.LINE_GRANTED, as_of, command.borrower_id, command.line_id,
        command.master_id, command.limit.currency, amount, 0, "", command.starts_on,
        command.expires_on, command.product,
    )  # fmt: skip
    return OK, (event,)


def _check_sub_line(command: Grant, master: QuotaLine) -> None:
    if master.master_id is not None:
        reason = "names a sub-line; a master line has no master"
        raise InvalidInput("master_id", command.master_id, reason)
    if master.borrower_id != command.borrower_id:
        reason = f"belongs to borrower {master.borrower_id!r}"
        raise InvalidInput("master_id", command.master_id, reason)
    if master.currency != command.limit.currency:
        raise CurrencyMismatch("grant sub-line", master.currency, command.limit.currency)


_RULES: Mapping[type, Rule] = {
    Grant: _grant,
    AdjustLimit: _adjust,
    Hold: _hold,
    Capture: _capture,
    Void: _void,
    ExpireHolds: _expire_holds,
    Draw: _draw,
    RestoreRepaid: _restore_repaid,
    RestoreRefunded: _restore_refunded,
    Freeze: _freeze,
    Unfreeze: _unfreeze,
    AddTemporaryLimit: _add_temporary,
    ExpireTemporaryLimits: _expire_temporary,
    Close: _close,
}
