"""Hypothesis strategies and a state machine for quota stores (needs hypothesis).

:class:`QuotaStateMachine` drives random sequences of every quota operation against a store and a
trivially simple model (plain integers per line) and checks, after every step:

- the store's balances equal the model's, and every line's available equals the model's,
  which is ``min(own, master's)`` (the master binds);
- ``used + held + frozen + available == effective limit`` whenever available > 0;
- a master's used and held equal its own plus its sub-lines';
- the journal rebuilds exactly the stored balances (``store.check()`` is empty);
- a replayed command returns the first result and changes nothing.

Run it against your own store by subclassing and overriding :meth:`QuotaStateMachine.make_store`::

    class MyStoreMachine(QuotaStateMachine):
        def make_store(self):
            return SqlQuotaStore(my_engine())

    TestMyStore = MyStoreMachine.TestCase
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from loancore.errors import QuotaRejected, RejectionCode
from loancore.money import Money
from loancore.quota import (
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
    QuotaConfig,
    QuotaResult,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    Unfreeze,
    Void,
    own_available_minor,
)

__all__ = ["QuotaStateMachine", "grants", "minor_amounts"]

C = RejectionCode
CURRENCY = "CNY"
START = datetime.date(2026, 1, 1)


def minor_amounts(*, max_value: int = 2_000_000) -> st.SearchStrategy[int]:
    """Positive amounts in minor units (fen), biased to small and round values."""
    return st.one_of(
        st.integers(min_value=1, max_value=max_value),
        st.sampled_from([1, 100, 50_000, 100_000, 500_000]).filter(lambda v: v <= max_value),
    )


@st.composite
def grants(
    draw: st.DrawFn, *, borrower_id: str = "b1", sub_lines_max: int = 3
) -> tuple[Grant, ...]:
    """A master line and up to ``sub_lines_max`` product sub-lines of it (whose limits may add up
    to more than the master's), as Grant commands in the order to apply them."""
    starts_on = START
    expires_on = starts_on + datetime.timedelta(days=draw(st.integers(min_value=30, max_value=400)))
    master_limit = draw(st.integers(min_value=100_000, max_value=5_000_000))
    master_id = f"{borrower_id}:M"
    limit = Money.from_minor(master_limit, CURRENCY)
    found = [
        Grant(
            key=f"grant:{master_id}",
            line_id=master_id,
            borrower_id=borrower_id,
            limit=limit,
            starts_on=starts_on,
            expires_on=expires_on,
        )
    ]
    for index in range(draw(st.integers(min_value=0, max_value=sub_lines_max))):
        sub_limit = draw(st.integers(min_value=100_000, max_value=5_000_000))
        line_id = f"{borrower_id}:S{index}"
        found.append(
            Grant(
                key=f"grant:{line_id}",
                line_id=line_id,
                borrower_id=borrower_id,
                limit=Money.from_minor(sub_limit, CURRENCY),
                starts_on=starts_on,
                expires_on=expires_on,
                product=f"product-{index}",
                master_id=master_id,
            )
        )
    return tuple(found)


class _ModelLine:
    """The model: plain integers, no cleverness."""

    def __init__(self, grant: Grant) -> None:
        self.master_id = grant.master_id
        self.limit = grant.limit.minor_units
        self.temporary: dict[str, tuple[int, datetime.date, datetime.date]] = {}
        self.used = 0
        self.held = 0
        self.direct_used = 0  # a master's own use, without its sub-lines'
        self.direct_held = 0
        self.frozen = 0
        self.frozen_whole = False
        self.closed = False
        self.starts_on = grant.starts_on
        self.expires_on = grant.expires_on

    def effective(self, today: datetime.date) -> int:
        return self.limit + sum(a for a, s, e in self.temporary.values() if s <= today <= e)

    def blocked(self, today: datetime.date) -> RejectionCode:
        if self.closed:
            return C.QUOTA_LINE_CLOSED
        if self.frozen_whole:
            return C.QUOTA_LINE_FROZEN
        if today < self.starts_on:
            return C.QUOTA_LINE_NOT_STARTED
        if today > self.expires_on:
            return C.QUOTA_LINE_EXPIRED
        return C.OK

    def own_available(self, today: datetime.date) -> int:
        if self.blocked(today) is not C.OK:
            return 0
        return max(0, self.effective(today) - self.used - self.held - self.frozen)


class QuotaStateMachine(RuleBasedStateMachine):
    """Random lifecycles of one borrower's master line and sub-lines; see the module docstring."""

    def make_store(self) -> Any:
        """The store under test; override to test another one. Called once per run."""
        from loancore.adapters.memory.quota import MemoryQuotaStore

        return MemoryQuotaStore(QuotaConfig())

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.today = START
        self.model: dict[str, _ModelLine] = {}
        self.holds: dict[str, list[Any]] = {}  # hold id -> [line id, amount, expires_on, open]
        self.history: list[tuple[Command, QuotaResult, datetime.date]] = []
        self.counter = 0

    # -- helpers --------------------------------------------------------------------------------

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def apply(self, command: Command, expected: RejectionCode) -> QuotaResult | None:
        """Apply ``command``: accepted (its result) when ``expected`` is OK, else refused with
        ``expected`` (None), changing nothing and leaving its key free."""
        if expected is not C.OK:
            before = self.store.snapshot()
            try:
                self.store.apply(command, as_of=self.today)
            except QuotaRejected as refusal:
                assert refusal.code is expected, (command, refusal.code, expected)
            else:
                raise AssertionError(f"{command!r} was accepted, expected {expected.name}")
            assert self.store.snapshot() == before and self.store.result(command.key) is None
            return None
        result: QuotaResult = self.store.apply(command, as_of=self.today)
        assert not result.replayed and result.key == command.key, (command, result)
        self.history.append((command, result, self.today))
        return result

    def accepted(self, command: Command) -> QuotaResult:
        """Apply ``command``, which the model says is accepted; its result."""
        result = self.apply(command, C.OK)
        assert result is not None
        return result

    def closed_code(self, line: _ModelLine) -> RejectionCode:
        """QUOTA_LINE_CLOSED when ``line`` or its master is closed, else OK."""
        master = self.model[line.master_id] if line.master_id is not None else None
        closed = line.closed or (master is not None and master.closed)
        return C.QUOTA_LINE_CLOSED if closed else C.OK

    def available(self, line_id: str) -> int:
        line = self.model[line_id]
        own = line.own_available(self.today)
        if line.master_id is None:
            return own
        return min(own, self.model[line.master_id].own_available(self.today))

    def use_code(self, line_id: str, amount: int) -> RejectionCode:
        line = self.model[line_id]
        master = self.model[line.master_id] if line.master_id else None
        blocked = {each.blocked(self.today) for each in (line, master) if each is not None}
        gravest_first = (
            C.QUOTA_LINE_CLOSED, C.QUOTA_LINE_FROZEN, C.QUOTA_LINE_NOT_STARTED, C.QUOTA_LINE_EXPIRED
        )  # fmt: skip
        for code in gravest_first:
            if code in blocked:  # the gravest reason of the two lines wins
                return code
        if amount > line.own_available(self.today):
            return C.QUOTA_EXCEEDS_AVAILABLE
        if master is not None and amount > master.own_available(self.today):
            return C.QUOTA_MASTER_EXCEEDS_AVAILABLE
        return C.OK

    def move(self, line_id: str, used: int, held: int) -> None:
        if self.model[line_id].master_id is None:
            self.model[line_id].direct_used += used
            self.model[line_id].direct_held += held
        for each in (line_id, self.model[line_id].master_id):
            if each is not None:
                self.model[each].used += used
                self.model[each].held += held

    def exposure(self, line: _ModelLine) -> int:
        """What a master line counts against the borrower cap (temporary limits not yet ended)."""
        return line.limit + sum(a for a, _s, e in line.temporary.values() if e >= self.today)

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, CURRENCY)

    # -- lines ----------------------------------------------------------------------------------

    @initialize(commands=grants())
    def grant_lines(self, commands: tuple[Grant, ...]) -> None:
        cap = self.store.config.borrower_cap_minor
        for command in commands:
            if command.master_id is None and command.limit.minor_units > cap:
                self.apply(command, C.QUOTA_BORROWER_CAP_EXCEEDED)
                command = attrs.evolve(command, key=command.key + ":at-cap", limit=self.money(cap))
            self.apply(command, C.OK)
            self.model[command.line_id] = _ModelLine(command)

    lines = st.runner().flatmap(lambda machine: st.sampled_from(sorted(machine.model)))

    @precondition(lambda self: len(self.model) < 6)
    @rule(limit=st.integers(min_value=100, max_value=5_000_000))
    def grant_sub_line(self, limit: int) -> None:
        master_id = next(i for i, line in self.model.items() if line.master_id is None)
        master = self.model[master_id]
        line_id = f"{master_id}:extra{len(self.model)}"
        command = Grant(
            key=self.key("grant"),
            line_id=line_id,
            borrower_id="b1",
            limit=self.money(limit),
            starts_on=master.starts_on,
            expires_on=master.expires_on,
            product="extra",
            master_id=master_id,
        )
        self.apply(command, C.QUOTA_LINE_CLOSED if master.closed else C.OK)
        if not master.closed:
            self.model[line_id] = _ModelLine(command)

    @rule(line_id=lines, limit=st.integers(min_value=0, max_value=5_000_000))
    def adjust(self, line_id: str, limit: int) -> None:
        line = self.model[line_id]
        expected = self.closed_code(line)
        if expected is C.OK and line.master_id is None:
            exposure = self.exposure(line)
            new = exposure - line.limit + limit
            if new > exposure and new > self.store.config.borrower_cap_minor:
                expected = C.QUOTA_BORROWER_CAP_EXCEEDED
        self.apply(
            AdjustLimit(key=self.key("adjust"), line_id=line_id, limit=self.money(limit)), expected
        )
        if expected is C.OK:
            line.limit = limit

    @rule(line_id=lines, amount=minor_amounts(), days=st.integers(min_value=0, max_value=60))
    def add_temporary(self, line_id: str, amount: int, days: int) -> None:
        line = self.model[line_id]
        starts_on = self.today + datetime.timedelta(days=days // 3)
        ends_on = starts_on + datetime.timedelta(days=days)
        expected = self.closed_code(line)
        if expected is C.OK and line.master_id is None:
            exposure = self.exposure(line)
            if exposure + amount > self.store.config.borrower_cap_minor:
                expected = C.QUOTA_BORROWER_CAP_EXCEEDED
        key = self.key("temporary")
        command = AddTemporaryLimit(
            key=key,
            line_id=line_id,
            amount=self.money(amount),
            starts_on=starts_on,
            ends_on=ends_on,
        )
        self.apply(command, expected)
        if expected is C.OK:
            line.temporary[key] = (amount, starts_on, ends_on)

    @rule(line_id=lines)
    def expire_temporary(self, line_id: str) -> None:
        line = self.model[line_id]
        command = ExpireTemporaryLimits(key=self.key("expire-temporary"), line_id=line_id)
        result = self.accepted(command)
        ended = {k for k, (_a, _s, e) in line.temporary.items() if e < self.today}
        assert {e.ref_id for e in result.events} == ended
        for key in ended:
            del line.temporary[key]

    @rule(line_id=lines, whole=st.booleans(), amount=minor_amounts(max_value=500_000))
    def freeze(self, line_id: str, whole: bool, amount: int) -> None:
        line = self.model[line_id]
        expected = self.closed_code(line)
        if expected is C.OK and whole and line.frozen_whole:
            expected = C.QUOTA_LINE_FROZEN
        elif expected is C.OK and not whole and line.frozen + amount > line.effective(self.today):
            expected = C.QUOTA_FREEZE_EXCEEDS_LIMIT
        money = None if whole else self.money(amount)
        self.apply(Freeze(key=self.key("freeze"), line_id=line_id, amount=money), expected)
        if expected is C.OK:
            if whole:
                line.frozen_whole = True
            else:
                line.frozen += amount

    @rule(line_id=lines, whole=st.booleans(), amount=minor_amounts(max_value=500_000))
    def unfreeze(self, line_id: str, whole: bool, amount: int) -> None:
        line = self.model[line_id]
        if whole:
            expected = C.OK if line.frozen_whole else C.QUOTA_LINE_NOT_FROZEN
        else:
            amount = min(amount, line.frozen) or amount
            expected = C.OK if amount <= line.frozen else C.QUOTA_UNFREEZE_EXCEEDS_FROZEN
        money = None if whole else self.money(amount)
        self.apply(Unfreeze(key=self.key("unfreeze"), line_id=line_id, amount=money), expected)
        if expected is C.OK:
            if whole:
                line.frozen_whole = False
            else:
                line.frozen -= amount

    @rule(line_id=lines, dice=st.integers(min_value=0, max_value=5))
    def close(self, line_id: str, dice: int) -> None:
        line = self.model[line_id]
        if dice or (line.master_id is None and self.counter < 60):
            return  # closing is final: keep it rare, and the master open for most of a run
        self.apply(
            Close(key=self.key("close"), line_id=line_id),
            C.QUOTA_LINE_CLOSED if line.closed else C.OK,
        )
        line.closed = True

    @rule(days=st.one_of(st.integers(1, 5), st.integers(6, 90)))
    def advance(self, days: int) -> None:
        self.today += datetime.timedelta(days=days)

    # -- holds and use --------------------------------------------------------------------------

    @rule(line_id=lines, amount=minor_amounts(), days=st.integers(min_value=0, max_value=10))
    def hold(self, line_id: str, amount: int, days: int) -> None:
        expected = self.use_code(line_id, amount)
        expires_on = self.today + datetime.timedelta(days=days)
        key = self.key("hold")
        self.apply(
            Hold(key=key, line_id=line_id, amount=self.money(amount), expires_on=expires_on),
            expected,
        )
        if expected is C.OK:
            self.holds[key] = [line_id, amount, expires_on, True]
            self.move(line_id, 0, amount)

    hold_ids = st.runner().flatmap(lambda m: m.hold_ids_strategy())

    def hold_ids_strategy(self) -> st.SearchStrategy[str]:
        """Open holds or any hold; an unknown id only before the first hold."""
        if not self.holds:
            return st.just("no-such-hold")
        open_ids = sorted(h for h, v in self.holds.items() if v[3])
        every = st.sampled_from(sorted(self.holds))
        return st.one_of(st.sampled_from(open_ids), every) if open_ids else every

    @rule(hold_id=hold_ids, part=st.integers(min_value=0, max_value=100))
    def capture(self, hold_id: str, part: int) -> None:
        hold = self.holds.get(hold_id)
        amount = None if hold is None or part == 100 else max(1, hold[1] * part // 100)
        expected = self._capture_code(hold, amount)
        money = None if amount is None else self.money(amount)
        self.apply(Capture(key=self.key("capture"), hold_id=hold_id, amount=money), expected)
        if expected is C.OK and hold is not None:
            captured = hold[1] if amount is None else amount
            self.move(hold[0], captured, -hold[1])
            hold[3] = False

    def _capture_code(self, hold: list[Any] | None, amount: int | None) -> RejectionCode:
        if hold is None:
            return C.QUOTA_HOLD_UNKNOWN
        if not hold[3]:
            return C.QUOTA_HOLD_NOT_OPEN
        if self.today > hold[2]:
            return C.QUOTA_HOLD_EXPIRED
        line = self.model[hold[0]]
        if line.closed or (line.master_id is not None and self.model[line.master_id].closed):
            return C.QUOTA_LINE_CLOSED
        if amount is not None and amount > hold[1]:
            return C.QUOTA_EXCEEDS_HOLD
        return C.OK

    @rule(hold_id=hold_ids)
    def void(self, hold_id: str) -> None:
        hold = self.holds.get(hold_id)
        expected = C.OK if hold is not None and hold[3] else C.QUOTA_HOLD_NOT_OPEN
        if hold is None:
            expected = C.QUOTA_HOLD_UNKNOWN
        self.apply(Void(key=self.key("void"), hold_id=hold_id), expected)
        if expected is C.OK and hold is not None:
            self.move(hold[0], 0, -hold[1])
            hold[3] = False

    @rule(line_id=lines)
    def expire_holds(self, line_id: str) -> None:
        result = self.accepted(ExpireHolds(key=self.key("expire-holds"), line_id=line_id))
        expired = {
            hold_id
            for hold_id, (on_line, _amount, expires_on, is_open) in self.holds.items()
            if on_line == line_id and is_open and expires_on < self.today
        }
        assert {e.ref_id for e in result.events} == expired
        for hold_id in expired:
            hold = self.holds[hold_id]
            self.move(line_id, 0, -hold[1])
            hold[3] = False

    @rule(line_id=lines, amount=minor_amounts())
    def draw(self, line_id: str, amount: int) -> None:
        expected = self.use_code(line_id, amount)
        self.apply(Draw(key=self.key("draw"), line_id=line_id, amount=self.money(amount)), expected)
        if expected is C.OK:
            self.move(line_id, amount, 0)

    @rule(
        line_id=lines,
        amount=minor_amounts(),
        interest=minor_amounts(),
        refund=st.sampled_from([None, *RefundReason]),
    )
    def restore(
        self, line_id: str, amount: int, interest: int, refund: RefundReason | None
    ) -> None:
        line = self.model[line_id]
        restorable = line.direct_used if line.master_id is None else line.used
        amount = min(amount, restorable) or amount  # mostly valid, sometimes too much
        expected = C.OK if amount <= restorable else C.QUOTA_RESTORE_EXCEEDS_USED
        if refund is None:
            extra = self.money(interest)
            parts = RepaymentParts(self.money(amount), interest=extra, fees=extra)
            command: Command = RestoreRepaid(key=self.key("repaid"), line_id=line_id, repaid=parts)
        else:
            command = RestoreRefunded(
                key=self.key("refund"), line_id=line_id, principal=self.money(amount), reason=refund
            )
        self.apply(command, expected)
        if expected is C.OK:
            self.move(line_id, -amount, 0)  # the principal only; interest and fees never restore

    # -- replays --------------------------------------------------------------------------------

    @precondition(lambda self: bool(self.history))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        command, first, _when = data.draw(st.sampled_from(self.history))
        before = self.store.snapshot()
        again = self.store.apply(command, as_of=self.today)
        assert again == first and again.replayed
        assert self.store.snapshot() == before

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        for line_id, line in self.model.items():
            balance = self.store.balance(line_id)
            found = (balance.used_minor, balance.held_minor, balance.frozen_minor)
            assert found == (line.used, line.held, line.frozen), line_id
            available = self.store.available(line_id, as_of=self.today).minor_units
            assert available == self.available(line_id), line_id

    @invariant()
    def quantities_add_up_to_the_effective_limit(self) -> None:
        for line_id in self.model:
            line, balance = self.store.line(line_id), self.store.balance(line_id)
            available = own_available_minor(line, balance, self.today)
            if available > 0:
                total = balance.used_minor + balance.held_minor + balance.frozen_minor + available
                assert total == line.limit_effective_minor(self.today), line_id

    @invariant()
    def master_carries_its_sub_lines(self) -> None:
        for line_id, line in self.model.items():
            if line.master_id is not None:
                continue
            subs = [self.store.balance(i) for i, l in self.model.items() if l.master_id == line_id]
            master = self.store.balance(line_id)
            assert master.used_minor == line.direct_used + sum(b.used_minor for b in subs)
            assert master.held_minor == line.direct_held + sum(b.held_minor for b in subs)

    @invariant()
    def journal_rebuilds_the_balances(self) -> None:
        assert self.store.check() == ()
