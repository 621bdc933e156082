"""Hypothesis strategies for the ledger: ``subjects()``, ``charts()``, ``journal_entries(chart)``,
``unbalanced_entries(chart)``, ``dimension_sets()``.

``journal_entries`` are balanced by construction (per currency, debits equal credits, every leg
positive, every subject a leaf of the chart (no sub-accounts) and open on the date), so any
sequence of them must post.
"""

from __future__ import annotations

from datetime import date

from hypothesis import assume
from hypothesis import strategies as st

from loancore.ledger.entries import DIMENSION_KEYS, JournalEntry, Leg
from loancore.ledger.subjects import Chart, Side, Subject, SubjectKind
from loancore.money import Money

__all__ = ["charts", "dimension_sets", "journal_entries", "subjects", "unbalanced_entries"]

DATE_MIN = date(2026, 1, 1)
DATE_MAX = date(2026, 12, 31)


def subjects(
    *, code: str | None = None, kind: SubjectKind | None = None
) -> st.SearchStrategy[Subject]:
    """Single subjects, without a parent, open on every date."""
    return st.builds(
        Subject,
        code=st.just(code) if code else st.integers(1000, 6999).map(str),
        name_zh=st.sampled_from(["贷款", "银行存款", "利息收入", "应付账款", "清算资金往来"]),
        name_en=st.sampled_from(["Loans", "Bank deposits", "Interest", "Payables", "Clearing"]),
        kind=st.just(kind) if kind else st.sampled_from(list(SubjectKind)),
    )


@st.composite
def charts(draw: st.DrawFn, *, roots_max: int = 6, children_max: int = 3) -> Chart:
    """Charts of 1..roots_max root subjects, each with 0..children_max sub-accounts."""
    codes = st.lists(st.integers(1000, 6999), min_size=1, max_size=roots_max, unique=True)
    root_codes = draw(codes)
    items = []
    for root in root_codes:
        kind = draw(st.sampled_from(list(SubjectKind)))
        side = draw(st.none() | st.sampled_from(list(Side)))
        names = (str(root), f"科目{root}", f"Subject {root}", kind)
        parent = Subject(*names) if side is None else Subject(*names, side)
        normal = parent.normal_side
        items.append(parent)
        for child in range(1, draw(st.integers(0, children_max)) + 1):
            code = f"{root}.{child:02d}"
            child_subject = Subject(
                code, f"明细{code}", f"Detail {code}", kind, normal, parent_code=str(root)
            )
            items.append(child_subject)
    return Chart(items)


def dimension_sets() -> st.SearchStrategy[dict[str, str]]:
    """Dimension mappings drawn from a few values, so filters hit several legs."""
    values = st.sampled_from(["A", "B", "C"])
    return st.dictionaries(st.sampled_from(DIMENSION_KEYS), values, max_size=2)


_DEBIT_MINOR = st.integers(10**4, 10**8)
_WEIGHTS = st.integers(1, 100)
_UUIDS = st.uuids().map(str)
_MEMOS = st.sampled_from(["", "放款", "还款", "interest accrual"])
_DIMENSIONS = dimension_sets()


def _split(total: int, weights: list[int]) -> list[int]:
    """``total`` split by ``weights`` (largest remainder); every part positive when
    ``total >= 100 * len(weights) * max(weights)``."""
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % weight_sum))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _open_codes(chart: Chart, day: date) -> list[str]:
    """The subjects an entry dated ``day`` may post to: leaves open on that day."""
    return [s.code for s in chart if s.is_open_on(day) and chart.is_leaf(s.code)]


@st.composite
def journal_entries(
    draw: st.DrawFn,
    chart: Chart,
    *,
    currencies: tuple[str, ...] = ("CNY",),
    date_min: date = DATE_MIN,
    date_max: date = DATE_MAX,
    legs_max: int = 4,
) -> JournalEntry:
    """Balanced entries over ``chart``: 2..legs_max legs per currency, fresh UUID id and key.

    Strategies are built once (outside the draw) so generation stays cheap.
    """
    day = draw(st.dates(min_value=date_min, max_value=date_max))
    codes = _open_codes(chart, day)
    assume(bool(codes))
    code_index = st.integers(0, len(codes) - 1)
    legs = []
    drawn = st.lists(st.sampled_from(currencies), min_size=1, max_size=len(currencies), unique=True)
    for currency in draw(drawn):
        debit_count = draw(st.integers(1, max(1, legs_max // 2)))
        credit_count = draw(st.integers(1, max(1, legs_max - debit_count)))
        debits = [draw(_DEBIT_MINOR) for _ in range(debit_count)]
        credits = _split(sum(debits), [draw(_WEIGHTS) for _ in range(credit_count)])
        for side, parts in ((Side.DEBIT, debits), (Side.CREDIT, credits)):
            for minor in parts:
                code = codes[draw(code_index)]
                legs.append(Leg(code, side, Money.from_minor(minor, currency), draw(_DIMENSIONS)))
    return JournalEntry(
        entry_id=draw(_UUIDS),
        idempotency_key=draw(_UUIDS),
        accounting_date=day,
        legs=draw(st.permutations(legs)),
        memo=draw(_MEMOS),
    )


@st.composite
def unbalanced_entries(draw: st.DrawFn, chart: Chart, *, currency: str = "CNY") -> JournalEntry:
    """Entries over ``chart`` whose debits and credits differ by at least one minor unit."""
    entry = draw(journal_entries(chart, currencies=(currency,)))
    off = draw(st.integers(1, 10**6))
    first = entry.legs[0]
    amount = Money.from_minor(abs(first.signed_minor) + off, currency)
    skewed = Leg(first.subject_code, first.side, amount, first.dimensions)
    return JournalEntry(
        entry_id=entry.entry_id,
        idempotency_key=entry.idempotency_key,
        accounting_date=entry.accounting_date,
        legs=(skewed, *entry.legs[1:]),
        memo=entry.memo,
    )
