"""Report values: trial balance (试算平衡表) and general-ledger detail (明细账), with pure builders.

Stores compute sums (they know how to do that fast); the shaping into these values is pure and
shared, so every store returns the same thing for the same postings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import attrs

from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.ledger.entries import Dimensions, JournalEntry, Leg
from loancore.ledger.subjects import Side, Subject
from loancore.money import Money

__all__ = [
    "GeneralLedger",
    "GeneralLedgerLine",
    "TrialBalance",
    "TrialBalanceLine",
    "general_ledger_of",
    "in_normal_side",
    "trial_balance_of",
]


def in_normal_side(net_debit_minor: int, subject: Subject, currency: str) -> Money:
    """A net debit (debits minus credits, minor units) as a balance on ``subject``'s normal side.

    A loan (debit-normal) with net debit 100 has balance +100; an income subject (credit-normal)
    with net debit -100 has balance +100. A negative result means the balance sits on the other
    side (a 借方余额 on a liability, for example).
    """
    signed = net_debit_minor if subject.normal_side is Side.DEBIT else -net_debit_minor
    return Money.from_minor(signed, currency)


@attrs.frozen
class TrialBalanceLine:
    """Cumulative debits and credits of one subject in one currency, up to the as-of date."""

    subject_code: str
    currency: str
    debit_total: Money
    credit_total: Money

    @property
    def net_debit(self) -> Money:
        """Debits minus credits (positive: a debit balance)."""
        return self.debit_total - self.credit_total


def _trial_balance_lines(lines: Iterable[TrialBalanceLine]) -> tuple[TrialBalanceLine, ...]:
    return tuple(lines)


@attrs.frozen
class TrialBalance:
    """Every posted subject's debit and credit totals as of ``as_of`` (inclusive), per currency.

    Lines are the subjects posted to, not rolled up (a parent's own postings only), sorted by
    subject code then currency. Balanced means: for each currency, total debits == total credits.
    """

    as_of: date
    lines: tuple[TrialBalanceLine, ...] = attrs.field(converter=_trial_balance_lines)

    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({line.currency for line in self.lines}))

    def totals(self, currency: str) -> tuple[Money, Money]:
        """(total debits, total credits) in ``currency``."""
        lines = [ln for ln in self.lines if ln.currency == currency]
        debit = sum(ln.debit_total.minor_units for ln in lines)
        credit = sum(ln.credit_total.minor_units for ln in lines)
        return Money.from_minor(debit, currency), Money.from_minor(credit, currency)

    def is_balanced(self) -> bool:
        for currency in self.currencies():
            debit, credit = self.totals(currency)
            if debit != credit:
                return False
        return True

    def line(self, subject_code: str, currency: str) -> TrialBalanceLine | None:
        for ln in self.lines:
            if ln.subject_code == subject_code and ln.currency == currency:
                return ln
        return None


def trial_balance_of(as_of: date, totals: Iterable[tuple[str, str, int, int]]) -> TrialBalance:
    """Build a :class:`TrialBalance` from ``(subject_code, currency, debit_minor, credit_minor)``.

    Rows with both totals zero are left out; the rest are sorted by subject then currency.
    """
    require_date("as_of", as_of)
    lines = [
        TrialBalanceLine(
            code, currency, Money.from_minor(debit, currency), Money.from_minor(credit, currency)
        )
        for code, currency, debit, credit in sorted(totals)
        if debit or credit
    ]
    return TrialBalance(as_of, lines)


@attrs.frozen
class GeneralLedgerLine:
    """One posting in a general-ledger detail, with the running balance after it.

    ``balance_after`` is on the ledger's subject's normal side and, for a parent subject, rolled
    up over its sub-accounts (``subject_code`` is the sub-account actually posted).
    """

    accounting_date: date
    entry_id: str
    subject_code: str
    side: Side
    amount: Money
    dimensions: Dimensions
    memo: str
    balance_after: Money


def _general_ledger_lines(lines: Iterable[GeneralLedgerLine]) -> tuple[GeneralLedgerLine, ...]:
    return tuple(lines)


@attrs.frozen
class GeneralLedger:
    """The detail of one subject (rolled up) in one currency over ``start..end`` (inclusive).

    ``opening`` is the balance as of the day before ``start``; ``closing`` the balance as of
    ``end``; both on the subject's normal side. ``closing == opening + sum(lines)`` holds by
    construction and is checked.
    """

    subject_code: str
    currency: str
    start: date
    end: date
    opening: Money
    lines: tuple[GeneralLedgerLine, ...] = attrs.field(converter=_general_ledger_lines)
    closing: Money


def general_ledger_of(
    subject: Subject,
    currency: str,
    *,
    start: date,
    end: date,
    opening_net_debit_minor: int,
    postings: Iterable[tuple[JournalEntry, Leg]],
) -> GeneralLedger:
    """Shape ``postings`` (already filtered to the subject's subtree, currency, dimensions and
    period, in accounting-date then posting order) into a :class:`GeneralLedger`."""
    require_date("start", start)
    require_date("end", end)
    if end < start:
        raise InvalidInput("end", end, f"is before start {start}")
    running = opening_net_debit_minor
    lines = []
    for entry, leg in postings:
        running += leg.signed_minor
        lines.append(
            GeneralLedgerLine(
                accounting_date=entry.accounting_date,
                entry_id=entry.entry_id,
                subject_code=leg.subject_code,
                side=leg.side,
                amount=leg.amount,
                dimensions=leg.dimensions,
                memo=entry.memo,
                balance_after=in_normal_side(running, subject, currency),
            )
        )
    return GeneralLedger(
        subject_code=subject.code,
        currency=currency,
        start=start,
        end=end,
        opening=in_normal_side(opening_net_debit_minor, subject, currency),
        lines=lines,
        closing=in_normal_side(running, subject, currency),
    )
