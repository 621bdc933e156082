"""Joint lending (联合贷款): a loan funded by the lender and partners by fixed ratios.

- :class:`ShareRule`: each partner's share must be at least ``share_min`` (30% by default: the
  CBIRC's 2021 notice on banks' internet loans asks a bank partner to fund at least 30% of each
  joint loan); refusals are :class:`~loancore.errors.SettlementRejected` with
  ``JOINT_SHARE_BELOW_MINIMUM``.
- :class:`JointLoan`: the disbursement is split once by ratio (largest remainder, exact). Every
  later amount is split through a :class:`~loancore.money.CumulativeSplit` per stream, so over
  the loan's life no funder drifts: each funder's running total of a stream stays within
  ``funders - 1`` fen of its exact share of that stream's total (one fen with two funders: the
  exact share rounded once, up or down). Principal repaid and principal written off share one
  stream whose ratios are the disbursed parts, so at the end every funder has got back, or
  lost, exactly what it lent. Interest, penalty, compound interest and fees collected each have
  a stream; losses written off on them another each.
- Cash recovered on the losses (核销后收回, or a bad loan's sale price) is split on one more
  stream, ``recovered``, whose ratios are each funder's total loss (:attr:`JointLoan.lost`, all
  components): each funder gets back in the shares it lost, its running total within
  ``funders - 1`` fen of its exact share of what is recovered, and a recovery of everything
  written off gives every funder back exactly what it lost (exactly so with two funders).
- :func:`route_funding`: picks the funding option (a lender alone, lender + bank 70/30, ...)
  for a new loan among those whose funders have room, cheapest weighted cost first.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from loancore.checks import require_id
from loancore.errors import InvalidInput, RejectionCode, SettlementRejected
from loancore.ledger.entries import JournalEntry
from loancore.money import CumulativeSplit, Money, allocate, to_rate
from loancore.postings import DEFAULT_MAPPING, Component, PartnerPaid, SubjectMapping, partner_paid

__all__ = [
    "FUNDERS_MAX",
    "Funder",
    "FunderKind",
    "FundingOption",
    "FundingRejected",
    "FundingShare",
    "JointLoan",
    "RoutedFunding",
    "ShareRule",
    "check_shares",
    "partner_payout_entries",
    "route_funding",
]

FUNDERS_MAX = 20
"""Most funders of one loan."""
OPTIONS_MAX = 1_000
"""Most funding options one routing weighs."""


class FunderKind(str, enum.Enum):
    """Who funds (persisted by value)."""

    LENDER = "lender"  # loancore's own lender
    PARTNER = "partner"  # a partner bank or institution


def _ratio(value: Any) -> Decimal:
    ratio = to_rate(value, field="ratio")
    if not Decimal(0) < ratio <= Decimal(1):
        raise InvalidInput("ratio", value, "expected a fraction above 0 and at most 1")
    return ratio


def _id(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_id(attribute.name, value)


@attrs.frozen(kw_only=True)
class FundingShare:
    """``funder_id`` funds ``ratio`` (a fraction) of each loan of an arrangement."""

    funder_id: str = attrs.field(validator=_id)
    kind: FunderKind = attrs.field(converter=FunderKind)
    ratio: Decimal = attrs.field(converter=_ratio)


def check_shares(value: Any) -> tuple[FundingShare, ...]:
    """``value`` as a tuple of 1 to FUNDERS_MAX FundingShare values of distinct funders whose
    ratios sum to 1; InvalidInput naming ``shares`` otherwise."""
    shares = tuple(value)
    if not 1 <= len(shares) <= FUNDERS_MAX:
        raise InvalidInput("shares", shares, f"expected 1 to {FUNDERS_MAX} funders")
    for i, share in enumerate(shares):
        if not isinstance(share, FundingShare):
            raise InvalidInput(f"shares[{i}]", share, "expected a FundingShare")
    ids = [share.funder_id for share in shares]
    if len(set(ids)) != len(ids):
        raise InvalidInput("shares", ids, "a funder is listed twice")
    if sum(share.ratio for share in shares) != 1:
        raise InvalidInput("shares", [str(s.ratio) for s in shares], "ratios must sum to 1")
    return shares


@attrs.frozen(kw_only=True)
class ShareRule:
    """Each funder of a kind in ``applies_to`` funds at least ``share_min`` of a loan."""

    share_min: Decimal = attrs.field(default=Decimal("0.30"), converter=_ratio)
    applies_to: frozenset[FunderKind] = attrs.field(
        default=frozenset({FunderKind.PARTNER}), converter=frozenset
    )

    def check(self, shares: Sequence[FundingShare]) -> None:
        """Raise ``JOINT_SHARE_BELOW_MINIMUM`` naming the first funder under the minimum."""
        for share in shares:  # bounded by FUNDERS_MAX
            if share.kind in self.applies_to and share.ratio < self.share_min:
                raise SettlementRejected(
                    RejectionCode.JOINT_SHARE_BELOW_MINIMUM,
                    f"funder {share.funder_id!r} funds {share.ratio}, under {self.share_min}",
                )


def _moneys(value: Any) -> tuple[Money, ...]:
    return tuple(value)


def _cost_rate(value: Any) -> Decimal:
    return to_rate(value, field="cost_rate")


def _component(value: Any) -> Component:
    try:
        return Component(value)
    except ValueError:
        raise InvalidInput(
            "component", value, f"expected one of {[c.value for c in Component]}"
        ) from None


def _streams(value: Any) -> tuple[tuple[str, CumulativeSplit], ...]:
    return tuple(sorted(value, key=lambda pair: pair[0]))


_COLLECTED = (Component.INTEREST, Component.PENALTY, Component.COMPOUND, Component.FEE)
_PRINCIPAL_STREAM = "principal"
_RECOVERED_STREAM = "recovered"


@attrs.frozen(kw_only=True)
class JointLoan:
    """A joint loan's funders and the running state of each split stream (module docstring).

    Build one with :meth:`disburse`; each split returns the parts (in ``shares`` order) and the
    new loan value.
    """

    loan_id: str = attrs.field(validator=_id)
    shares: tuple[FundingShare, ...] = attrs.field(converter=check_shares)
    disbursed: tuple[Money, ...] = attrs.field(converter=_moneys)
    streams: tuple[tuple[str, CumulativeSplit], ...] = attrs.field(converter=_streams)
    lost: tuple[Money, ...] = attrs.field(converter=_moneys, default=())
    """Each funder's running total written off (every component), in ``shares`` order: the
    ratios of the ``recovered`` stream. Empty when given empty: zero for every funder."""

    def __attrs_post_init__(self) -> None:
        if not self.lost:
            object.__setattr__(self, "lost", tuple(Money.zero(self.currency) for _ in self.shares))
        if len(self.lost) != len(self.shares):
            raise InvalidInput("lost", self.lost, f"expected {len(self.shares)} amounts")

    @property
    def currency(self) -> str:
        return self.disbursed[0].currency

    @classmethod
    def disburse(
        cls,
        loan_id: str,
        principal: Money,
        shares: Sequence[FundingShare],
        *,
        rule: ShareRule | None = None,
    ) -> JointLoan:
        """Split ``principal`` by the shares' ratios (exact, largest remainder) after checking
        ``rule`` (the default :class:`ShareRule` when None)."""
        checked = check_shares(shares)
        (rule or ShareRule()).check(checked)
        if not isinstance(principal, Money) or not principal.is_positive():
            raise InvalidInput("principal", principal, "expected a positive Money")
        parts = principal.allocate([share.ratio for share in checked])
        currency = principal.currency
        streams = [
            (_PRINCIPAL_STREAM, CumulativeSplit.start([p.amount for p in parts], currency=currency))
        ]
        ratios = [share.ratio for share in checked]
        for component in _COLLECTED:
            streams.append((component.value, CumulativeSplit.start(ratios, currency=currency)))
            streams.append(
                (f"loss.{component.value}", CumulativeSplit.start(ratios, currency=currency))
            )
        return cls(loan_id=loan_id, shares=checked, disbursed=parts, streams=streams)

    def _split(
        self, stream: str, amount: Money, field: str, *, signed: bool = False
    ) -> tuple[tuple[Money, ...], JointLoan]:
        if not isinstance(amount, Money) or amount.currency != self.currency:
            raise InvalidInput(field, amount, f"expected Money in {self.currency}")
        if amount.is_negative() and not signed:
            raise InvalidInput(field, amount, "must not be negative")
        index = [name for name, _split in self.streams].index(stream)
        parts, after = self.streams[index][1].add(amount.amount)
        streams = list(self.streams)
        streams[index] = (stream, after)
        new = attrs.evolve(self, streams=streams)
        return tuple(Money(p, self.currency) for p in parts), new

    def collect(
        self, component: Component | str, amount: Money
    ) -> tuple[tuple[Money, ...], JointLoan]:
        """Split an amount collected on ``component`` (principal, interest, penalty, compound,
        fee) among the funders; parts sum exactly to ``amount``."""
        part = _component(component)
        stream = _PRINCIPAL_STREAM if part is Component.PRINCIPAL else part.value
        return self._split(stream, amount, "amount")

    def write_off(
        self, component: Component | str, amount: Money
    ) -> tuple[tuple[Money, ...], JointLoan]:
        """Split a loss written off on ``component``; principal losses share the principal
        stream with principal collected, so lent = repaid + lost for every funder."""
        part = _component(component)
        stream = _PRINCIPAL_STREAM if part is Component.PRINCIPAL else f"loss.{part.value}"
        if _RECOVERED_STREAM in dict(self.streams):
            raise InvalidInput("amount", amount, "a loss written off after recoveries began")
        parts, new = self._split(stream, amount, "amount")
        lost = tuple(a + p for a, p in zip(self.lost, parts, strict=True))
        return parts, attrs.evolve(new, lost=lost)

    def recover(self, amount: Money) -> tuple[tuple[Money, ...], JointLoan]:
        """Split cash recovered on the losses (a recovery after write-off, a sale's price) on
        the ``recovered`` stream, whose ratios are :attr:`lost` as of the first recovery (after
        which no loss may be added); parts sum exactly to ``amount``. InvalidInput naming
        ``amount`` when nothing was written off."""
        joint = self
        if _RECOVERED_STREAM not in dict(self.streams):
            if not any(part.is_positive() for part in self.lost):
                raise InvalidInput("amount", amount, "nothing was written off to recover")
            ratios = [part.amount for part in self.lost]
            started = CumulativeSplit.start(ratios, currency=self.currency)
            joint = attrs.evolve(self, streams=[*self.streams, (_RECOVERED_STREAM, started)])
        return joint._split(_RECOVERED_STREAM, amount, "amount")

    def take_back(
        self, component: Component | str, amount: Money
    ) -> tuple[tuple[Money, ...], JointLoan]:
        """Undo ``amount`` collected on ``component`` (a reversed payment): a negative step on
        the same stream, so every part is negative or zero, the parts sum to ``-amount`` and the
        running totals stay within the bound of the exact shares of what is collected net of
        reversals (the principal still closes exactly on what each funder lent)."""
        part = _component(component)
        stream = _PRINCIPAL_STREAM if part is Component.PRINCIPAL else part.value
        if not isinstance(amount, Money) or amount.currency != self.currency:
            raise InvalidInput("amount", amount, f"expected Money in {self.currency}")
        if amount.is_negative():
            raise InvalidInput("amount", amount, "must not be negative")
        if amount.amount > dict(self.streams)[stream].total:
            raise InvalidInput("amount", amount, f"more than was collected on {stream}")
        return self._split(stream, -amount, "amount", signed=True)

    def partner_share(self, parts: Sequence[Money]) -> Money:
        """The partners' part of a split (``parts`` in ``shares`` order): what the lender holds
        for them, the ``partner_share`` of servicing's ``RepaymentReceived``."""
        if len(parts) != len(self.shares):
            raise InvalidInput("parts", parts, f"expected {len(self.shares)} parts")
        chosen = (
            p for s, p in zip(self.shares, parts, strict=True) if s.kind is FunderKind.PARTNER
        )
        return sum(chosen, Money.zero(self.currency))

    def totals(self, stream: str) -> tuple[Money, ...]:
        """Each funder's running total of ``stream`` (``principal``, ``interest``, ...,
        ``loss.interest``, ..., and ``recovered`` once something was recovered)."""
        found = dict(self.streams).get(stream)
        if found is None:
            raise InvalidInput("stream", stream, f"expected one of {[n for n, _ in self.streams]}")
        return tuple(Money(a, self.currency) for a in found.allocated)


@attrs.frozen(kw_only=True)
class Funder:
    """A funder's capacity and cost: ``room`` is ``limit - outstanding``; ``loan_amount_max``
    caps its part of any one loan (None: no cap); ``cost_rate`` is its annual funding cost."""

    funder_id: str = attrs.field(validator=_id)
    cost_rate: Decimal = attrs.field(converter=_cost_rate)
    limit: Money
    outstanding: Money
    loan_amount_max: Money | None = None

    @property
    def room(self) -> Money:
        return self.limit - self.outstanding


@attrs.frozen(kw_only=True)
class FundingOption:
    """A way to fund a loan: its funders and their ratios."""

    option_id: str = attrs.field(validator=_id)
    shares: tuple[FundingShare, ...] = attrs.field(converter=check_shares)


@attrs.frozen(kw_only=True)
class RoutedFunding:
    """The option chosen, each funder's part of the principal, and the weighted cost rate."""

    option_id: str
    parts: tuple[tuple[str, Money], ...]
    cost_rate: Decimal


class FundingRejected(SettlementRejected):
    """No option could fund the loan: ``reasons`` holds ``(option_id, code, detail)`` for each."""

    def __init__(self, reasons: tuple[tuple[str, RejectionCode, str], ...]) -> None:
        self.reasons = reasons
        shown = "; ".join(f"{o}: {c.name} {d}" for o, c, d in reasons[:5])
        super().__init__(RejectionCode.NO_FUNDING_ROUTE, shown or "no funding option given")


def partner_payout_entries(
    payout_id: str, partner_id: str, amount: Money, on: datetime.date,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """The partner's collected shares paid over (划付): Dr partner payable, Cr bank, through the
    ``partner_paid`` template; the id and key derive from ``payout_id``."""
    event = PartnerPaid(
        event_id=payout_id, accounting_date=on, dimensions={"partner": partner_id}, amount=amount
    )
    return partner_paid(event, mapping)


def _refusal(
    option: FundingOption, amount: Money, funders: Mapping[str, Funder], rule: ShareRule
) -> tuple[RejectionCode, str] | None:
    try:
        rule.check(option.shares)
    except SettlementRejected as refused:
        return RejectionCode.JOINT_SHARE_BELOW_MINIMUM, refused.detail
    parts = amount.allocate([share.ratio for share in option.shares])
    for share, part in zip(option.shares, parts, strict=True):
        funder = funders.get(share.funder_id)
        if funder is None:
            raise InvalidInput("funders", share.funder_id, "unknown funder in a funding option")
        if part > funder.room:
            return RejectionCode.FUNDER_NO_ROOM, f"{share.funder_id} room {funder.room} < {part}"
        if funder.loan_amount_max is not None and part > funder.loan_amount_max:
            detail = f"{share.funder_id} part {part} > per-loan maximum {funder.loan_amount_max}"
            return RejectionCode.FUNDER_LOAN_LIMIT_EXCEEDED, detail
    return None


def route_funding(
    amount: Money,
    options: Sequence[FundingOption],
    funders: Mapping[str, Funder],
    *,
    rule: ShareRule | None = None,
) -> RoutedFunding:
    """The cheapest option (weighted ``cost_rate``, then ``option_id``) whose funders all have
    room for their part and within their per-loan maximum; :class:`FundingRejected` listing
    every option's reason when none does."""
    if not isinstance(amount, Money) or not amount.is_positive():
        raise InvalidInput("amount", amount, "expected a positive Money")
    if len(options) > OPTIONS_MAX:
        raise InvalidInput("options", len(options), f"at most {OPTIONS_MAX} options")
    checked_rule = rule or ShareRule()
    feasible: list[tuple[Decimal, str, FundingOption]] = []
    reasons: list[tuple[str, RejectionCode, str]] = []
    for option in options:
        refusal = _refusal(option, amount, funders, checked_rule)
        if refusal is not None:
            reasons.append((option.option_id, *refusal))
            continue
        cost = sum((s.ratio * funders[s.funder_id].cost_rate for s in option.shares), Decimal(0))
        feasible.append((cost, option.option_id, option))
    if not feasible:
        raise FundingRejected(tuple(reasons))
    cost, _option_id, best = min(feasible, key=lambda item: (item[0], item[1]))
    parts = allocate(amount.amount, [s.ratio for s in best.shares], currency=amount.currency)
    return RoutedFunding(
        option_id=best.option_id,
        parts=tuple(
            (s.funder_id, Money(p, amount.currency))
            for s, p in zip(best.shares, parts, strict=True)
        ),
        cost_rate=cost,
    )
