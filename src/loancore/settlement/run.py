"""A settlement run for one date: what each merchant is paid, netted, batched and booked.

:func:`run_settlement` is pure. In: the run date, the channel and its calendar, every merchant's
terms, the captures and deductions (refunds, chargebacks) **not yet settled** (the store hands
those no earlier batch lists: each line names its order and deduction ids), the carry-forward
per merchant and the retries of failed payouts. Those due on or before the run date are settled
(so a day without a run is caught up by the next one); those due later are left for their day. Out: a :class:`SettlementRun` holding the batch (one line per merchant with activity),
the payment instructions, the journal entries, and the new carry-forward.

Netting per merchant: ``net = captured - fees - refunded - charged_back + carried_in +
retried``. A
positive net is paid; a negative one is carried forward as a receivable from the merchant and
nothing is paid (never a negative payment). Failed payouts come back as :class:`Retry` values
(from :func:`~loancore.settlement.reconcile.reconcile`) and are paid in the next run with the
merchant's other dues, or alone. Ids derive from the channel, the date
and the merchant (``<channel>:<YYYY-MM-DD>`` and ``<batch id>:<merchant id>``), and the output
does not depend on the inputs' order, so re-running a date with the same inputs gives the same
values, ids and idempotency keys. One run per channel and date: a second run of the date with
other inputs derives the same entry ids and keys with other amounts, which the ledger refuses
(``IdempotencyConflict``) rather than paying twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

import attrs

from loancore.calendar import BusinessCalendar
from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.money import Money
from loancore.postings import DEFAULT_MAPPING, SubjectMapping
from loancore.settlement.booking import instruction_entries
from loancore.settlement.model import (
    CHANNEL_LENGTH_MAX,
    Capture,
    CarryForward,
    Deduction,
    DeductionKind,
    PaymentInstruction,
    Retry,
    SettlementBatch,
    SettlementLine,
    check_id,
)
from loancore.settlement.terms import MerchantTerms, SettlementSchedule, effective_date_unchecked

__all__ = ["ITEMS_MAX", "SettlementRun", "run_settlement"]

ITEMS_MAX = 50_000_000
"""Most captures (and, separately, deductions) one run reads."""


@attrs.frozen(kw_only=True)
class SettlementRun:
    """What a run produces; ``carry_forward`` lists every merchant with a non-zero balance."""

    batch: SettlementBatch
    entries: tuple[JournalEntry, ...]
    carry_forward: tuple[CarryForward, ...]

    @property
    def instructions(self) -> tuple[PaymentInstruction, ...]:
        return self.batch.instructions


class _Tally:
    """One merchant's sums in minor units while a run reads its inputs (private, mutable)."""

    __slots__ = (
        "captured",
        "charged_back",
        "deductions",
        "fees",
        "orders",
        "refunded",
        "retried",
        "retries",
    )  # fmt: skip

    def __init__(self) -> None:
        self.captured = self.fees = self.refunded = self.charged_back = self.retried = 0
        self.orders: list[str] = []
        self.deductions: list[str] = []
        self.retries: list[str] = []


class _Dates:
    """Settlement dates by (schedule, effective date): most captures share a few dates."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.cache: dict[tuple[SettlementSchedule, datetime.date], datetime.date] = {}

    def of(self, terms: MerchantTerms, at: datetime.datetime) -> datetime.date:
        day = effective_date_unchecked(at, terms.cutoff)
        key = (terms.schedule, day)
        paid = self.cache.get(key)
        if paid is None:
            paid = self.cache[key] = terms.schedule.settlement_date(day, self.calendar)
        return paid


def _terms_for(
    terms: Mapping[str, MerchantTerms], merchant_id: str, currency: str, where: str, i: int
) -> MerchantTerms:
    """The terms of ``merchant_id`` (the hot path: one dict look-up and two compares); on a
    problem, InvalidInput naming ``<where>[i].merchant_id`` or the terms' key."""
    found = terms.get(merchant_id)
    if (
        type(found) is MerchantTerms
        and found.merchant_id == merchant_id
        and found.fee.currency == currency
    ):
        return found
    field = f"{where}[{i}].merchant_id"
    if found is None:
        raise InvalidInput(field, merchant_id, "no settlement terms for this merchant")
    if not isinstance(found, MerchantTerms) or found.merchant_id != merchant_id:
        raise InvalidInput(
            f"terms[{merchant_id!r}]", found, "expected this merchant's MerchantTerms"
        )
    raise InvalidInput(field, merchant_id, f"terms are in {found.currency}, not {currency}")


def _tally(
    run_date: datetime.date,
    dates: _Dates,
    terms: Mapping[str, MerchantTerms],
    captures: Iterable[Capture],
    deductions: Iterable[Deduction],
    currency: str,
) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = {}
    seen: set[str] = set()
    for i, capture in enumerate(captures):
        if i >= ITEMS_MAX:
            raise InvalidInput("captures", i, f"more than {ITEMS_MAX} captures in one run")
        if type(capture) is not Capture:
            raise InvalidInput(f"captures[{i}]", capture, "expected a Capture")
        merchant = _terms_for(terms, capture.merchant_id, currency, "captures", i)
        if capture.amount.currency != currency:
            raise InvalidInput(f"captures[{i}].amount", capture.amount, f"expected {currency}")
        if capture.order_id in seen:
            raise InvalidInput(f"captures[{i}].order_id", capture.order_id, "captured twice")
        seen.add(capture.order_id)
        if dates.of(merchant, capture.captured_at) > run_date:  # due later: left for its day
            continue
        tally = tallies.get(capture.merchant_id) or tallies.setdefault(
            capture.merchant_id, _Tally()
        )
        minor = capture.amount.minor_units
        tally.captured += minor
        tally.fees += merchant.fee.minor(minor)
        tally.orders.append(capture.order_id)
    _tally_deductions(run_date, dates, terms, deductions, currency, tallies)
    return tallies


def _tally_deductions(
    run_date: datetime.date,
    dates: _Dates,
    terms: Mapping[str, MerchantTerms],
    deductions: Iterable[Deduction],
    currency: str,
    tallies: dict[str, _Tally],
) -> None:
    seen: set[str] = set()
    for i, item in enumerate(deductions):
        if i >= ITEMS_MAX:
            raise InvalidInput("deductions", i, f"more than {ITEMS_MAX} deductions in one run")
        if type(item) is not Deduction:
            raise InvalidInput(f"deductions[{i}]", item, "expected a Deduction")
        merchant = _terms_for(terms, item.merchant_id, currency, "deductions", i)
        if item.amount.currency != currency:
            raise InvalidInput(f"deductions[{i}].amount", item.amount, f"expected {currency}")
        if item.deduction_id in seen:
            raise InvalidInput(f"deductions[{i}].deduction_id", item.deduction_id, "given twice")
        seen.add(item.deduction_id)
        if dates.of(merchant, item.occurred_at) > run_date:
            continue
        tally = tallies.get(item.merchant_id) or tallies.setdefault(item.merchant_id, _Tally())
        if item.kind is DeductionKind.REFUND:
            tally.refunded += item.amount.minor_units
        else:
            tally.charged_back += item.amount.minor_units
        tally.deductions.append(item.deduction_id)


def _tally_retries(
    retries: Iterable[Retry],
    terms: Mapping[str, MerchantTerms],
    currency: str,
    tallies: dict[str, _Tally],
) -> None:
    seen: set[str] = set()
    for i, retry in enumerate(retries):
        if i >= ITEMS_MAX:
            raise InvalidInput("retries", i, f"more than {ITEMS_MAX} retries in one run")
        if not isinstance(retry, Retry):
            raise InvalidInput(f"retries[{i}]", retry, "expected a Retry")
        _terms_for(terms, retry.merchant_id, currency, "retries", i)
        if retry.amount.currency != currency:
            raise InvalidInput(f"retries[{i}].amount", retry.amount, f"expected {currency}")
        if retry.line_id in seen:
            raise InvalidInput(f"retries[{i}].line_id", retry.line_id, "given twice")
        seen.add(retry.line_id)
        tally = tallies.get(retry.merchant_id) or tallies.setdefault(retry.merchant_id, _Tally())
        tally.retried += retry.amount.minor_units
        tally.retries.append(retry.line_id)


def _carried(carry_forward: Iterable[CarryForward], currency: str) -> dict[str, int]:
    carried: dict[str, int] = {}
    for i, item in enumerate(carry_forward):
        if i >= ITEMS_MAX:
            raise InvalidInput("carry_forward", i, f"more than {ITEMS_MAX} balances")
        if not isinstance(item, CarryForward):
            raise InvalidInput(f"carry_forward[{i}]", item, "expected a CarryForward")
        if item.balance.currency != currency:
            raise InvalidInput(f"carry_forward[{i}].balance", item.balance, f"expected {currency}")
        if item.merchant_id in carried:
            raise InvalidInput(f"carry_forward[{i}].merchant_id", item.merchant_id, "given twice")
        carried[item.merchant_id] = item.balance.minor_units
    return carried


def _line(batch_id: str, terms: MerchantTerms, tally: _Tally, carried_in: int) -> SettlementLine:
    currency = terms.currency
    deducted = tally.fees + tally.refunded + tally.charged_back
    net = tally.captured - deducted + carried_in + tally.retried

    def money(minor: int) -> Money:
        return Money.from_minor(minor, currency)

    return SettlementLine(
        line_id=f"{batch_id}:{terms.merchant_id}",
        merchant_id=terms.merchant_id,
        payee_account=terms.payee_account,
        order_ids=sorted(tally.orders),
        deduction_ids=sorted(tally.deductions),
        captured=money(tally.captured),
        fees=money(tally.fees),
        refunded=money(tally.refunded),
        charged_back=money(tally.charged_back),
        carried_in=money(carried_in),
        retried=money(tally.retried),
        retried_line_ids=sorted(tally.retries),
        payment=money(max(net, 0)),
        carried_out=money(min(net, 0)),
    )


def run_settlement(
    run_date: datetime.date,
    *,
    channel: str,
    calendar: BusinessCalendar,
    terms: Mapping[str, MerchantTerms],
    captures: Iterable[Capture],
    deductions: Iterable[Deduction] = (),
    carry_forward: Iterable[CarryForward] = (),
    retries: Iterable[Retry] = (),
    currency: str = "CNY",
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> SettlementRun:
    """Settle every merchant whose captures or deductions fall due on ``run_date`` (module
    docstring). ``terms`` maps merchant id to its terms; a capture or deduction of a merchant
    without terms, in another currency, or an id given twice raises InvalidInput."""
    require_date("run_date", run_date)
    check_id("channel", channel, CHANNEL_LENGTH_MAX)
    Money.zero(currency)  # an unknown currency raises UnknownCurrency naming it
    if not isinstance(calendar, BusinessCalendar):
        raise InvalidInput("calendar", calendar, "expected a loancore.calendar.BusinessCalendar")
    carried = _carried(carry_forward, currency)
    tallies = _tally(run_date, _Dates(calendar), terms, captures, deductions, currency)
    _tally_retries(retries, terms, currency, tallies)
    for i, (merchant_id, balance) in enumerate(carried.items()):  # in the input's order
        if balance > 0 and merchant_id not in tallies:  # owed and not yet paid
            _terms_for(terms, merchant_id, currency, "carry_forward", i)
            tallies[merchant_id] = _Tally()
    batch_id = f"{channel}:{run_date.isoformat()}"
    lines = tuple(
        _line(batch_id, terms[merchant_id], tallies[merchant_id], carried.get(merchant_id, 0))
        for merchant_id in sorted(tallies)
    )
    return _assemble(batch_id, channel, run_date, currency, lines, carried, mapping)


def _assemble(
    batch_id: str,
    channel: str,
    run_date: datetime.date,
    currency: str,
    lines: tuple[SettlementLine, ...],
    carried: dict[str, int],
    mapping: SubjectMapping,
) -> SettlementRun:
    instructions = tuple(
        PaymentInstruction(
            batch_id=batch_id,
            line_id=line.line_id,
            merchant_id=line.merchant_id,
            payee_account=line.payee_account,
            amount=line.payment,
            value_date=run_date,
        )
        for line in lines
        if line.payment.is_positive()
    )
    batch = SettlementBatch(
        batch_id=batch_id,
        channel=channel,
        run_date=run_date,
        currency=currency,
        lines=lines,
        instructions=instructions,
    )
    entries = tuple(e for line in lines for e in instruction_entries(line, run_date, mapping))
    balances = dict(carried)
    for line in lines:
        balances[line.merchant_id] = line.carried_out.minor_units
    carry = tuple(
        CarryForward(merchant_id=m, balance=Money.from_minor(b, currency))
        for m, b in sorted(balances.items())
        if b
    )
    return SettlementRun(batch=batch, entries=entries, carry_forward=carry)
