"""Year-end close of the income and expense subjects into 本年利润 (current-year profit).

结转损益: at the end of a year every income (6xxx credit) and expense (6xxx debit) subject is
brought to zero by one entry whose other side is 4103 本年利润, so the profit of the year sits in
equity and the next year's income statement starts from zero. Pure: the caller books the entry
(before closing the period, since it is dated on the last day).
"""

from __future__ import annotations

from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry, Leg
from loancore.ledger.reports import TrialBalance
from loancore.ledger.subjects import Chart, Side, SubjectKind
from loancore.money import Money

__all__ = ["PROFIT_SUBJECT", "profit_transfer_entry"]

PROFIT_SUBJECT = "4103"
"""本年利润 in the default chart."""

_PROFIT_AND_LOSS = (SubjectKind.INCOME, SubjectKind.EXPENSE)


def profit_transfer_entry(
    report: TrialBalance,
    chart: Chart,
    *,
    entry_id: str,
    idempotency_key: str,
    profit_subject: str = PROFIT_SUBJECT,
) -> JournalEntry | None:
    """The entry that zeroes every income and expense subject of ``report`` into
    ``profit_subject``, dated ``report.as_of``; None when they are all zero already.

    Per currency: each posted income or expense subject gets one leg on the side opposite to its
    net balance, and ``profit_subject`` takes the difference (credit for a profit, debit for a
    loss), so the entry balances by construction.
    """
    if profit_subject not in chart:
        raise InvalidInput("profit_subject", profit_subject, "not in the chart")
    legs: list[Leg] = []
    for currency in report.currencies():
        net_total = 0
        for line in report.lines:
            subject = chart.find(line.subject_code)
            if line.currency != currency or subject is None or subject.kind not in _PROFIT_AND_LOSS:
                continue
            net = line.net_debit.minor_units
            if net:
                side = Side.CREDIT if net > 0 else Side.DEBIT
                legs.append(Leg(line.subject_code, side, Money.from_minor(abs(net), currency)))
                net_total += net
        if net_total:
            side = Side.DEBIT if net_total > 0 else Side.CREDIT
            legs.append(Leg(profit_subject, side, Money.from_minor(abs(net_total), currency)))
    if not legs:
        return None
    return JournalEntry(
        entry_id=entry_id,
        idempotency_key=idempotency_key,
        accounting_date=report.as_of,
        legs=legs,
        memo=f"结转损益 {report.as_of.year}: income and expenses to {profit_subject}",
    )
