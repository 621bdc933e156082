"""Financial statements from a trial balance and the chart: pure functions over values.

- :func:`balance_sheet`: assets, liabilities and equity as of the trial balance's date. Income
  and expense subjects not yet closed to retained earnings enter equity as the period's profit
  (本年利润 before closing); a common subject (共同类, e.g. 3001 清算资金往来) is an asset when its
  balance is on the debit side and a liability otherwise. ``balanced`` checks assets ==
  liabilities + equity to the minor unit, which holds exactly when the trial balance does.
- :func:`income_statement`: income and expenses between two trial balances (the later one's
  cumulative totals less the earlier one's; without an earlier one, since the first entry).

Amounts are integer minor units of one currency; each line names its subject, rolled up to the
chart's top-level subjects (``1303.01`` counts under ``1303``) so a statement stays one page.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from loancore.errors import InvalidInput
from loancore.ledger.reports import TrialBalance
from loancore.ledger.subjects import Chart, Side, SubjectKind

__all__ = [
    "BalanceSheet",
    "IncomeStatement",
    "StatementLine",
    "balance_sheet",
    "income_statement",
    "net_debits",
]


@attrs.frozen
class StatementLine:
    """One top-level subject's balance on its normal side, minor units."""

    subject_code: str
    name_en: str
    name_zh: str
    amount_minor: int


@attrs.frozen
class BalanceSheet:
    as_of: object
    currency: str
    assets: tuple[StatementLine, ...]
    liabilities: tuple[StatementLine, ...]
    equity: tuple[StatementLine, ...]
    profit_minor: int  # income less expenses not yet closed, inside equity

    @property
    def assets_minor(self) -> int:
        return sum(line.amount_minor for line in self.assets)

    @property
    def liabilities_minor(self) -> int:
        return sum(line.amount_minor for line in self.liabilities)

    @property
    def equity_minor(self) -> int:
        return sum(line.amount_minor for line in self.equity) + self.profit_minor

    @property
    def balanced(self) -> bool:
        return self.assets_minor == self.liabilities_minor + self.equity_minor


@attrs.frozen
class IncomeStatement:
    currency: str
    income: tuple[StatementLine, ...]
    expenses: tuple[StatementLine, ...]

    @property
    def income_minor(self) -> int:
        return sum(line.amount_minor for line in self.income)

    @property
    def expenses_minor(self) -> int:
        return sum(line.amount_minor for line in self.expenses)

    @property
    def profit_minor(self) -> int:
        return self.income_minor - self.expenses_minor


def _top(chart: Chart, code: str) -> str:
    """The top-level ancestor of ``code`` (an explicit walk, bounded by the chart's size)."""
    current = code
    for _ in range(len(chart) + 1):
        subject = chart.find(current)
        if subject is None or subject.parent_code is None:
            return current
        current = subject.parent_code
    raise InvalidInput("chart", code, "the subject's parents form a cycle")


def net_debits(trial: TrialBalance, chart: Chart, currency: str) -> dict[str, int]:
    """Net debit (debits less credits, minor units) per top-level subject in ``currency``."""
    totals: dict[str, int] = {}
    for line in trial.lines:
        if line.currency != currency:
            continue
        top = _top(chart, line.subject_code)
        totals[top] = totals.get(top, 0) + line.net_debit.minor_units
    return totals


def _line(chart: Chart, code: str, amount_minor: int) -> StatementLine:
    subject = chart.find(code)
    name_en = subject.name_en if subject is not None else code
    name_zh = subject.name_zh if subject is not None else code
    return StatementLine(code, name_en, name_zh, amount_minor)


def _normal(chart: Chart, code: str, net_debit: int) -> int:
    subject = chart.find(code)
    credit_normal = subject is not None and subject.normal_side is Side.CREDIT
    return -net_debit if credit_normal else net_debit


def _kind(chart: Chart, code: str) -> SubjectKind:
    subject = chart.find(code)
    if subject is None:
        raise InvalidInput("subject_code", code, "not in the chart")
    return subject.kind


def balance_sheet(trial: TrialBalance, chart: Chart, currency: str) -> BalanceSheet:
    """The balance sheet of ``trial`` in ``currency`` (module docstring)."""
    assets: list[StatementLine] = []
    liabilities: list[StatementLine] = []
    equity: list[StatementLine] = []
    profit = 0
    for code, net in sorted(net_debits(trial, chart, currency).items()):
        kind = _kind(chart, code)
        if kind is SubjectKind.ASSET:
            assets.append(_line(chart, code, net))
        elif kind is SubjectKind.LIABILITY:
            liabilities.append(_line(chart, code, -net))
        elif kind is SubjectKind.EQUITY:
            equity.append(_line(chart, code, -net))
        elif kind is SubjectKind.COMMON:
            if net >= 0:
                assets.append(_line(chart, code, net))
            else:
                liabilities.append(_line(chart, code, -net))
        else:  # income (credit balance) and expense (debit balance) not yet closed
            profit -= net
    return BalanceSheet(
        trial.as_of, currency, tuple(assets), tuple(liabilities), tuple(equity), profit
    )


def _difference(later: Mapping[str, int], earlier: Mapping[str, int]) -> dict[str, int]:
    codes = set(later) | set(earlier)
    return {code: later.get(code, 0) - earlier.get(code, 0) for code in codes}


def income_statement(
    trial: TrialBalance, chart: Chart, currency: str, *, since: TrialBalance | None = None
) -> IncomeStatement:
    """Income and expenses in ``currency`` from ``since``'s date (exclusive; None: from the
    first entry) to ``trial``'s date (inclusive), each on its normal side."""
    later = net_debits(trial, chart, currency)
    earlier = {} if since is None else net_debits(since, chart, currency)
    if since is not None and since.as_of > trial.as_of:
        raise InvalidInput("since", since.as_of, f"must not be after {trial.as_of}")
    income: list[StatementLine] = []
    expenses: list[StatementLine] = []
    for code, net in sorted(_difference(later, earlier).items()):
        kind = _kind(chart, code)
        if kind is SubjectKind.INCOME and net:
            income.append(_line(chart, code, _normal(chart, code, net)))
        elif kind is SubjectKind.EXPENSE and net:
            expenses.append(_line(chart, code, _normal(chart, code, net)))
    return IncomeStatement(currency, tuple(income), tuple(expenses))
