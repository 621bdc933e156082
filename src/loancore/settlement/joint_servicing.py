"""Joint lending on a servicing loan (联合贷款): each funder's part of what servicing collects
and of what a write-off loses, and the entries that give the partners their parts.

The lender services the whole loan and books it whole (servicing's own entries do not change).
A partner's part moves out through entries of its own, built by the postings templates:

| Step | Template | Dr | Cr |
|---|---|---|---|
| a partner funds its part | ``joint.funded`` | 1002 bank | 2241.04 partner funding |
| collected: principal part | ``joint.collected`` | 2241.04 partner funding | 2241.02 partner payable |
| collected: interest, penalty, compound, fee parts | ``joint.collected`` | 6411 利息支出 | 2241.02 |
| a collection reversed | its ``joint.collected`` cancelled (``.back``) | the other way round | |
| principal written off | ``joint.loss`` | 2241.04 partner funding | 6702 credit impairment loss |
| the partner paid over | ``partner.paid`` | 2241.02 | 1002 |

**Splits come from the loan's history**, replayed in order (:func:`replay_splits`): every
repayment, prepayment, payoff and credit applied is split component by component (the
transaction's allocation lines) through the :class:`JointLoan`'s cumulative streams; a merchant
refund gives the principal refunded back like principal collected; a reversed payment's amounts
are split back as negative steps on the same streams (:meth:`JointLoan.take_back`, booked as
the cancellation of the partners' parts of ``<payment id>.reversed``) and its replays (``~``
ids) are split anew, so each stream stays within the bound of the exact shares of what is
collected net of reversals. Replaying the same history gives the same splits, ids and keys, so the
services post every split of a loan after each event and the ledger books each once.

**Losses**: :func:`write_off_split` splits a write-off (the ``WrittenOff`` event of
:func:`loancore.delinquency.write_off`, and the interest it moved off the books) on the
``loss.*`` streams, principal on the principal stream (so at the end each funder has got back
or lost exactly what it lent). Only the principal part moves the books (``joint.loss``): a
partner's part of interest is booked only as it is collected, so the interest it never gets
needs no entry; its loss parts are kept for its statement.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping, Sequence

import attrs

from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    EVENT_ID_LENGTH_MAX,
    Cancellation,
    Component,
    JointCollected,
    JointFunded,
    JointLoss,
    SubjectMapping,
    WrittenOff,
    entries_for,
)
from loancore.servicing.loan import HISTORY_MAX, Transaction, TransactionKind
from loancore.settlement.joint import FunderKind, JointLoan

__all__ = [
    "COLLECTION_KINDS",
    "JointSplit",
    "collected_amounts",
    "funding_entries",
    "loss_entries",
    "replay_splits",
    "split_entries",
    "write_off_split",
]

COLLECTION_KINDS = frozenset(
    {
        TransactionKind.REPAYMENT,
        TransactionKind.PREPAYMENT,
        TransactionKind.PAYOFF,
        TransactionKind.CREDIT_APPLIED,
    }
)
"""Servicing transactions whose allocation lines are collections split among the funders."""

_ORDER = (
    Component.PRINCIPAL,
    Component.INTEREST,
    Component.PENALTY,
    Component.COMPOUND,
    Component.FEE,
)

Parts = tuple[tuple[Component, tuple[Money, ...]], ...]


def _parts(value: Iterable[tuple[Component, tuple[Money, ...]]]) -> Parts:
    return tuple(value)


@attrs.frozen(kw_only=True)
class JointSplit:
    """One step of a joint loan: ``source_id`` (the servicing transaction or the write-off
    event), its date ``on``, what it is (``collected``, ``taken_back`` or ``lost``) and, per
    component, each funder's part in the loan's ``shares`` order (negative when taken back)."""

    source_id: str
    on: datetime.date
    kind: str
    parts: Parts = attrs.field(converter=_parts)

    def of(self, index: int) -> Mapping[Component, Money]:
        """Funder ``index``'s part of each component."""
        return {component: parts[index] for component, parts in self.parts}


def collected_amounts(txn: Transaction, currency: str) -> tuple[tuple[Component, Money], ...]:
    """What ``txn`` collected on each component (its allocation lines summed), in the order
    principal, interest, penalty, compound, fee; a merchant refund returns its amount as
    principal. Components with nothing are left out."""
    totals = dict.fromkeys(_ORDER, 0)
    if txn.kind is TransactionKind.MERCHANT_REFUND:
        totals[Component.PRINCIPAL] = txn.amount
    else:
        for _number, value, minor in txn.lines:  # bounded by the transaction's lines
            totals[Component(value)] += minor
    return tuple((c, Money.from_minor(totals[c], currency)) for c in _ORDER if totals[c])


def _collect(joint: JointLoan, txn: Transaction) -> tuple[JointSplit, JointLoan]:
    parts: list[tuple[Component, tuple[Money, ...]]] = []
    for component, amount in collected_amounts(txn, joint.currency):
        split, joint = joint.collect(component, amount)
        parts.append((component, split))
    return JointSplit(source_id=txn.event_id, on=txn.as_of, kind="collected", parts=parts), joint


def replay_splits(
    joint: JointLoan, history: Sequence[Transaction]
) -> tuple[tuple[JointSplit, ...], JointLoan]:
    """Every split of the loan's ``history`` in order (module docstring) and the joint loan
    after them. ``joint`` is the loan as disbursed (:meth:`JointLoan.disburse`)."""
    if len(history) > HISTORY_MAX:
        raise InvalidInput("history", len(history), f"at most {HISTORY_MAX} transactions")
    splits: list[JointSplit] = []
    for txn in history:  # bounded above
        if txn.kind in COLLECTION_KINDS or txn.kind is TransactionKind.MERCHANT_REFUND:
            split, joint = _collect(joint, txn)
            if split.parts:
                splits.append(split)
        elif txn.kind is TransactionKind.PAYMENT_REVERSED:
            for undone in history:  # the payments this reversal undid, in their order
                if undone.reversed_by != txn.event_id or undone.kind not in COLLECTION_KINDS:
                    continue
                back: list[tuple[Component, tuple[Money, ...]]] = []
                for component, amount in collected_amounts(undone, joint.currency):
                    taken, joint = joint.take_back(component, amount)
                    back.append((component, taken))
                if back:
                    source = f"{undone.event_id}.reversed"
                    splits.append(
                        JointSplit(source_id=source, on=txn.as_of, kind="taken_back", parts=back)
                    )
    return tuple(splits), joint


def write_off_split(
    joint: JointLoan, written_off: WrittenOff, *, interest_off_books: Money | None = None
) -> tuple[JointSplit, JointLoan]:
    """The funders' parts of a write-off: ``written_off``'s principal on the principal stream,
    its interest, penalty, compound and fee (and ``interest_off_books``, the interest the
    write-off moved from 表外应收未收利息 to 已核销贷款) on the ``loss.*`` streams."""
    if not isinstance(written_off, WrittenOff):
        raise InvalidInput("written_off", written_off, "expected a loancore.postings.WrittenOff")
    extra = interest_off_books if interest_off_books is not None else Money.zero(joint.currency)
    parts: list[tuple[Component, tuple[Money, ...]]] = []
    for component in _ORDER:
        amount: Money = getattr(written_off, component.value)
        if component is Component.INTEREST:
            amount = amount + extra
        if amount.is_zero():
            continue
        split, joint = joint.write_off(component, amount)
        parts.append((component, split))
    split_value = JointSplit(
        source_id=written_off.event_id, on=written_off.accounting_date, kind="lost", parts=parts
    )
    return split_value, joint


def _event_id(source: str, funder_id: str) -> str:
    """``<source>@<funder>``, or a digest of it when that is longer than an event id may be."""
    derived = f"{source}@{funder_id}"
    if len(derived) <= EVENT_ID_LENGTH_MAX:
        return derived
    return "joint-" + hashlib.sha256(derived.encode("utf-8")).hexdigest()


def _dimensions(dimensions: Mapping[str, str], funder_id: str) -> dict[str, str]:
    return {**dict(dimensions), "partner": funder_id}


def _partners(joint: JointLoan) -> list[tuple[int, str]]:
    return [(i, s.funder_id) for i, s in enumerate(joint.shares) if s.kind is FunderKind.PARTNER]


def funding_entries(
    joint: JointLoan, on: datetime.date, dimensions: Mapping[str, str],
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """Each partner's part of the principal received (``joint.funded``: Dr bank, Cr partner
    funding), ids ``joint.funded:<loan id>@<partner>``."""
    events = [
        JointFunded(
            event_id=_event_id(joint.loan_id, funder_id),
            accounting_date=on,
            dimensions=_dimensions(dimensions, funder_id),
            amount=joint.disbursed[i],
        )
        for i, funder_id in _partners(joint)
    ]
    return tuple(entry for event in events for entry in entries_for(event, mapping))


def split_entries(
    joint: JointLoan, split: JointSplit, dimensions: Mapping[str, str],
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """The partners' parts of a collection (``joint.collected``), or for parts taken back (a
    reversed payment) the cancellation of those parts (ids ``<payment>.reversed@<partner>.back``); lost parts book
    :func:`loss_entries` instead. ``dimensions`` are the loan's (``partner`` is added)."""
    if split.kind == "lost":
        return loss_entries(joint, split, dimensions, mapping)
    entries: list[JournalEntry] = []
    for i, funder_id in _partners(joint):
        parts = {c: abs(m) for c, m in split.of(i).items()}
        zero = Money.zero(joint.currency)
        principal = parts.pop(Component.PRINCIPAL, zero)
        event = JointCollected(
            event_id=_event_id(split.source_id, funder_id), accounting_date=split.on,
            dimensions=_dimensions(dimensions, funder_id), principal=principal,
            income=sum(parts.values(), zero),
        )  # fmt: skip
        if split.kind == "taken_back":
            entries += entries_for(Cancellation.of(event, split.on), mapping)
        else:
            entries += entries_for(event, mapping)
    return tuple(entries)


def loss_entries(
    joint: JointLoan, split: JointSplit, dimensions: Mapping[str, str],
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """Each partner's part of the principal written off (``joint.loss``: Dr partner funding, Cr
    credit impairment loss), ids ``joint.loss:<write-off event id>@<partner>``."""
    entries: list[JournalEntry] = []
    for i, funder_id in _partners(joint):
        principal = split.of(i).get(Component.PRINCIPAL, Money.zero(joint.currency))
        event = JointLoss(
            event_id=_event_id(split.source_id, funder_id), accounting_date=split.on,
            dimensions=_dimensions(dimensions, funder_id), principal=principal,
        )  # fmt: skip
        entries += entries_for(event, mapping)
    return tuple(entries)
