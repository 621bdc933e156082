"""``loancore report portfolio --html FILE``: one self-contained HTML page of the portfolio.

The page holds a dashboard of the figures a lender's managers watch (disbursed, principal
outstanding, income, overdue share by stage, loans due within 3 days), the principal by aging
bucket month by month (stacked), the vintage curves (DPD30+ by month on book), the roll-rate
matrix as a heat map, the income statement, the loans written off and sold with the
已核销贷款 register, and the merchant settlement totals. Charts are drawn
with matplotlib (the ``reports`` extra) as SVG written inline: the file needs no network, no
script and no other file. Every figure comes from :mod:`loancore.reports`.
"""

from __future__ import annotations

import html
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from loancore.app.lender import Lender
from loancore.delinquency import DEFAULT_BUCKETS, DelinquencyPolicy, classify
from loancore.money import Money
from loancore.reports import (
    IncomeStatement,
    MerchantTotals,
    WrittenOffRegister,
    aging,
    income_statement,
    month_ends,
    roll_rates,
    settlement_summary,
    vintage,
    written_off_register,
)
from loancore.servicing import Loan, LoanStatus

__all__ = ["DUE_SOON_DAYS", "portfolio_html", "write_portfolio_html"]

DUE_SOON_DAYS = 3
_POLICY = DelinquencyPolicy()
CURRENCY = "CNY"
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
td.n{text-align:right}.cards{display:flex;flex-wrap:wrap;gap:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.8em 1.2em;min-width:12em}
.card b{display:block;font-size:1.4em}"""


def _amount(minor: int) -> str:
    return f"{Money.from_minor(minor, CURRENCY).amount:,}"


def _svg(figure: object) -> str:
    buffer = io.StringIO()
    # no date in the metadata: the same book gives the same page
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG sits inside the HTML


def _bucket_chart(loans: list[Loan], ends: tuple[date, ...]) -> str:
    from matplotlib.figure import Figure

    labels = [bucket.label for bucket in DEFAULT_BUCKETS.buckets()]
    series = {label: [] for label in labels}  # type: dict[str, list[float]]
    for end in ends:
        rows = {row.bucket: row.principal_minor for row in aging(loans, end)}
        for label in labels:
            series[label].append(rows.get(label, 0) / 100)  # float only for plotting
    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots()
    axes.stackplot([end.isoformat()[:7] for end in ends], *series.values(), labels=labels)
    axes.set_title("Principal outstanding by aging bucket (CNY)")
    axes.legend(loc="upper left", fontsize="small", ncol=4)
    axes.tick_params(axis="x", labelrotation=60, labelsize="small")
    return _svg(figure)


def _vintage_chart(loans: list[Loan], as_of: date) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots()
    for row in vintage(loans, as_of).rows:
        axes.plot(
            range(len(row.rates)),
            [float(rate) * 100 for rate in row.rates],  # float-ok: chart coordinates
            label=row.cohort,
        )
    axes.set_title("Vintage curves: % of loans DPD30+ by month on book")
    axes.set_xlabel("month on book")
    axes.legend(fontsize="x-small", ncol=6)
    return _svg(figure)


def _roll_chart(loans: list[Loan], ends: tuple[date, ...]) -> str:
    from matplotlib.figure import Figure

    matrix = roll_rates(loans, ends)
    values = [[float(rate) * 100 for rate in row] for row in matrix.rates()]  # float-ok: colours
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    image = axes.imshow(values, cmap="Reds", vmin=0, vmax=100)
    axes.set_xticks(range(len(matrix.columns)), matrix.columns)
    axes.set_yticks(range(len(matrix.rows)), matrix.rows)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            if value:
                axes.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize="x-small")
    figure.colorbar(image, ax=axes, label="% of the row's loans")
    axes.set_title("Roll rates: month-end bucket to the next")
    return _svg(figure)


def _dashboard(loans: list[Loan], statement: IncomeStatement, as_of: date) -> str:
    active = [loan for loan in loans if loan.status is LoanStatus.ACTIVE]
    outstanding = sum(loan.principal_outstanding() for loan in active)
    by_stage: dict[int, int] = {}
    for loan in active:
        stage = int(classify(loan, as_of, _POLICY).stage)
        by_stage[stage] = by_stage.get(stage, 0) + loan.principal_outstanding()
    soon = as_of + timedelta(days=DUE_SOON_DAYS)
    due_soon = sum(
        1
        for loan in active
        if any(as_of < i.due_date <= soon and i.outstanding() for i in loan.installments)
    )
    cards = [
        ("disbursed", _amount(sum(loan.principal_disbursed for loan in loans))),
        ("principal outstanding", _amount(outstanding)),
        ("income to date", _amount(statement.income_minor)),
        ("cost of funds (interest expense)", _amount(statement.expenses_minor)),
        (f"loans due within {DUE_SOON_DAYS} days", str(due_soon)),
    ]
    for stage in (2, 3):
        share = Decimal(by_stage.get(stage, 0)) / Decimal(outstanding or 1) * 100
        cards.append((f"stage {stage} share of principal", f"{share.quantize(Decimal('0.1'))}%"))
    return "".join(
        f'<div class="card">{html.escape(name)}<b>{html.escape(value)}</b></div>'
        for name, value in cards
    )


def _statement_table(statement: IncomeStatement) -> str:
    rows = [("Income", "")]
    rows += [
        (f"{s.subject_code} {s.name_zh} {s.name_en}", _amount(s.amount_minor))
        for s in statement.income
    ]
    rows.append(("Expenses", ""))
    rows += [
        (f"{s.subject_code} {s.name_zh} {s.name_en}", _amount(s.amount_minor))
        for s in statement.expenses
    ]
    rows.append(("Profit", _amount(statement.profit_minor)))
    cells = "".join(f"<tr><td>{html.escape(a)}</td><td class=n>{b}</td></tr>" for a, b in rows)
    return f"<table>{cells}</table>"


def _settlement_table(totals: tuple[MerchantTotals, ...]) -> str:
    head = "<tr><th>merchant</th><th>captured</th><th>fees</th><th>refunded</th><th>paid</th></tr>"
    rows = "".join(
        f"<tr><td>{html.escape(t.merchant_id)}</td><td class=n>{_amount(t.captured_minor)}</td>"
        f"<td class=n>{_amount(t.fees_minor)}</td><td class=n>{_amount(t.refunded_minor)}</td>"
        f"<td class=n>{_amount(t.paid_minor)}</td></tr>"
        for t in totals
    )
    return f"<table>{head}{rows}</table>"


def _written_off_table(register: WrittenOffRegister) -> str:
    rows = (
        (f"written off (核销): {register.written_off_loans} loans, principal",
         register.written_off_principal_minor),
        (f"sold (不良资产转让): {register.sold_loans} loans, principal",
         register.sold_principal_minor),
        ("已核销贷款 register: booked", register.register_booked_minor),
        ("recovered after write-off", register.register_recovered_minor),
        ("still pursued", register.register_balance_minor),
    )  # fmt: skip
    cells = "".join(
        f"<tr><td>{html.escape(a)}</td><td class=n>{_amount(b)}</td></tr>" for a, b in rows
    )
    return f"<table>{cells}</table>"


def portfolio_html(lender: Lender, as_of: date) -> str:
    """The page (module docstring) of ``lender``'s book on ``as_of``."""
    loans = [loan for loan in lender.loans() if loan.last_date <= as_of]
    chart = lender.chart()
    statement = income_statement(lender.trial_balance(as_of), chart, CURRENCY)
    first = min((loan.terms.start_date for loan in loans), default=as_of)
    ends = month_ends(first, as_of)
    totals = settlement_summary(lender.settlement_batches(first, as_of))
    register = written_off_register(loans, lender.written_off_memos())
    sections = [
        f"<h1>Portfolio on {as_of}</h1>",
        f'<div class="cards">{_dashboard(loans, statement, as_of)}</div>',
        "<h2>Balance by bucket over time</h2>", _bucket_chart(loans, ends),
        "<h2>Vintage curves</h2>", _vintage_chart(loans, as_of),
        "<h2>Roll rates</h2>", _roll_chart(loans, ends),
        f"<h2>Income statement to {as_of} ({CURRENCY})</h2>", _statement_table(statement),
        f"<h2>Written off and sold ({CURRENCY})</h2>", _written_off_table(register),
        f"<h2>Merchant settlement ({CURRENCY})</h2>", _settlement_table(totals),
    ]  # fmt: skip
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>loancore portfolio {as_of}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_portfolio_html(lender: Lender, as_of: date, path: Path) -> Path:
    """Write :func:`portfolio_html` to ``path`` (UTF-8); returns the path."""
    path.write_text(portfolio_html(lender, as_of), encoding="utf-8")
    return path
