"""The default chart of a Chinese consumer-finance lender, and charts parsed from TOML or CSV text.

Default numbering follows the 2006 application guide of the Accounting Standards for Business
Enterprises (《企业会计准则——应用指南》附录 会计科目和主要账务处理, financial-enterprise subjects):
note that 贷款 is 1303 in the final standard (1301 is 贴现资产). 6702 信用减值损失 was added
with the 2017 financial-instruments standard (CAS 22, expected credit loss), next to
6701 资产减值损失.
Sub-account codes (``1303.01`` ...) are loancore's own two-digit suffixes.

Parsing text is pure (the caller reads the file; see ``loancore.adapters.chart_files``).
"""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import date
from typing import Any

from loancore.errors import InvalidInput
from loancore.ledger.subjects import Chart, Side, Subject, SubjectKind

__all__ = ["CHART_FIELDS", "chart_from_csv", "chart_from_toml", "default_chart"]

A, L, E, C = SubjectKind.ASSET, SubjectKind.LIABILITY, SubjectKind.EQUITY, SubjectKind.COMMON
INC, EXP = SubjectKind.INCOME, SubjectKind.EXPENSE
DR, CR = Side.DEBIT, Side.CREDIT

# code, 中文, English, kind, normal side, parent
_DEFAULT: tuple[tuple[str, str, str, SubjectKind, Side, str | None], ...] = (
    ("1002", "银行存款", "Bank deposits", A, DR, None),
    ("1011", "存放同业", "Due from banks", A, DR, None),
    ("1012", "其他货币资金", "Other monetary funds", A, DR, None),
    ("1132", "应收利息", "Interest receivable", A, DR, None),
    ("1221", "其他应收款", "Other receivables", A, DR, None),
    ("1231", "坏账准备", "Bad debt allowance", A, CR, None),
    ("1303", "贷款", "Loans", A, DR, None),
    ("1303.01", "本金", "Principal", A, DR, "1303"),
    ("1303.02", "利息调整", "Interest adjustment", A, DR, "1303"),
    ("1303.03", "应计利息", "Accrued interest", A, DR, "1303"),
    ("1303.04", "已减值", "Impaired", A, DR, "1303"),
    ("1304", "贷款损失准备", "Loan loss allowance", A, CR, None),
    ("1304.01", "第一阶段", "Stage 1", A, CR, "1304"),
    ("1304.02", "第二阶段", "Stage 2", A, CR, "1304"),
    ("1304.03", "第三阶段", "Stage 3", A, CR, "1304"),
    ("2202", "应付账款", "Accounts payable", L, CR, None),
    ("2221", "应交税费", "Taxes payable", L, CR, None),
    ("2231", "应付利息", "Interest payable", L, CR, None),
    ("2241", "其他应付款", "Other payables", L, CR, None),
    ("2241.01", "溢缴款", "Overpayments", L, CR, "2241"),
    ("2241.02", "应付合作方", "Payable to partners", L, CR, "2241"),
    ("2241.03", "应付助贷服务费", "Commission payable to platforms", L, CR, "2241"),
    ("2241.04", "合作方出资款", "Partner funding", L, CR, "2241"),
    ("3001", "清算资金往来", "Clearing funds", C, DR, None),
    ("4102", "一般风险准备", "General risk reserve", E, CR, None),
    ("4103", "本年利润", "Current year profit", E, CR, None),
    ("6011", "利息收入", "Interest income", INC, CR, None),
    ("6021", "手续费及佣金收入", "Fee and commission income", INC, CR, None),
    ("6021.01", "放款手续费", "Origination fees", INC, CR, "6021"),
    ("6021.02", "管理费", "Management fees", INC, CR, "6021"),
    ("6021.03", "滞纳金", "Late fees", INC, CR, "6021"),
    ("6021.04", "提前还款手续费", "Prepayment fees", INC, CR, "6021"),
    ("6021.09", "其他手续费及佣金", "Other fees and commissions", INC, CR, "6021"),
    ("6051", "其他业务收入", "Other operating income", INC, CR, None),
    ("6411", "利息支出", "Interest expense", EXP, DR, None),
    ("6421", "手续费及佣金支出", "Fee and commission expense", EXP, DR, None),
    ("6701", "资产减值损失", "Asset impairment losses", EXP, DR, None),
    ("6702", "信用减值损失", "Credit impairment losses", EXP, DR, None),
)


def default_chart() -> Chart:
    """The default chart (see the module docstring), every subject open from the start."""
    return Chart(
        Subject(code, zh, en, kind, normal_side=side, parent_code=parent)
        for code, zh, en, kind, side, parent in _DEFAULT
    )


CHART_FIELDS = (
    "code",
    "name_zh",
    "name_en",
    "kind",
    "normal_side",
    "parent_code",
    "open_date",
    "close_date",
)
"""Columns of a chart file (CSV header, TOML keys); the last four are optional."""

_REQUIRED = CHART_FIELDS[:4]
_KINDS_TEXT = f"expected one of {[k.value for k in SubjectKind]}"


def _date_field(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if type(value) is date:
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(field, value, "expected an ISO date YYYY-MM-DD")


def _subject_from_row(row: dict[str, Any], where: str) -> Subject:
    unknown = sorted(set(row) - set(CHART_FIELDS))
    if unknown:
        name = unknown[0]
        raise InvalidInput(f"{where}.{name}", row[name], f"unknown column; expected {CHART_FIELDS}")
    for name in _REQUIRED:
        if row.get(name) in (None, ""):
            raise InvalidInput(f"{where}.{name}", row.get(name), "required")
    kind = row["kind"]
    if kind not in {k.value for k in SubjectKind}:
        raise InvalidInput(f"{where}.kind", kind, _KINDS_TEXT)
    side = row.get("normal_side") or None
    if side is not None and side not in {s.value for s in Side}:
        raise InvalidInput(f"{where}.normal_side", side, "expected 'debit' or 'credit'")
    fields: dict[str, Any] = {
        "parent_code": row.get("parent_code") or None,
        "open_date": _date_field(row.get("open_date"), f"{where}.open_date"),
        "close_date": _date_field(row.get("close_date"), f"{where}.close_date"),
    }
    if side is not None:
        fields["normal_side"] = Side(side)
    return Subject(str(row["code"]), row["name_zh"], row["name_en"], SubjectKind(kind), **fields)


def chart_from_toml(text: str) -> Chart:
    """Parse a chart from TOML: an array of tables ``[[subject]]`` with the keys of CHART_FIELDS.

    ::

        [[subject]]
        code = "1303.01"
        name_zh = "本金"
        name_en = "Principal"
        kind = "asset"
        parent_code = "1303"
        open_date = 2026-01-01
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("chart", "<toml>", f"not valid TOML: {exc}") from None
    rows = data.get("subject")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("chart.subject", rows, "expected a non-empty [[subject]] array")
    return Chart(_subject_from_row(dict(row), f"subject[{i}]") for i, row in enumerate(rows))


def chart_from_csv(text: str) -> Chart:
    """Parse a chart from CSV text with a header row naming CHART_FIELDS columns (UTF-8)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(reader.fieldnames or ())
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise InvalidInput("chart.header", header, f"missing columns {missing}")
    subjects = []
    for i, row in enumerate(reader):
        if None in row:
            raise InvalidInput(f"row[{i}]", row[None], "more cells than header columns")
        cells = {k: (v or "").strip() for k, v in row.items()}
        subjects.append(_subject_from_row(cells, f"row[{i}]"))
    return Chart(subjects)
