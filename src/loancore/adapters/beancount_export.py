"""Export a loancore ledger to a beancount file (opens in beancount's tools and in Fava).

What the file holds:

- ``option`` lines for exact tolerance: ``inferred_tolerance_default "*:0"`` and
  ``tolerance_multiplier "0"``, so an entry off by any amount, or a balance assertion off by one
  minor unit, is an error (beancount's default tolerates half of the last digit).
- One ``open`` per subject, dated its open date or, for a subject open from the start, the
  earliest date in the file (its first entry or memo posting; ``DATE_MIN`` for an empty file), and
  a ``close`` for a subject with a close date (beancount sorts ``close`` after the day's
  transactions, so a subject may be posted on its close date in both systems).
- One transaction per entry: narration = memo; entry id, idempotency key, value date and the
  reversal link as metadata; each leg's dimensions as posting metadata.
- The memo (off-balance, 表外) registers: each is an account under ``Assets:Memo`` (for example
  ``Assets:Memo:OffBalanceInterest``, 表外应收未收利息) paired with a contra account
  (``Assets:Memo:OffBalanceInterestContra``). A memo posting is a transaction between the two (an
  increase debits the register), with its id, key, register, direction and dimensions as
  metadata: beancount stays double-entry, the register's balance is its account's, and
  ``Assets:Memo`` nets to zero, so no balance sheet or trial balance total moves.
- ``balance`` assertions at period ends, from the store's own balances, memo registers included
  (dated the day after each period end, because beancount checks a balance at the start of its
  date). An assertion is written only while its account is open (from its open date to its close
  date): beancount refuses a directive on an inactive account, and loancore's balance of a
  subject before it opens is zero.
- Amounts in plain decimal notation (``10000000000000000000000000000.00``, never ``1.0E+28``,
  which beancount cannot parse).

Account names: the kind gives the root (asset -> ``Assets``, liability -> ``Liabilities``,
equity -> ``Equity``, income -> ``Income``, expense -> ``Expenses``, common/clearing -> ``Assets``);
a root subject is ``<code>-<EnglishName>`` and a sub-account appends ``<EnglishName>``:
``Assets:1303-Loans:Principal``. beancount amounts are debit-positive, so a credit-normal subject
(income, liabilities, 1304 loan-loss allowance) shows a negative balance there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from loancore.checks import DATE_MIN, require_date
from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry, MemoDirection, MemoPosting, MemoRegister
from loancore.ledger.subjects import Chart, Side, Subject, SubjectKind
from loancore.money import Money
from loancore.ports import LedgerStore

__all__ = [
    "MEMO_ROOT",
    "account_names",
    "export_beancount",
    "export_store",
    "memo_account_names",
    "month_ends",
    "write_beancount",
]

_ROOTS = {
    SubjectKind.ASSET: "Assets",
    SubjectKind.LIABILITY: "Liabilities",
    SubjectKind.EQUITY: "Equity",
    SubjectKind.INCOME: "Income",
    SubjectKind.EXPENSE: "Expenses",
    SubjectKind.COMMON: "Assets",
}
MEMO_ROOT = "Assets:Memo"
"""The parent of the memo registers' accounts (see the module docstring)."""
_REGISTER_NAMES_ZH = {
    MemoRegister.OFF_BALANCE_INTEREST: "表外应收未收利息",
    MemoRegister.WRITTEN_OFF_LOANS: "已核销贷款",
}
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "".join(w[:1].upper() + w[1:] for w in words)


def account_names(chart: Chart) -> dict[str, str]:
    """Subject code -> beancount account name (see the module docstring); unique and legal, or
    :class:`~loancore.errors.InvalidInput` naming the subject that cannot be named."""
    names: dict[str, str] = {}
    used: set[str] = set()  # the names given so far (a set: linear in the chart's size)
    queue = list(chart.roots())
    for subject in queue:  # breadth first: a parent is named before its children; bounded
        camel = _camel(subject.name_en)
        leaf_code = subject.code.replace(".", "-")
        coded = f"{leaf_code}-{camel}" if camel else leaf_code
        if subject.parent_code is None:
            name = f"{_ROOTS[subject.kind]}:{coded}"
        else:
            parent = names[subject.parent_code]
            component = camel if _COMPONENT.fullmatch(camel or "-") else coded
            name = f"{parent}:{component}"
            name = f"{parent}:{coded}" if name in used else name
        field = f"{subject.code}.code"
        if not all(_COMPONENT.fullmatch(part) for part in name.split(":")[1:]):
            raise InvalidInput(field, subject.code, f"gives an illegal account {name!r}")
        if name in used:
            raise InvalidInput(field, subject.code, f"gives a duplicate account {name!r}")
        names[subject.code] = name
        used.add(name)
        queue.extend(chart.children(subject.code))
    return names


def memo_account_names(register: MemoRegister) -> tuple[str, str]:
    """The register's account and its contra account: ``Assets:Memo:WrittenOffLoans`` and
    ``Assets:Memo:WrittenOffLoansContra``."""
    name = "".join(word.capitalize() for word in register.name.split("_"))
    return f"{MEMO_ROOT}:{name}", f"{MEMO_ROOT}:{name}Contra"


def _check_memo_root_is_free(names: dict[str, str]) -> None:
    for code, name in names.items():
        if name == MEMO_ROOT or name.startswith(MEMO_ROOT + ":"):
            reason = f"gives the account {name!r}, which the memo registers use"
            raise InvalidInput(f"{code}.code", code, reason)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _header(title: str, operating_currency: str) -> list[str]:
    return [
        f'option "title" {_quote(title)}',
        f'option "operating_currency" "{operating_currency}"',
        "; exact tolerance: an entry or assertion off by any amount is an error",
        'option "inferred_tolerance_default" "*:0"',
        'option "tolerance_multiplier" "0"',
        "",
    ]


def _plain(amount: Decimal) -> str:
    """``amount`` in plain decimal notation (``str`` of a large Decimal is scientific)."""
    return format(amount, "f")


def _opened(subject: Subject, first_day: date) -> date:
    """The day the subject's account opens: its open date, else the file's first day (or its close
    date, if that comes first)."""
    if subject.open_date is not None:
        return subject.open_date
    return first_day if subject.close_date is None else min(first_day, subject.close_date)


def _chart_lines(chart: Chart, names: dict[str, str], first_day: date) -> list[str]:
    lines = []
    for subject in chart:
        opened = _opened(subject, first_day)
        lines.append(f"{opened} open {names[subject.code]}")
        lines.append(f"  code: {_quote(subject.code)}")
        lines.append(f"  name-zh: {_quote(subject.name_zh)}")
        lines.append(f"  name-en: {_quote(subject.name_en)}")
        lines.append(f"  normal-side: {_quote(subject.normal_side.value)}")
    for subject in chart:
        if subject.close_date is not None:
            lines.append(f"{subject.close_date} close {names[subject.code]}")
    lines.append("")
    return lines


def _entry_lines(entry: JournalEntry, names: dict[str, str]) -> list[str]:
    lines = [
        f"{entry.accounting_date} * {_quote(entry.memo)}",
        f"  entry-id: {_quote(entry.entry_id)}",
        f"  idempotency-key: {_quote(entry.idempotency_key)}",
        f"  value-date: {entry.value_date}",
    ]
    if entry.reverses is not None:
        lines.append(f"  reverses: {_quote(entry.reverses)}")
    for leg in entry.legs:
        amount = leg.amount.amount if leg.side is Side.DEBIT else -leg.amount.amount
        account = names.get(leg.subject_code)
        if account is None:
            raise InvalidInput("legs.subject_code", leg.subject_code, "not in the exported chart")
        lines.append(f"  {account}  {_plain(amount)} {leg.amount.currency}")
        lines.extend(f"    {key}: {_quote(value)}" for key, value in leg.dimensions)
    lines.append("")
    return lines


def _memo_chart_lines(first_day: date) -> list[str]:
    lines = []
    for register in MemoRegister:
        account_name, contra = memo_account_names(register)
        lines.append(f"{first_day} open {account_name}")
        lines.append(f"  register: {_quote(register.value)}")
        if register in _REGISTER_NAMES_ZH:
            lines.append(f"  name-zh: {_quote(_REGISTER_NAMES_ZH[register])}")
        lines.append(f"{first_day} open {contra}")
        lines.append(f"  register: {_quote(register.value)}")
    lines.append("")
    return lines


def _memo_lines(posting: MemoPosting) -> list[str]:
    account_name, contra = memo_account_names(posting.register)
    amount = posting.amount.amount
    signed = amount if posting.direction is MemoDirection.INCREASE else -amount
    currency = posting.amount.currency
    lines = [
        f"{posting.accounting_date} * {_quote(posting.memo)}",
        f"  memo-posting-id: {_quote(posting.posting_id)}",
        f"  idempotency-key: {_quote(posting.idempotency_key)}",
        f"  register: {_quote(posting.register.value)}",
        f"  direction: {_quote(posting.direction.value)}",
        f"  {account_name}  {_plain(signed)} {currency}",
    ]
    lines.extend(f"    {key}: {_quote(value)}" for key, value in posting.dimensions)
    lines.append(f"  {contra}  {_plain(-signed)} {currency}")
    lines.append("")
    return lines


def export_beancount(
    chart: Chart,
    entries: Iterable[JournalEntry],
    *,
    assertions: Iterable[tuple[date, str, int, str]] = (),
    memo_postings: Iterable[MemoPosting] = (),
    memo_assertions: Iterable[tuple[date, MemoRegister, int, str]] = (),
    title: str = "loancore ledger",
    operating_currency: str = "CNY",
) -> str:
    """beancount text for ``chart``, ``entries`` and ``memo_postings`` (as given: nothing is
    checked here).

    ``assertions`` are ``(period_end, subject_code, net_debit_minor, currency)``: each becomes a
    balance directive dated ``period_end + 1 day`` on the subject's account (which beancount rolls
    up over sub-accounts, as loancore does), left out while the account is not open (see the
    module docstring). ``memo_assertions`` are ``(period_end, register, balance_minor,
    currency)``, on the register's account. The memo registers' accounts are always opened, so a
    file's accounts do not depend on whether a register was used.
    """
    names = account_names(chart)
    _check_memo_root_is_free(names)
    journal, memos = tuple(entries), tuple(memo_postings)
    days = [e.accounting_date for e in journal] + [p.accounting_date for p in memos]
    first_day = min(days, default=DATE_MIN)
    lines = _header(title, operating_currency) + _chart_lines(chart, names, first_day)
    lines += _memo_chart_lines(first_day)
    for entry in journal:
        lines.extend(_entry_lines(entry, names))
    for posting in memos:
        lines.extend(_memo_lines(posting))
    for period_end, code, net_debit_minor, currency in assertions:
        day = require_date("assertions.period_end", period_end) + timedelta(days=1)
        subject = chart.get(code)
        if _opened(subject, first_day) <= day and (
            subject.close_date is None or day <= subject.close_date
        ):
            amount = _minor_to_text(net_debit_minor, currency)
            lines.append(f"{day} balance {names[code]}  {amount} {currency}")
    for period_end, register, balance_minor, currency in memo_assertions:
        day = require_date("memo_assertions.period_end", period_end) + timedelta(days=1)
        if first_day <= day:
            amount = _minor_to_text(balance_minor, currency)
            lines.append(f"{day} balance {memo_account_names(register)[0]}  {amount} {currency}")
    return "\n".join(lines) + "\n"


def _minor_to_text(minor: int, currency: str) -> str:
    return _plain(Money.from_minor(minor, currency).amount)


def month_ends(first: date, last: date) -> tuple[date, ...]:
    """Every month end from ``first``'s month through ``last``'s month (accounting dates, see
    :func:`loancore.checks.require_date`; the last month end may be DATE_MAX itself)."""
    require_date("first", first)
    require_date("last", last)
    ends = []
    year, month = first.year, first.month
    for _ in range((last.year - first.year) * 12 + last.month - first.month + 1):
        following = date(year + month // 12, month % 12 + 1, 1)
        ends.append(following - timedelta(days=1))
        year, month = following.year, following.month
    return tuple(ends)


def _store_assertions(
    store: LedgerStore, chart: Chart, period_ends: Sequence[date]
) -> list[tuple[date, str, int, str]]:
    report_last = store.trial_balance(as_of=max(period_ends))
    posted = sorted({(line.subject_code, line.currency) for line in report_last.lines})
    out = []
    for period_end in period_ends:
        for code, currency in posted:
            subject: Subject = chart.get(code)
            balance = store.balance(code, currency, as_of=period_end).minor_units
            net_debit = balance if subject.normal_side is Side.DEBIT else -balance
            out.append((period_end, code, net_debit, currency))
    return out


def _memo_store_assertions(
    store: LedgerStore, postings: Sequence[MemoPosting], period_ends: Sequence[date]
) -> list[tuple[date, MemoRegister, int, str]]:
    posted = sorted({(p.register, p.amount.currency) for p in postings})  # str enum: sortable
    out = []
    for period_end in period_ends:
        for register, currency in posted:
            balance = store.memo_balance(register, currency, as_of=period_end)
            out.append((period_end, register, balance.minor_units, currency))
    return out


def export_store(
    store: LedgerStore,
    *,
    period_ends: Sequence[date] | None = None,
    title: str = "loancore ledger",
    operating_currency: str = "CNY",
) -> str:
    """Export everything in ``store`` (chart, entries, memo postings), with balance assertions at
    ``period_ends``.

    Default period ends: every month end from the first to the last accounting date. Each
    assertion is the store's own balance of a posted subject or memo register, so beancount
    re-adds every posting and must arrive at loancore's figure to the minor unit.
    """
    if period_ends is not None:
        period_ends = [require_date(f"period_ends[{i}]", d) for i, d in enumerate(period_ends)]
    chart = store.load_chart()
    entries = tuple(store.entries())
    postings = tuple(store.memo_postings())
    if period_ends is None:
        days = [e.accounting_date for e in entries] + [p.accounting_date for p in postings]
        period_ends = month_ends(min(days), max(days)) if days else ()
    assertions = _store_assertions(store, chart, period_ends) if period_ends else []
    memo_assertions = _memo_store_assertions(store, postings, period_ends) if period_ends else []
    return export_beancount(
        chart,
        entries,
        assertions=assertions,
        memo_postings=postings,
        memo_assertions=memo_assertions,
        title=title,
        operating_currency=operating_currency,
    )


def write_beancount(store: LedgerStore, path: str | Path, **options: object) -> Path:
    """Write :func:`export_store` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(export_store(store, **options), encoding="utf-8")  # type: ignore[arg-type]
    return target
