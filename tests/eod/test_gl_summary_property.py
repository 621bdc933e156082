"""summarise_day_entries conserves every subject's debits and credits, per product: whatever
the loans' day-close entries and however the loans are split into units of work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from loancore.delinquency.daily import day_event_id
from loancore.ledger import JournalEntry, Leg
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.services.end_of_day import SUMMARY_KEY_PREFIX, summarise_day_entries

DAY = date(2026, 3, 1)
PRODUCTS = ("story@1", "clinic-12@1")
KINDS = (  # (template, tag, debit subject, credit subject)
    ("interest.accrued", "accrue", "1132", "6011"),
    ("interest.accrued", "penalty", "1132", "6011.02"),
    ("interest.due", "due", "1303.03", "1132"),
    ("provision.charged", "stage1", "6702", "1304.01"),
    ("provision.released", "stage2", "1304.02", "6702"),
    ("fee.charged", "late", "1221", "6021"),
)

Loan = tuple[str, str, tuple[JournalEntry, ...]]


def _entry(loan_id: str, product: str, offset: int, kind: int, minor: int) -> JournalEntry:
    template, tag, debit, credit = KINDS[kind]
    day = DAY + timedelta(days=offset)
    entry_id = f"{template}:{day_event_id(loan_id, day)}.{tag}"
    amount = Money.from_minor(minor, "CNY")
    dims = {"loan": loan_id, "product": product, "customer": f"C-{loan_id}"}
    return JournalEntry(
        entry_id=entry_id,
        idempotency_key=entry_id,
        accounting_date=day,
        legs=(Leg.debit(debit, amount, dims), Leg.credit(credit, amount, dims)),
    )


@st.composite
def books(draw: st.DrawFn) -> list[Loan]:
    """Up to 12 loans, each with up to 12 entries of distinct (day, kind)."""
    count = draw(st.integers(min_value=1, max_value=12))
    loans: list[Loan] = []
    for n in range(count):
        product = draw(st.sampled_from(PRODUCTS))
        cells = draw(
            st.dictionaries(
                st.tuples(st.integers(0, 2), st.integers(0, len(KINDS) - 1)),
                st.integers(1, 10**9),
                max_size=12,
            )
        )
        entries = tuple(
            _entry(f"L{n:03d}", product, offset, kind, minor)
            for (offset, kind), minor in sorted(cells.items())
        )
        loans.append((f"L{n:03d}", product, entries))
    return loans


def moved(entries: Iterable[JournalEntry]) -> Counter[tuple[str, str, Side]]:
    """Minor units per (product, subject, side)."""
    totals: Counter[tuple[str, str, Side]] = Counter()
    for entry in entries:
        for leg in entry.legs:
            totals[(leg.dimension("product") or "", leg.subject_code, leg.side)] += (
                leg.amount.minor_units
            )
    return totals


def _all(loans: Sequence[Loan]) -> list[JournalEntry]:
    return [entry for _l, _p, entries in loans for entry in entries]


@given(books(), st.data())
def test_summarising_conserves_every_subject_per_product_in_any_chunking(
    loans: list[Loan], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(loans)))
    chunks = (loans[:cut], loans[cut:])
    summaries = [s for chunk in chunks for s in summarise_day_entries(chunk)]
    assert moved(summaries) == moved(_all(loans))
    keys = [s.idempotency_key for s in summaries]
    assert len(set(keys)) == len(keys)  # no two units of work ever share a key
    for summary in summaries:
        assert summary.entry_id.startswith(f"{SUMMARY_KEY_PREFIX}:")
        assert sum(leg.signed_minor for leg in summary.legs) == 0
        assert {leg.dimensions for leg in summary.legs} == {
            (("product", summary.legs[0].dimension("product") or ""),)
        }


@given(books(), st.randoms(use_true_random=False))
def test_one_summary_per_product_day_and_kind_whatever_the_loan_order(
    loans: list[Loan], random: object
) -> None:
    summaries = summarise_day_entries(loans)
    groups = {
        (
            product,
            entry.accounting_date,
            entry.entry_id.split(":")[0],
            entry.entry_id.split(".")[-1],
        )
        for _l, product, entries in loans
        for entry in entries
    }
    assert len(summaries) == len(groups)
    shuffled = list(loans)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert summarise_day_entries(shuffled) == summaries
