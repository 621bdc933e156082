"""Reports, pure functions over values the stores hold (the app reads them; nothing here reads a
store, a file or the clock).

- :mod:`~loancore.reports.financial`: :func:`balance_sheet` and :func:`income_statement` from a
  trial balance and the chart (the trial balance itself is the ledger's);
- :mod:`~loancore.reports.portfolio`: :func:`aging` by bucket, five-level :func:`classification`,
  :func:`vintage` (DPD30+ by cohort and month on book), :func:`roll_rates`, and
  :func:`position_on`, a loan's standing on a past day rebuilt from its history;
- :mod:`~loancore.reports.bill`: :func:`customer_bill`, a borrower's bill across loans;
- :mod:`~loancore.reports.settlement`: :func:`settlement_summary` per merchant;
- :mod:`~loancore.reports.written_off`: :func:`written_off_register`, the loans written off
  (核销) and sold, and the 已核销贷款 register.
"""

from loancore.reports.bill import Bill, BillLine, HistoryLine, customer_bill
from loancore.reports.financial import (
    BalanceSheet,
    IncomeStatement,
    StatementLine,
    balance_sheet,
    income_statement,
    net_debits,
)
from loancore.reports.portfolio import (
    DEFAULT_POLICY,
    AgingRow,
    ClassRow,
    Position,
    RollRates,
    Vintage,
    VintageRow,
    aging,
    classification,
    month_ends,
    position_on,
    roll_rates,
    vintage,
)
from loancore.reports.settlement import MerchantTotals, settlement_summary
from loancore.reports.written_off import WrittenOffRegister, written_off_register

__all__ = [
    "DEFAULT_POLICY",
    "AgingRow",
    "BalanceSheet",
    "Bill",
    "BillLine",
    "ClassRow",
    "HistoryLine",
    "IncomeStatement",
    "MerchantTotals",
    "Position",
    "RollRates",
    "StatementLine",
    "Vintage",
    "VintageRow",
    "WrittenOffRegister",
    "aging",
    "balance_sheet",
    "classification",
    "customer_bill",
    "income_statement",
    "month_ends",
    "net_debits",
    "position_on",
    "roll_rates",
    "settlement_summary",
    "vintage",
    "written_off_register",
]
