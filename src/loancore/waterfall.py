"""The repayment allocation waterfall: which outstanding amounts a payment pays, in which order.

A loan owes a set of *items*: per installment, an outstanding amount of each *component*
(penalty, compound interest 复利, fee, interest, principal). A payment (or a refund, a waiver, a
recovery after write-off) is spread over those items by a :class:`Policy`, a pure value:

- Each installment has a *due state* on the payment's ``as_of`` date: ``NOT_YET_DUE`` before its
  due date, ``DUE`` from the due date through the last grace day (``due_date + grace_days``),
  ``PAST_DUE`` after that. With no grace days, ``DUE`` is the due date itself, as in Apache
  Fineract's processors ("late" is after the due date, "in advance" before it).
- An :class:`AllocationRule` is an ordered list of steps, each a (due state, component) pair, and
  a processing mode. ``HORIZONTAL`` goes installment by installment, oldest first, paying inside
  each installment the steps of its state in the listed order; ``VERTICAL`` takes the steps one
  at a time and pays each across every installment in that state, oldest first, before the next
  step. Steps for ``NOT_YET_DUE`` come after all others: they say how money *beyond what is due*
  pays installments in advance.
- The rule's :class:`OverflowRule` decides what happens to money beyond what is due: pay the
  not-yet-due installments next-first (``NEXT_INSTALLMENTS``) or last-first
  (``LAST_INSTALLMENTS``, which shortens the term), or leave it unallocated and say why:
  ``REAMORTIZE`` (servicing prepays principal and recomputes the schedule) or ``CREDIT`` (kept as
  the borrower's credit balance, 溢缴款).
- A :class:`Policy` holds a default rule and overrides per :class:`TransactionType`.

:func:`allocate` returns an :class:`Allocation`: the lines in the order applied, the leftover and
what the overflow rule decided. It is deterministic and independent of the order in which items
are given (installments are ordered by due date, then number). Amounts are integers of minor units
inside, so no rounding happens and no decimal context matters; every line plus the leftover equals
the payment to the minor unit (checked on every result, :class:`InvariantViolation` otherwise).

A waiver moves no cash: :attr:`Allocation.cash` is False for it, and a waiver larger than what its
rule may waive is refused (there is no cash to keep as a leftover). Reversal and replay of earlier
allocations is servicing's job; it relies on this determinism.

The presets (:data:`PRESETS`) and their sources are documented on each constant and in
``docs/waterfall.md``.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput, InvariantViolation
from loancore.money import Money

__all__ = [
    "CHINA_CONSUMER_FINANCE",
    "CIVIL_CODE_561",
    "FINERACT_ADVANCED",
    "FINERACT_DUE_PEN_FEE_INT_PRI_IN_ADVANCE_PRI_PEN_FEE_INT",
    "FINERACT_DUE_PEN_INT_PRI_FEE_IN_ADVANCE_PEN_INT_PRI_FEE",
    "FINERACT_EARLY_REPAYMENT",
    "FINERACT_HEAVENSFAMILY",
    "FINERACT_INTEREST_PRINCIPAL_PENALTIES_FEES",
    "FINERACT_PENALTIES_FEES_INTEREST_PRINCIPAL",
    "FINERACT_PRINCIPAL_INTEREST_PENALTIES_FEES",
    "GRACE_DAYS_MAX",
    "INSTALLMENT_MAX",
    "ITEMS_MAX",
    "PRESETS",
    "Allocation",
    "AllocationLine",
    "AllocationRule",
    "Component",
    "DueState",
    "OutstandingItem",
    "OverflowRule",
    "Override",
    "Payment",
    "Policy",
    "Processing",
    "Step",
    "TransactionType",
    "UnitsLine",
    "allocate",
    "allocate_units",
    "due_state",
    "steps",
]

ITEMS_MAX = 10_000
"""The most outstanding items one allocation accepts (a 360-installment loan with five components
is 1,800); more raises InvalidInput instead of running unbounded."""
GRACE_DAYS_MAX = 366
"""The longest grace period, in days, that :func:`allocate` accepts."""
INSTALLMENT_MAX = 1_000_000
"""The largest installment number accepted (installments are numbered from 1)."""


class DueState(str, enum.Enum):
    """Where an installment stands on ``as_of`` (see :func:`due_state`). Values are persisted."""

    PAST_DUE = "past_due"
    DUE = "due"
    NOT_YET_DUE = "not_yet_due"


class Component(str, enum.Enum):
    """What an outstanding amount is for. Values are persisted.

    ``PENALTY`` is penalty interest or a late charge (罚息, 违约金); ``COMPOUND`` is interest on
    overdue interest (复利); ``FEE`` is a fee or charge that is not a penalty (手续费, or the costs
    of realising the claim under Civil Code art. 561).
    """

    PENALTY = "penalty"
    COMPOUND = "compound"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class Processing(str, enum.Enum):
    """How a rule walks the steps and the installments (see the module docstring)."""

    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"


class OverflowRule(str, enum.Enum):
    """What money beyond what is due does. Values are persisted.

    ``NEXT_INSTALLMENTS`` and ``LAST_INSTALLMENTS`` pay not-yet-due installments (nearest first,
    or last first, which shortens the term) with the rule's ``NOT_YET_DUE`` steps. ``REAMORTIZE``
    and ``CREDIT`` pay nothing in advance: the money is the allocation's leftover, to be prepaid
    as principal with a recomputed schedule, or kept as the borrower's credit balance.
    """

    NEXT_INSTALLMENTS = "next_installments"
    LAST_INSTALLMENTS = "last_installments"
    REAMORTIZE = "reamortize"
    CREDIT = "credit"


class TransactionType(str, enum.Enum):
    """The kind of money movement being allocated. Values are persisted.

    ``WAIVER`` moves no cash (:attr:`Allocation.cash` is False). ``REFUND`` is a merchant's refund
    that reduces the loan (BNPL returns), not money paid back to the borrower.
    """

    REPAYMENT = "repayment"
    PREPAYMENT = "prepayment"
    REFUND = "refund"
    WAIVER = "waiver"
    WRITE_OFF_RECOVERY = "write_off_recovery"


def _parse(kind: type[enum.Enum], field: str, value: Any) -> Any:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(field, value, f"expected one of {allowed}") from None


def _to_component(value: Any) -> Component:
    result: Component = _parse(Component, "component", value)
    return result


def _to_state(value: Any) -> DueState:
    result: DueState = _parse(DueState, "state", value)
    return result


def _to_transaction_type(value: Any) -> TransactionType:
    result: TransactionType = _parse(TransactionType, "transaction_type", value)
    return result


def _to_processing(value: Any) -> Processing:
    result: Processing = _parse(Processing, "rule.processing", value)
    return result


def _to_overflow(value: Any) -> OverflowRule:
    result: OverflowRule = _parse(OverflowRule, "rule.overflow", value)
    return result


def _int_in(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, value, "expected an int")
    if not low <= value <= high:
        raise InvalidInput(field, value, f"expected {low}..{high}")
    return value


def _money(field: str, value: Any) -> Money:
    if not isinstance(value, Money):
        raise InvalidInput(field, value, "expected a loancore.money.Money")
    if value.is_negative():
        raise InvalidInput(field, value, "must not be negative")
    return value


# -- inputs ---------------------------------------------------------------------------------------


@attrs.frozen
class OutstandingItem:
    """What installment ``installment`` (due on ``due_date``) still owes of ``component``.

    ``outstanding`` is a non-negative :class:`Money` (so at its currency's scale); a zero item is
    accepted and never paid.
    """

    installment: int = attrs.field(
        validator=lambda _s, _a, v: _int_in("item.installment", v, 1, INSTALLMENT_MAX)
    )
    due_date: datetime.date = attrs.field(
        validator=lambda _s, _a, v: require_date("item.due_date", v)
    )
    component: Component = attrs.field(converter=_to_component)
    outstanding: Money = attrs.field(validator=lambda _s, _a, v: _money("item.outstanding", v))


@attrs.frozen
class Payment:
    """The money to allocate: a non-negative ``amount`` of ``transaction_type`` on ``as_of``."""

    amount: Money = attrs.field(validator=lambda _s, _a, v: _money("payment.amount", v))
    transaction_type: TransactionType = attrs.field(converter=_to_transaction_type)
    as_of: datetime.date = attrs.field(validator=lambda _s, _a, v: require_date("payment.as_of", v))


# -- policies -------------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One step of a rule: pay ``component`` of the installments in ``state``."""

    state: DueState = attrs.field(converter=_to_state)
    component: Component = attrs.field(converter=_to_component)


def steps(states: Iterable[DueState], components: Iterable[Component]) -> tuple[Step, ...]:
    """Every (state, component) pair, states outermost: ``steps([PAST_DUE, DUE], [FEE,
    PRINCIPAL])`` is past-due fee, past-due principal, due fee, due principal."""
    wanted = tuple(components)
    return tuple(Step(state, component) for state in states for component in wanted)


def _steps_converter(value: Any) -> tuple[Step, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput("rule.steps", value, "expected a sequence of Step")
    result = tuple(value)
    for index, step in enumerate(result):
        if not isinstance(step, Step):
            raise InvalidInput(f"rule.steps[{index}]", step, "expected a Step")
    return result


@attrs.frozen
class AllocationRule:
    """An ordered list of steps, a processing mode and an overflow rule.

    Refused (InvalidInput): no steps; a step listed twice; a ``NOT_YET_DUE`` step before a step
    for another state (money goes in advance only once what is due is paid); an overflow rule
    that pays in advance (``NEXT_INSTALLMENTS``, ``LAST_INSTALLMENTS``) with no ``NOT_YET_DUE``
    step, or one that does not (``REAMORTIZE``, ``CREDIT``) with some.
    """

    steps: tuple[Step, ...] = attrs.field(converter=_steps_converter)
    processing: Processing = attrs.field(converter=_to_processing)
    overflow: OverflowRule = attrs.field(converter=_to_overflow)

    def __attrs_post_init__(self) -> None:
        if not self.steps:
            raise InvalidInput("rule.steps", self.steps, "expected at least one step")
        if len(set(self.steps)) != len(self.steps):
            raise InvalidInput("rule.steps", self.steps, "a step is listed twice")
        states = [step.state is DueState.NOT_YET_DUE for step in self.steps]
        if sorted(states) != states:
            raise InvalidInput(
                "rule.steps", self.steps, "not_yet_due steps must come after all other steps"
            )
        in_advance = any(states)
        pays_in_advance = self.overflow in (
            OverflowRule.NEXT_INSTALLMENTS,
            OverflowRule.LAST_INSTALLMENTS,
        )
        if pays_in_advance and not in_advance:
            raise InvalidInput(
                "rule.overflow",
                self.overflow,
                "pays in advance but the rule has no not_yet_due step",
            )
        if in_advance and not pays_in_advance:
            raise InvalidInput(
                "rule.overflow",
                self.overflow,
                "pays nothing in advance, yet not_yet_due steps given",
            )


@attrs.frozen
class Override:
    """Use ``rule`` instead of the policy's default rule for ``transaction_type``."""

    transaction_type: TransactionType = attrs.field(converter=_to_transaction_type)
    rule: AllocationRule = attrs.field(validator=attrs.validators.instance_of(AllocationRule))


def _overrides(value: Iterable[Override]) -> tuple[Override, ...]:
    return tuple(value)


@attrs.frozen
class Policy:
    """A named default rule plus per-transaction-type overrides (at most one per type)."""

    name: str = attrs.field(validator=lambda _s, _a, v: require_id("policy.name", v))
    rule: AllocationRule = attrs.field(validator=attrs.validators.instance_of(AllocationRule))
    overrides: tuple[Override, ...] = attrs.field(converter=_overrides, default=())
    source: str = attrs.field(default="", kw_only=True)
    """Where the order comes from (a statute, a system's strategy code); shown in the docs."""

    def __attrs_post_init__(self) -> None:
        seen: set[TransactionType] = set()
        for index, override in enumerate(self.overrides):
            if not isinstance(override, Override):
                raise InvalidInput(f"policy.overrides[{index}]", override, "expected an Override")
            if override.transaction_type in seen:
                raise InvalidInput(
                    f"policy.overrides[{index}]",
                    override.transaction_type,
                    "a transaction type is overridden twice",
                )
            seen.add(override.transaction_type)

    def rule_for(self, transaction_type: TransactionType) -> AllocationRule:
        """The override for ``transaction_type`` if there is one, else the default rule."""
        for override in self.overrides:
            if override.transaction_type is transaction_type:
                return override.rule
        return self.rule


# -- output ---------------------------------------------------------------------------------------


@attrs.frozen
class AllocationLine:
    """``amount`` (positive) paid to ``component`` of ``installment``, then in ``state``."""

    installment: int
    component: Component
    state: DueState
    amount: Money


def _lines(value: Iterable[AllocationLine]) -> tuple[AllocationLine, ...]:
    return tuple(value)


@attrs.frozen
class Allocation:
    """The result of :func:`allocate`.

    ``lines`` are in the order applied (one per item paid, none of zero). ``leftover`` is what no
    item took. ``overflow`` is what the rule's overflow rule decided, or None when the payment did
    not reach beyond what was due: with ``NEXT_INSTALLMENTS`` / ``LAST_INSTALLMENTS`` a leftover
    is money beyond everything the rule may pay (an overpayment of the loan); with ``REAMORTIZE``
    or ``CREDIT`` the leftover is the money to prepay with a new schedule, or to keep as credit.
    Checked on construction: the lines plus the leftover equal ``payment`` exactly.
    """

    payment: Payment
    policy: str
    lines: tuple[AllocationLine, ...] = attrs.field(converter=_lines)
    leftover: Money
    overflow: OverflowRule | None

    def __attrs_post_init__(self) -> None:
        total = self.leftover.minor_units
        for line in self.lines:
            if (
                line.amount.currency != self.payment.amount.currency
                or not line.amount.is_positive()
            ):
                raise InvariantViolation(f"allocation line {line!r} is not a positive amount")
            total += line.amount.minor_units
        if self.leftover.is_negative() or total != self.payment.amount.minor_units:
            raise InvariantViolation(
                f"allocation does not conserve the payment: {total} minor units allocated "
                f"for {self.payment.amount!r}"
            )

    @property
    def cash(self) -> bool:
        """False for a waiver: it reduces what is owed without moving money."""
        return self.payment.transaction_type is not TransactionType.WAIVER

    @property
    def allocated(self) -> Money:
        """The sum of the lines."""
        return self.payment.amount - self.leftover

    def totals(self) -> dict[Component, Money]:
        """The amount paid per component (every component listed, zero when unpaid)."""
        currency = self.payment.amount.currency
        units = dict.fromkeys(Component, 0)
        for line in self.lines:
            units[line.component] += line.amount.minor_units
        return {c: Money.from_minor(u, currency) for c, u in units.items()}


# -- the waterfall --------------------------------------------------------------------------------


def due_state(due_date: datetime.date, as_of: datetime.date, *, grace_days: int) -> DueState:
    """``NOT_YET_DUE`` before ``due_date``; ``DUE`` from it through ``due_date + grace_days``;
    ``PAST_DUE`` after."""
    if as_of < due_date:
        return DueState.NOT_YET_DUE
    if (as_of - due_date).days <= grace_days:
        return DueState.DUE
    return DueState.PAST_DUE


@attrs.frozen
class _Book:
    """The validated items: outstanding minor units per (installment, component), and each
    installment's due date, in the order installments are paid (due date, then number)."""

    currency: str
    units: dict[tuple[int, Component], int]
    installments: tuple[tuple[int, datetime.date], ...]


def _book(items: Sequence[OutstandingItem], currency: str) -> _Book:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InvalidInput("items", items, "expected a sequence of OutstandingItem")
    if len(items) > ITEMS_MAX:
        raise InvalidInput("items", len(items), f"expected at most {ITEMS_MAX} items")
    units: dict[tuple[int, Component], int] = {}
    dates: dict[int, datetime.date] = {}
    for index, item in enumerate(items):
        if not isinstance(item, OutstandingItem):
            raise InvalidInput(f"items[{index}]", item, "expected an OutstandingItem")
        if item.outstanding.currency != currency:
            raise InvalidInput(
                f"items[{index}].outstanding", item.outstanding, f"expected {currency}"
            )
        key = (item.installment, item.component)
        if key in units:
            raise InvalidInput(f"items[{index}]", key, "duplicate (installment, component)")
        if dates.setdefault(item.installment, item.due_date) != item.due_date:
            raise InvalidInput(
                f"items[{index}].due_date",
                item.due_date,
                f"installment {item.installment} is due on {dates[item.installment]}",
            )
        units[key] = item.outstanding.minor_units
    order = tuple(sorted(dates.items(), key=lambda pair: (pair[1], pair[0])))
    return _Book(currency, units, order)


def _visits(
    installments: Sequence[tuple[int, datetime.date]],
    rule: AllocationRule,
    states: Mapping[int, DueState],
) -> Iterator[tuple[int, Step]]:
    """The (installment, step) pairs the rule pays, in order, produced as the payment walks them
    (it stops at the first visit that finds no money left). What is due first (installments
    oldest first), then the not-yet-due part, nearest first or last first by the overflow rule.
    Horizontal: installment by installment, steps inside; vertical: step by step, installments
    inside."""
    for in_advance in (False, True):
        part = [s for s in rule.steps if (s.state is DueState.NOT_YET_DUE) is in_advance]
        numbers = [n for n, _ in installments]
        if in_advance and rule.overflow is OverflowRule.LAST_INSTALLMENTS:
            numbers.reverse()
        if rule.processing is Processing.HORIZONTAL:
            yield from ((n, s) for n in numbers for s in part if s.state is states[n])
        else:
            yield from ((n, s) for s in part for n in numbers if s.state is states[n])


UnitsLine = tuple[int, Component, DueState, int]
"""A line of :func:`allocate_units`: (installment, component, due state, minor units > 0)."""


def allocate_units(
    units: Mapping[tuple[int, Component], int],
    installments: Sequence[tuple[int, datetime.date]],
    amount_minor: int,
    transaction_type: TransactionType,
    as_of: datetime.date,
    policy: Policy,
    *,
    grace_days: int = 0,
    currency: str,
) -> tuple[list[UnitsLine], int, OverflowRule | None]:
    """The waterfall itself, in integer minor units: :func:`allocate` checks its arguments and
    calls this; servicing, which keeps its amounts as integers, calls it directly.

    ``units`` is the outstanding minor units per (installment, component) (a missing key owes
    nothing); ``installments`` the (number, due date) pairs in paying order (due date, then
    number). Returns the lines in the order applied, the minor units left over and the overflow
    decision (see :class:`Allocation`). A waiver larger than its rule may waive is refused
    (``currency`` names the amounts in that message)."""
    rule = policy.rule_for(transaction_type)
    states = {n: due_state(day, as_of, grace_days=grace_days) for n, day in installments}
    remaining = amount_minor
    lines: list[UnitsLine] = []
    overflow: OverflowRule | None = None
    if remaining:
        for number, step in _visits(installments, rule, states):  # bounded: installments x steps
            if step.state is DueState.NOT_YET_DUE and overflow is None:
                overflow = rule.overflow  # the due part is over and money is left
            paid = min(remaining, units.get((number, step.component), 0))
            if paid:
                remaining -= paid
                lines.append((number, step.component, step.state, paid))
                if not remaining:
                    break
    if remaining and overflow is None:
        overflow = rule.overflow
    if remaining and transaction_type is TransactionType.WAIVER:
        raise InvalidInput(
            "payment.amount",
            Money.from_minor(amount_minor, currency),
            f"a waiver cannot exceed what its rule may waive "
            f"({Money.from_minor(amount_minor - remaining, currency)})",
        )
    return lines, remaining, overflow


def allocate(
    items: Sequence[OutstandingItem],
    payment: Payment,
    policy: Policy,
    *,
    grace_days: int = 0,
) -> Allocation:
    """Spread ``payment`` over ``items`` by ``policy``'s rule for the payment's transaction type.

    ``grace_days`` (0..GRACE_DAYS_MAX) keeps an installment ``DUE`` rather than ``PAST_DUE`` for
    that many days after its due date. Refused with InvalidInput naming the field: items that are
    not OutstandingItem, more than ITEMS_MAX of them, an item in another currency than the
    payment, the same (installment, component) twice, one installment with two due dates, and a
    waiver larger than what its rule may waive. See the module docstring for the order; the
    allocation itself is :func:`allocate_units`.
    """
    if not isinstance(payment, Payment):
        raise InvalidInput("payment", payment, "expected a Payment")
    if not isinstance(policy, Policy):
        raise InvalidInput("policy", policy, "expected a Policy")
    _int_in("grace_days", grace_days, 0, GRACE_DAYS_MAX)
    book = _book(items, payment.amount.currency)
    currency = book.currency
    raw, remaining, overflow = allocate_units(
        book.units,
        book.installments,
        payment.amount.minor_units,
        payment.transaction_type,
        payment.as_of,
        policy,
        grace_days=grace_days,
        currency=currency,
    )
    lines = [
        AllocationLine(number, component, state, Money.from_minor(paid, currency))
        for number, component, state, paid in raw
    ]
    return Allocation(
        payment=payment,
        policy=policy.name,
        lines=lines,
        leftover=Money.from_minor(remaining, currency),
        overflow=overflow,
    )


# -- presets --------------------------------------------------------------------------------------

_DUE = (DueState.PAST_DUE, DueState.DUE)
_ALL = (DueState.PAST_DUE, DueState.DUE, DueState.NOT_YET_DUE)
_ADVANCE = (DueState.NOT_YET_DUE,)
_PEN, _COMP, _FEE, _INT, _PRI = (
    Component.PENALTY,
    Component.COMPOUND,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)
_H, _V = Processing.HORIZONTAL, Processing.VERTICAL
_NEXT, _LAST = OverflowRule.NEXT_INSTALLMENTS, OverflowRule.LAST_INSTALLMENTS

CHINA_CONSUMER_FINANCE = Policy(
    "china-consumer-finance",
    AllocationRule(steps(_ALL, (_PEN, _COMP, _FEE, _INT, _PRI)), _H, _NEXT),
    (
        Override(
            TransactionType.PREPAYMENT,
            AllocationRule(
                steps(_DUE, (_PEN, _COMP, _FEE, _INT, _PRI)), _H, OverflowRule.REAMORTIZE
            ),
        ),
    ),
    source=(
        "China's common consumer-finance contract order (issue 11): oldest installment first, "
        "inside it penalty (罚息), compound (复利), fee, interest, principal; money beyond what is "
        "due pays the next installments. Prepayment override (loancore's choice): arrears first, "
        "the rest prepays principal with a re-amortized schedule (减少月供)."
    ),
)
"""Oldest installment first; inside it penalty -> compound -> fee -> interest -> principal."""

CIVIL_CODE_561 = Policy(
    "civil-code-561",
    AllocationRule(
        tuple(Step(s, c) for c in (_FEE, _PEN, _COMP, _INT, _PRI) for s in _DUE),
        _V,
        OverflowRule.CREDIT,
    ),
    source=(
        "PRC Civil Code (民法典) art. 561, the order when the parties agreed none: costs of "
        "realising the claim (实现债权的有关费用, here FEE), then interest (利息: penalty, "
        "compound and contractual interest), then principal (主债务). Applied to the whole "
        "debt owed, component by component (vertical), each oldest first (art. 560: the "
        "earliest due first). Nothing is paid in advance (art. 530: the creditor may refuse "
        "early performance): money beyond what is due is kept as credit."
    ),
)
"""Costs (fee) -> interest (penalty, compound, interest) -> principal, across all that is due."""

FINERACT_PENALTIES_FEES_INTEREST_PRINCIPAL = Policy(
    "fineract/mifos-standard-strategy",
    AllocationRule(steps(_ALL, (_PEN, _COMP, _FEE, _INT, _PRI)), _H, _NEXT),
    source=(
        "Apache Fineract FineractStyleLoanRepaymentScheduleTransactionProcessor, code "
        "mifos-standard-strategy, 'Penalties, Fees, Interest, Principal order' (its default): "
        "the same order for late, on-time and in-advance installments, installment by "
        "installment. Fineract has no compound component; loancore puts it after penalty "
        "(Fineract books 复利 as a penalty charge)."
    ),
)
"""Fineract's default: penalties -> fees -> interest -> principal, installment by installment."""

FINERACT_HEAVENSFAMILY = Policy(
    "fineract/heavensfamily-strategy",
    AllocationRule(steps(_ALL, (_PRI, _INT, _FEE, _PEN, _COMP)), _H, _NEXT),
    source=(
        "Apache Fineract HeavensFamilyLoanRepaymentScheduleTransactionProcessor, code "
        "heavensfamily-strategy, 'HeavensFamily Unique': its code pays principal, interest, fee, "
        "penalty (its Javadoc says interest first; the code does not). Not modelled: it waives "
        "an installment's interest once its principal is paid in advance, and counts an "
        "installment in advance only before the previous installment's due date."
    ),
)
"""Principal -> interest -> fee -> penalty, installment by installment (Fineract HeavensFamily)."""

FINERACT_PRINCIPAL_INTEREST_PENALTIES_FEES = Policy(
    "fineract/principal-interest-penalties-fees-order-strategy",
    AllocationRule(steps(_ALL, (_PRI, _INT, _PEN, _COMP, _FEE)), _H, _NEXT),
    source=(
        "Apache Fineract PrincipalInterestPenaltyFeesOrderLoanRepaymentScheduleTransaction"
        "Processor, code principal-interest-penalties-fees-order-strategy, 'Principal, "
        "Interest, Penalties, Fees Order', the same order for every installment state."
    ),
)
"""Principal -> interest -> penalties -> fees (Fineract)."""

FINERACT_INTEREST_PRINCIPAL_PENALTIES_FEES = Policy(
    "fineract/interest-principal-penalties-fees-order-strategy",
    AllocationRule(steps(_ALL, (_INT, _PRI, _PEN, _COMP, _FEE)), _H, _NEXT),
    source=(
        "Apache Fineract InterestPrincipalPenaltyFeesOrderLoanRepaymentScheduleTransaction"
        "Processor, code interest-principal-penalties-fees-order-strategy, 'Interest, "
        "Principal, Penalties, Fees Order', the same order for every installment state."
    ),
)
"""Interest -> principal -> penalties -> fees (Fineract)."""

FINERACT_EARLY_REPAYMENT = Policy(
    "fineract/early-repayment-strategy",
    AllocationRule(
        steps(_DUE, (_INT, _PRI, _PEN, _COMP, _FEE)) + steps(_ADVANCE, (_PRI,)), _H, _NEXT
    ),
    source=(
        "Apache Fineract EarlyPaymentLoanRepaymentScheduleTransactionProcessor, code "
        "early-repayment-strategy, 'Early Repayment Strategy': late and on-time installments "
        "interest, principal, penalties, fees; installments paid in advance take principal only."
    ),
)
"""Due: interest -> principal -> penalties -> fees; in advance: principal only (Fineract)."""

FINERACT_DUE_PEN_FEE_INT_PRI_IN_ADVANCE_PRI_PEN_FEE_INT = Policy(
    "fineract/due-penalty-fee-interest-principal-in-advance-principal-penalty-fee-interest-strategy",
    AllocationRule(
        steps(_DUE, (_PEN, _COMP, _FEE, _INT, _PRI))
        + steps(_ADVANCE, (_PRI, _PEN, _COMP, _FEE, _INT)),
        _H,
        _NEXT,
    ),
    source=(
        "Apache Fineract DuePenFeeIntPriInAdvancePriPenFeeIntLoanRepaymentScheduleTransaction"
        "Processor, 'Due penalty, fee, interest, principal, In advance principal, penalty, fee, "
        "interest'. Fineract pays charges already due on an in-advance installment before its "
        "principal; loancore's not-yet-due items carry no such distinction."
    ),
)
"""Due: penalty -> fee -> interest -> principal; in advance: principal -> penalty -> fee ->
interest (Fineract)."""

FINERACT_DUE_PEN_INT_PRI_FEE_IN_ADVANCE_PEN_INT_PRI_FEE = Policy(
    "fineract/due-penalty-interest-principal-fee-in-advance-penalty-interest-principal-fee-strategy",
    AllocationRule(steps(_ALL, (_PEN, _COMP, _INT, _PRI, _FEE)), _H, _NEXT),
    source=(
        "Apache Fineract DuePenIntPriFeeInAdvancePenIntPriFeeLoanRepaymentScheduleTransaction"
        "Processor, 'Due penalty, interest, principal, fee, In advance penalty, interest, "
        "principal, fee': the same order due and in advance."
    ),
)
"""Penalty -> interest -> principal -> fee, due and in advance (Fineract)."""

FINERACT_ADVANCED = Policy(
    "fineract/advanced-payment-allocation-strategy",
    AllocationRule(steps(_ALL, (_PEN, _COMP, _FEE, _PRI, _INT)), _H, _NEXT),
    (
        Override(
            TransactionType.REFUND,
            AllocationRule(steps(_ALL, (_PEN, _COMP, _FEE, _PRI, _INT)), _H, _LAST),
        ),
    ),
    source=(
        "Apache Fineract AdvancedPaymentScheduleTransactionProcessor, code "
        "advanced-payment-allocation-strategy: a configurable list of the 12 allocation types "
        "(past due / due / in advance x penalty, fee, principal, interest), horizontal or "
        "vertical, a future-installment rule (next, last, re-amortization) and rules per "
        "transaction type. This preset is one configuration: the types in Fineract's "
        "PaymentAllocationType order, horizontal, next installment; merchant refunds last "
        "installment first. Fineract's re-amortization splits the money evenly over future "
        "installments; loancore's REAMORTIZE leaves it to servicing."
    ),
)
"""Fineract's advanced payment allocation, configured in its allocation-type order."""

PRESETS: Mapping[str, Policy] = {
    policy.name: policy
    for policy in (
        CHINA_CONSUMER_FINANCE,
        CIVIL_CODE_561,
        FINERACT_PENALTIES_FEES_INTEREST_PRINCIPAL,
        FINERACT_HEAVENSFAMILY,
        FINERACT_PRINCIPAL_INTEREST_PENALTIES_FEES,
        FINERACT_INTEREST_PRINCIPAL_PENALTIES_FEES,
        FINERACT_EARLY_REPAYMENT,
        FINERACT_DUE_PEN_FEE_INT_PRI_IN_ADVANCE_PRI_PEN_FEE_INT,
        FINERACT_DUE_PEN_INT_PRI_FEE_IN_ADVANCE_PEN_INT_PRI_FEE,
        FINERACT_ADVANCED,
    )
}
"""Every preset by name, in the order docs/waterfall.md lists them."""
