"""Export a loancore ledger to a beancount file (opens in beancount's tools and in Fava).

What the file holds:

- ``option`` lines for exact tolerance: ``inferred_tolerance_default "*:0"`` and
  ``tolerance_multiplier "0"``, so an entry off by any amount, or a balance assertion off by one
  minor unit, is an error (beancount's default tolerates half of the last digit).
- One ``open`` per subject (dated its open date, or 1970-01-01) and a ``close`` for a subject with
  a close date (beancount sorts ``close`` after the day's transactions, so a subject may be posted
  on its close date in both systems).
- One transaction per entry: narration = memo; entry id, idempotency key, value date and the
  reversal link as metadata; each leg's dimensions as posting metadata.
- ``balance`` assertions at period ends, from the store's own balances (dated the day after each
  period end, because beancount checks a balance at the start of its date).

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
from pathlib import Path

from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.ledger.subjects import Chart, Side, Subject, SubjectKind
from loancore.money import Money
from loancore.ports import LedgerStore

__all__ = ["account_names", "export_beancount", "export_store", "month_ends", "write_beancount"]

_ROOTS = {
    SubjectKind.ASSET: "Assets",
    SubjectKind.LIABILITY: "Liabilities",
    SubjectKind.EQUITY: "Equity",
    SubjectKind.INCOME: "Income",
    SubjectKind.EXPENSE: "Expenses",
    SubjectKind.COMMON: "Assets",
}
_OPEN_DEFAULT = date(1970, 1, 1)
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "".join(w[:1].upper() + w[1:] for w in words)


def account_names(chart: Chart) -> dict[str, str]:
    """Subject code -> beancount account name (see the module docstring); unique and legal, or
    :class:`~loancore.errors.InvalidInput` naming the subject that cannot be named."""
    names: dict[str, str] = {}
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
            name = f"{parent}:{coded}" if name in names.values() else name
        field = f"{subject.code}.code"
        if not all(_COMPONENT.fullmatch(part) for part in name.split(":")[1:]):
            raise InvalidInput(field, subject.code, f"gives an illegal account {name!r}")
        if name in names.values():
            raise InvalidInput(field, subject.code, f"gives a duplicate account {name!r}")
        names[subject.code] = name
        queue.extend(chart.children(subject.code))
    return names


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _header(title: str, operating_currency: str) -> list[str]:
    return [
        f"option \"title\" {_quote(title)}",
        f'option "operating_currency" "{operating_currency}"',
        '; exact tolerance: an entry or assertion off by any amount is an error',
        'option "inferred_tolerance_default" "*:0"',
        'option "tolerance_multiplier" "0"',
        "",
    ]


def _chart_lines(chart: Chart, names: dict[str, str]) -> list[str]:
    lines = []
    for subject in chart:
        opened = subject.open_date or _OPEN_DEFAULT
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
        lines.append(f"  {account}  {amount} {leg.amount.currency}")
        lines.extend(f"    {key}: {_quote(value)}" for key, value in leg.dimensions)
    lines.append("")
    return lines


def export_beancount(
    chart: Chart,
    entries: Iterable[JournalEntry],
    *,
    assertions: Iterable[tuple[date, str, int, str]] = (),
    title: str = "loancore ledger",
    operating_currency: str = "CNY",
) -> str:
    """beancount text for ``chart`` and ``entries`` (as given: nothing is checked here).

    ``assertions`` are ``(period_end, subject_code, net_debit_minor, currency)``: each becomes a
    balance directive dated ``period_end + 1 day`` on the subject's account (which beancount rolls
    up over sub-accounts, as loancore does).
    """
    names = account_names(chart)
    lines = _header(title, operating_currency) + _chart_lines(chart, names)
    for entry in entries:
        lines.extend(_entry_lines(entry, names))
    for period_end, code, net_debit_minor, currency in assertions:
        amount = _minor_to_text(net_debit_minor, currency)
        lines.append(f"{period_end + timedelta(days=1)} balance {names[code]}  {amount} {currency}")
    return "\n".join(lines) + "\n"


def _minor_to_text(minor: int, currency: str) -> str:
    return str(Money.from_minor(minor, currency).amount)


def month_ends(first: date, last: date) -> tuple[date, ...]:
    """Every month end from ``first``'s month through ``last``'s month."""
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


def export_store(
    store: LedgerStore,
    *,
    period_ends: Sequence[date] | None = None,
    title: str = "loancore ledger",
    operating_currency: str = "CNY",
) -> str:
    """Export everything in ``store``, with balance assertions at ``period_ends``.

    Default period ends: every month end from the first to the last accounting date. Each
    assertion is the store's own balance of a posted subject, so beancount re-adds every entry and
    must arrive at loancore's figure to the minor unit.
    """
    chart = store.load_chart()
    entries = tuple(store.entries())
    if period_ends is None:
        days = [e.accounting_date for e in entries]
        period_ends = month_ends(min(days), max(days)) if days else ()
    assertions = _store_assertions(store, chart, period_ends) if period_ends else []
    return export_beancount(
        chart, entries, assertions=assertions, title=title, operating_currency=operating_currency
    )


def write_beancount(store: LedgerStore, path: str | Path, **options: object) -> Path:
    """Write :func:`export_store` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(export_store(store, **options), encoding="utf-8")  # type: ignore[arg-type]
    return target
