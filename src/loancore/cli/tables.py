"""The reports as rich tables (the demo and ``loancore report`` print the same ones)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.table import Table

from loancore.ledger import Chart, TrialBalance
from loancore.money import Money
from loancore.reports import (
    AgingRow,
    BalanceSheet,
    Bill,
    ClassRow,
    IncomeStatement,
    MerchantTotals,
    RollRates,
    StatementLine,
    Vintage,
    WrittenOffRegister,
)

__all__ = [
    "aging_table",
    "balance_sheet_table",
    "bill_tables",
    "classification_table",
    "income_statement_table",
    "money_text",
    "percent_text",
    "roll_rate_table",
    "settlement_table",
    "trial_balance_table",
    "vintage_table",
    "written_off_table",
]

VINTAGE_COLUMNS_MAX = 18


def money_text(minor: int, currency: str) -> str:
    """Minor units as the currency's amount with thousands separators: ``1,234.50``."""
    return f"{Money.from_minor(minor, currency).amount:,}"


def percent_text(rate: Decimal) -> str:
    """A fraction as a percentage with one decimal: ``0.1234`` -> ``12.3%``."""
    return f"{(rate * 100).quantize(Decimal('0.1'))}%"


def _share(part: int, whole: int) -> str:
    return "-" if whole == 0 else percent_text(Decimal(part) / Decimal(whole))


def trial_balance_table(trial: TrialBalance, chart: Chart, currency: str) -> Table:
    table = Table(title=f"Trial balance as of {trial.as_of} ({currency})")
    for name in ("subject", "name", "debit", "credit"):
        table.add_column(name, justify="right" if name in ("debit", "credit") else "left")
    for line in trial.lines:
        if line.currency != currency:
            continue
        subject = chart.find(line.subject_code)
        name = f"{subject.name_zh} {subject.name_en}" if subject is not None else ""
        table.add_row(
            line.subject_code,
            name,
            money_text(line.debit_total.minor_units, currency),
            money_text(line.credit_total.minor_units, currency),
        )
    debit, credit = trial.totals(currency)
    balanced = "balanced" if debit == credit else "NOT BALANCED"
    table.add_row(
        "total",
        balanced,
        money_text(debit.minor_units, currency),
        money_text(credit.minor_units, currency),
        style="bold",
    )
    return table


def _lines(table: Table, heading: str, lines: Sequence[StatementLine], currency: str) -> int:
    table.add_row(heading, "", "", style="bold")
    for line in lines:
        table.add_row(
            f"  {line.subject_code}", f"{line.name_zh} {line.name_en}",
            money_text(line.amount_minor, currency),
        )  # fmt: skip
    return sum(line.amount_minor for line in lines)


def balance_sheet_table(sheet: BalanceSheet) -> Table:
    currency = sheet.currency
    table = Table(title=f"Balance sheet as of {sheet.as_of} ({currency})")
    table.add_column("subject")
    table.add_column("name")
    table.add_column("amount", justify="right")
    _lines(table, "Assets", sheet.assets, currency)
    table.add_row("", "total assets", money_text(sheet.assets_minor, currency), style="bold")
    _lines(table, "Liabilities", sheet.liabilities, currency)
    table.add_row(
        "", "total liabilities", money_text(sheet.liabilities_minor, currency), style="bold"
    )
    _lines(table, "Equity", sheet.equity, currency)
    table.add_row(
        "  profit", "current profit (not yet closed)", money_text(sheet.profit_minor, currency)
    )
    table.add_row("", "total equity", money_text(sheet.equity_minor, currency), style="bold")
    table.caption = f"assets = liabilities + equity: {sheet.balanced}"
    return table


def income_statement_table(statement: IncomeStatement, title: str) -> Table:
    currency = statement.currency
    table = Table(title=f"Income statement {title} ({currency})")
    table.add_column("subject")
    table.add_column("name")
    table.add_column("amount", justify="right")
    _lines(table, "Income", statement.income, currency)
    table.add_row("", "total income", money_text(statement.income_minor, currency), style="bold")
    _lines(table, "Expenses", statement.expenses, currency)
    table.add_row(
        "", "total expenses", money_text(statement.expenses_minor, currency), style="bold"
    )
    table.add_row("", "profit", money_text(statement.profit_minor, currency), style="bold")
    return table


def aging_table(rows: Sequence[AgingRow], currency: str, title: str) -> Table:
    table = Table(title=title)
    for name in ("bucket", "loans", "principal", "share"):
        table.add_column(name, justify="left" if name == "bucket" else "right")
    total = sum(row.principal_minor for row in rows)
    for row in rows:
        table.add_row(
            row.bucket, str(row.count), money_text(row.principal_minor, currency),
            _share(row.principal_minor, total),
        )  # fmt: skip
    count = sum(row.count for row in rows)
    table.add_row("total", str(count), money_text(total, currency), "", style="bold")
    return table


def classification_table(rows: Sequence[ClassRow], currency: str, title: str) -> Table:
    table = Table(title=title)
    for name in ("class", "loans", "principal", "share"):
        table.add_column(name, justify="left" if name == "class" else "right")
    total = sum(row.principal_minor for row in rows)
    for row in rows:
        label = f"{row.risk_class.name_zh} {row.risk_class.name.lower()}"
        table.add_row(
            label, str(row.count), money_text(row.principal_minor, currency),
            _share(row.principal_minor, total),
        )  # fmt: skip
    return table


def written_off_table(register: WrittenOffRegister, currency: str) -> Table:
    """Loans written off (核销) and sold (不良资产转让), and the 已核销贷款 register."""
    table = Table(title="Written off and sold (核销 / 不良资产转让)")
    table.add_column("")
    table.add_column("loans", justify="right")
    table.add_column("amount", justify="right")
    rows = (
        ("written off: principal", str(register.written_off_loans),
         register.written_off_principal_minor),
        ("sold: principal", str(register.sold_loans), register.sold_principal_minor),
        ("已核销贷款 register: booked", "", register.register_booked_minor),
        ("  recovered after write-off", "", register.register_recovered_minor),
        ("  still pursued", "", register.register_balance_minor),
    )  # fmt: skip
    for label, count, minor in rows:
        table.add_row(label, count, money_text(minor, currency))
    return table


def vintage_table(vintage: Vintage, currency: str) -> Table:
    table = Table(title=f"Vintage: share of loans DPD{vintage.dpd_min}+ by month on book")
    table.add_column("cohort")
    table.add_column("loans", justify="right")
    table.add_column("disbursed", justify="right")
    width = min(VINTAGE_COLUMNS_MAX, max((len(row.rates) for row in vintage.rows), default=0))
    for month in range(width):
        table.add_column(f"M{month}", justify="right")
    for row in vintage.rows:
        cells = [percent_text(rate) for rate in row.rates[:width]]
        cells += [""] * (width - len(cells))
        table.add_row(row.cohort, str(row.loans), money_text(row.disbursed_minor, currency), *cells)
    return table


def roll_rate_table(matrix: RollRates) -> Table:
    table = Table(title="Roll rates: month-end bucket (rows) to the next month end (columns)")
    table.add_column("from")
    for column in matrix.columns:
        table.add_column(column, justify="right")
    table.add_column("loans", justify="right")
    for label, row, counts in zip(matrix.rows, matrix.rates(), matrix.counts, strict=True):
        if sum(counts) == 0:
            continue
        table.add_row(label, *(percent_text(rate) for rate in row), str(sum(counts)))
    return table


def settlement_table(totals: Sequence[MerchantTotals], currency: str, limit: int = 10) -> Table:
    table = Table(title=f"Merchant settlement (the {limit} largest of {len(totals)} merchants)")
    for name in ("merchant", "lines", "captured", "fees", "refunded", "paid", "carried"):
        table.add_column(name, justify="left" if name == "merchant" else "right")
    ranked = sorted(totals, key=lambda t: (-t.captured_minor, t.merchant_id))
    for row in ranked[:limit]:
        table.add_row(
            row.merchant_id, str(row.batches), money_text(row.captured_minor, currency),
            money_text(row.fees_minor, currency), money_text(row.refunded_minor, currency),
            money_text(row.paid_minor, currency), money_text(row.carried_minor, currency),
        )  # fmt: skip
    sums = [sum(getattr(t, f) for t in totals) for f in (
        "batches", "captured_minor", "fees_minor", "refunded_minor", "paid_minor", "carried_minor"
    )]  # fmt: skip
    table.add_row(
        "all", str(sums[0]), *(money_text(value, currency) for value in sums[1:]), style="bold"
    )
    return table


def bill_tables(bill: Bill) -> tuple[Table, Table]:
    currency = bill.currency or "CNY"
    loans = Table(title=f"Bill of {bill.customer_id} on {bill.as_of}")
    for name in (
        "loan",
        "merchant",
        "status",
        "paid",
        "overdue",
        "next due",
        "amount",
        "remaining",
    ):
        loans.add_column(
            name, justify="right" if name in ("overdue", "amount", "remaining") else "left"
        )
    for line in bill.lines:
        loans.add_row(
            line.loan_id, line.merchant_id, line.status,
            f"{line.installments_paid}/{line.installments}",
            money_text(line.overdue_minor, currency),
            "" if line.next_due is None else line.next_due.isoformat(),
            money_text(line.next_due_minor, currency), money_text(line.remaining_minor, currency),
        )  # fmt: skip
    loans.caption = (
        f"to pay now (overdue and next installments): {money_text(bill.due_minor, currency)}"
    )
    history = Table(title="History")
    for name in ("date", "loan", "what", "amount"):
        history.add_column(name, justify="right" if name == "amount" else "left")
    for item in bill.history:
        history.add_row(
            item.as_of.isoformat(), item.loan_id, item.kind, money_text(item.amount_minor, currency)
        )
    return loans, history
