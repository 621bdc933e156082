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
| recovered after write-off, or a bad loan's sale price: the partner's part | ``joint.recovered`` | 6702 | 2241.02 |
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

**Recoveries**: cash recovered later is split in the shares of the loss
(:func:`recovery_split`, :meth:`JointLoan.recover`: one cumulative stream whose ratios are each
funder's total loss), so that once everything written off is recovered each funder has got
back exactly what it lost. The lender books the recovery whole (Dr 3001, Cr 1304.03, the
allowance then released to 6702), so the partner's part leaves 6702 again and is owed to it
(``joint.recovered``: Dr 6702, Cr 2241.02): its loss is undone by that much, and the lender's
credit loss is what it lost less what it got back. A bad loan sold (不良资产转让) is both at
once (:func:`sale_splits`): everything it carried is lost as at a write-off (the partner's
principal off 2241.04 by ``joint.loss``), and the price is recovered on it.
:func:`written_off_of` rebuilds, from a written-off loan and what 已核销贷款 took for it, the
write-off the recoveries are shared against, so the services need to store nothing more.
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
    JointRecovered,
    LoanSold,
    SubjectMapping,
    WrittenOff,
    entries_for,
)
from loancore.servicing.loan import HISTORY_MAX, Loan, Transaction, TransactionKind
from loancore.settlement.joint import FunderKind, JointLoan

__all__ = [
    "COLLECTION_KINDS",
    "RECOVERIES_MAX",
    "JointRecovery",
    "JointSplit",
    "collected_amounts",
    "funding_entries",
    "loss_entries",
    "recovery_entries",
    "recovery_split",
    "replay_splits",
    "sale_splits",
    "split_entries",
    "write_off_split",
    "written_off_of",
]

RECOVERIES_MAX = 10_000
"""Most recoveries of one written-off loan the services replay."""

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


def _moneys(value: Iterable[Money]) -> tuple[Money, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class JointRecovery:
    """Cash recovered on a joint loan's loss: ``source_id`` (the recovery or the sale event),
    its date ``on`` and each funder's part in the loan's ``shares`` order."""

    source_id: str
    on: datetime.date
    parts: tuple[Money, ...] = attrs.field(converter=_moneys)


def recovery_split(
    joint: JointLoan, source_id: str, on: datetime.date, amount: Money
) -> tuple[JointRecovery, JointLoan]:
    """The funders' parts of ``amount`` recovered (:meth:`JointLoan.recover`: in the shares of
    the loss, cumulatively) and the joint loan after it."""
    parts, joint = joint.recover(amount)
    return JointRecovery(source_id=source_id, on=on, parts=parts), joint


def recovery_entries(
    joint: JointLoan, recovery: JointRecovery, dimensions: Mapping[str, str],
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """Each partner's part of a recovery (``joint.recovered``: Dr credit impairment loss, Cr
    partner payable), ids ``joint.recovered:<recovery or sale event id>@<partner>``; a zero
    part books nothing."""
    entries: list[JournalEntry] = []
    for i, funder_id in _partners(joint):
        event = JointRecovered(
            event_id=_event_id(recovery.source_id, funder_id), accounting_date=recovery.on,
            dimensions=_dimensions(dimensions, funder_id), amount=recovery.parts[i],
        )  # fmt: skip
        entries += entries_for(event, mapping)
    return tuple(entries)


def sale_splits(
    joint: JointLoan, sold: LoanSold, *, interest_off_books: Money | None = None
) -> tuple[JointSplit, JointRecovery, JointLoan]:
    """A joint loan sold (不良资产转让): what it carried (``sold``'s principal, interest,
    penalty, compound and fee, and ``interest_off_books``, the off-balance interest the buyer
    took) lost as by :func:`write_off_split`, then the price recovered on it
    (:func:`recovery_split`); both keyed by the sale's event id."""
    if not isinstance(sold, LoanSold):
        raise InvalidInput("sold", sold, "expected a loancore.postings.LoanSold")
    amounts = {c.value: getattr(sold, c.value) for c in _ORDER}
    written = WrittenOff(
        event_id=sold.event_id, accounting_date=sold.accounting_date,
        dimensions=sold.dimensions, **amounts,
    )  # fmt: skip
    lost, joint = write_off_split(joint, written, interest_off_books=interest_off_books)
    recovered, joint = recovery_split(joint, sold.event_id, sold.accounting_date, sold.price)
    return lost, recovered, joint


def written_off_of(loan: Loan, registered: Money) -> tuple[WrittenOff, Money]:
    """The write-off of the written-off ``loan`` as :func:`loancore.delinquency.write_off`
    booked it, and the interest it moved to 已核销贷款 (the arguments of
    :func:`write_off_split`): principal and fees are the loan's parts marked written off;
    ``registered`` is everything 已核销贷款 took for the loan, so the interest is the rest.
    The event's id and date are placeholders (``<loan id>.written_off``, the loan's last date):
    the split is rebuilt to share recoveries, not booked again."""
    if not isinstance(registered, Money) or registered.currency != loan.currency:
        raise InvalidInput("registered", registered, f"expected Money in {loan.currency}")
    principal = loan.principal_written_off()
    fee = sum(i.fee.written_off for i in loan.installments)
    interest = registered.minor_units - principal - fee
    if interest < 0:
        detail = f"less than the principal and fees written off, {loan.money(principal + fee)}"
        raise InvalidInput("registered", registered, detail)
    written = WrittenOff(
        event_id=f"{loan.loan_id}.written_off", accounting_date=loan.last_date,
        dimensions=loan.dimensions, principal=loan.money(principal), fee=loan.money(fee),
    )  # fmt: skip
    return written, loan.money(interest)
