"""The pure ledger core: subjects and charts, chart files, entries, rules and validation passes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.chart_files import load_chart
from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.errors import InvalidInput, InvariantViolation, NotFound, RejectionCode
from loancore.ledger import (
    Chart,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    Side,
    Subject,
    SubjectKind,
    chart_from_csv,
    chart_from_toml,
    check_entry,
    default_chart,
    dimensions_of,
    profit_transfer_entry,
    reversal_of,
    validate,
)
from loancore.ledger.rules import batch_debits, entries_issues
from loancore.ledger.validation import validate_memo
from loancore.money import Money
from loancore.services import Ledger
from loancore.testing.ledger import charts, journal_entries, unbalanced_entries

Code = RejectionCode
D1, D2 = date(2026, 1, 10), date(2026, 2, 10)


def cny(text: str) -> Money:
    return Money(text, "CNY")


def entry(n: int, *legs: Leg, day: date = D1, reverses: str | None = None) -> JournalEntry:
    legs = legs or (Leg.debit("1303.01", cny("100.00")), Leg.credit("1002", cny("100.00")))
    return JournalEntry(
        entry_id=f"e{n}", idempotency_key=f"k{n}", accounting_date=day, legs=legs, reverses=reverses
    )


# -- subjects and charts ----------------------------------------------------------------------


def test_default_chart_follows_the_2006_numbering_with_1303_as_loans() -> None:
    chart = default_chart()
    assert chart.get("1303").name_zh == "贷款"
    assert "1301" not in chart
    assert chart.subtree_codes("1303") == ("1303", "1303.01", "1303.02", "1303.03", "1303.04")
    assert [s.name_zh for s in chart.children("2241")] == [
        "溢缴款",
        "应付合作方",
        "应付助贷服务费",
        "合作方出资款",
    ]
    assert (
        chart.get("1304").normal_side is Side.CREDIT and chart.get("1304").kind is SubjectKind.ASSET
    )
    assert chart.get("3001").kind is SubjectKind.COMMON
    assert chart.get("6011").normal_side is Side.CREDIT
    assert chart.ancestors("1304.02") == ("1304",)
    assert {
        "1002",
        "1011",
        "1012",
        "1132",
        "1221",
        "1231",
        "2202",
        "2221",
        "2231",
        "4102",
        "6021",
        "6051",
        "6411",
        "6421",
        "6701",
        "6702",
    } <= {s.code for s in chart}


@pytest.mark.parametrize(
    ("subjects", "field"),
    [
        (
            [Subject("1303", "贷款", "Loans", "asset"), Subject("1303", "贷款", "Loans", "asset")],
            "subjects",
        ),
        (
            [Subject("1303.01", "本金", "Principal", "asset", parent_code="1303")],
            "1303.01.parent_code",
        ),
        (
            [
                Subject("1303", "贷款", "Loans", "asset"),
                Subject("1303.01", "x", "x", "income", parent_code="1303"),
            ],
            "1303.01.kind",
        ),
    ],
)
def test_malformed_charts_are_refused_naming_the_field(subjects: list[Subject], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Chart(subjects)
    assert info.value.field == field


def test_a_parent_cycle_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cycle"):
        Chart(
            [
                Subject("1", "a", "a", "asset", parent_code="2"),
                Subject("2", "b", "b", "asset", parent_code="1"),
            ]
        )


@pytest.mark.parametrize(
    "bad", [{"code": "13 03"}, {"name_zh": ""}, {"kind": "revenue"}, {"open_date": "2026-01-01"}]
)
def test_bad_subject_fields_are_refused(bad: dict) -> None:
    fields = {"code": "1303", "name_zh": "贷款", "name_en": "Loans", "kind": "asset"} | bad
    with pytest.raises(ValueError):
        Subject(**fields)


def test_unknown_subject_is_not_found() -> None:
    with pytest.raises(NotFound):
        default_chart().get("9999")


@given(charts())
def test_every_subject_is_in_its_roots_subtree_exactly_once(chart: Chart) -> None:
    found = [code for root in chart.roots() for code in chart.subtree_codes(root.code)]
    assert sorted(found) == sorted(s.code for s in chart)


TOML = """
[[subject]]
code = "1303"
name_zh = "贷款"
name_en = "Loans"
kind = "asset"

[[subject]]
code = "1303.01"
name_zh = "本金"
name_en = "Principal"
kind = "asset"
parent_code = "1303"
open_date = 2026-01-01

[[subject]]
code = "1304"
name_zh = "贷款损失准备"
name_en = "Loan loss allowance"
kind = "asset"
normal_side = "credit"
close_date = "2030-12-31"
"""

CSV = """\ufeffcode,name_zh,name_en,kind,normal_side,parent_code,open_date,close_date
1303,贷款,Loans,asset,,,,
1303.01,本金,Principal,asset,,1303,2026-01-01,
1304,贷款损失准备,Loan loss allowance,asset,credit,,,2030-12-31
"""


def test_toml_and_csv_charts_parse_to_the_same_chart(tmp_path: Path) -> None:
    from_toml, from_csv = chart_from_toml(TOML), chart_from_csv(CSV)
    assert from_toml == from_csv
    assert from_toml.get("1303.01").open_date == date(2026, 1, 1)
    assert from_toml.get("1304").normal_side is Side.CREDIT
    (tmp_path / "chart.toml").write_text(TOML, encoding="utf-8")
    (tmp_path / "chart.csv").write_text(CSV, encoding="utf-8")
    assert load_chart(tmp_path / "chart.toml") == load_chart(tmp_path / "chart.csv") == from_toml


@pytest.mark.parametrize(
    "text",
    [
        "code,name_zh\n1303,贷款\n",  # missing columns
        "code,name_zh,name_en,kind\n1303,贷款,Loans,revenue\n",  # bad kind
        "code,name_zh,name_en,kind,colour\n1303,贷款,Loans,asset,red\n",  # unknown column
        "code,name_zh,name_en,kind,open_date\n1303,贷款,Loans,asset,01/02/2026\n",  # bad date
    ],
)
def test_bad_csv_charts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        chart_from_csv(text)


def test_bad_toml_charts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        chart_from_toml("subject = 1")
    with pytest.raises(InvalidInput):
        chart_from_toml("[[subject")
    with pytest.raises(InvalidInput):
        load_chart(tmp_path / "chart.xlsx")


# -- entries and rules ------------------------------------------------------------------------


def test_dimensions_are_sorted_pairs_from_the_known_keys() -> None:
    assert dimensions_of({"product": "P", "loan": "L"}) == (("loan", "L"), ("product", "P"))
    for bad in ({"colour": "red"}, {"loan": ""}, [("loan", "A"), ("loan", "B")], [("loan",)]):
        with pytest.raises(InvalidInput):
            dimensions_of(bad)


def test_dimension_tuples_checked_once_answer_like_the_full_check() -> None:
    # dimensions_of keeps tuples it accepted: a second call gives the same pairs, and a tuple
    # that differs in one value (or holds an unhashable pair) still gets the full check.
    pairs = (("product", "P"), ("loan", "L"))
    assert dimensions_of(pairs) == dimensions_of(pairs) == (("loan", "L"), ("product", "P"))
    for bad in ((("product", "P"), ("loan", "")), (("loan", "L"), ["product", "P"])):
        with pytest.raises(InvalidInput):
            dimensions_of(bad)  # type: ignore[arg-type]
    assert dimensions_of((("loan", "L"),), field="x") == (("loan", "L"),)


def test_entries_refuse_malformed_fields() -> None:
    leg = Leg.debit("1002", cny("1.00"))
    with pytest.raises(InvalidInput):
        JournalEntry(entry_id="", idempotency_key="k", accounting_date=D1, legs=(leg,))
    with pytest.raises(InvalidInput):
        JournalEntry(entry_id="e", idempotency_key="k", accounting_date=D1, legs=())
    with pytest.raises(InvalidInput):
        JournalEntry(
            entry_id="e", idempotency_key="k", accounting_date=D1, legs=(leg,), reverses="e"
        )
    with pytest.raises(InvalidInput):
        Leg("1002", Side.DEBIT, "1.00")  # type: ignore[arg-type]


@given(journal_entries(default_chart(), currencies=("CNY", "USD", "JPY")))
def test_generated_entries_pass_every_rule(generated: JournalEntry) -> None:
    assert check_entry(generated, chart=default_chart(), closed_through=None) == ()


@given(unbalanced_entries(default_chart()))
def test_unbalanced_entries_are_caught(bad: JournalEntry) -> None:
    codes = {i.code for i in check_entry(bad, chart=default_chart(), closed_through=None)}
    assert codes == {Code.ENTRY_UNBALANCED}


@given(st.lists(journal_entries(default_chart(), currencies=("CNY", "USD", "JPY")), max_size=6))
def test_batch_debits_are_the_debit_legs_summed_per_currency(entries: list[JournalEntry]) -> None:
    expected: dict[str, int] = {}
    for leg in (leg for entry in entries for leg in entry.legs if leg.side is Side.DEBIT):
        expected[leg.currency] = expected.get(leg.currency, 0) + leg.amount.minor_units
    assert batch_debits(entries) == expected


def test_a_subject_open_on_one_day_of_a_batch_is_checked_again_on_another() -> None:
    """The rules remember the subjects found open per day: a subject closed on D2 is refused
    there even after a leg on it passed on D1 in the same batch."""
    chart = default_chart().with_subjects(
        Subject("1221.01", "关", "Closed", "asset", parent_code="1221", close_date=D1)
    )
    amount = Money("1.00", "CNY")
    legs = (Leg.debit("1221.01", amount), Leg.credit("1002", amount))
    batch = [
        JournalEntry(entry_id=f"e{n}", idempotency_key=f"k{n}", accounting_date=day, legs=legs)
        for n, day in enumerate((D1, D2, D1, D2))
    ]
    found = entries_issues(batch, chart=chart, closed_through=None)
    assert [(i.code, i.entry_id) for i in found] == [
        (Code.SUBJECT_CLOSED, "e1"),
        (Code.SUBJECT_CLOSED, "e3"),
    ]


@given(journal_entries(default_chart()))
def test_a_reversal_nets_every_subject_to_zero(original: JournalEntry) -> None:
    reversal = reversal_of(
        original, entry_id="r", idempotency_key="rk", accounting_date=original.accounting_date
    )
    net: dict[str, int] = {}
    for leg in (*original.legs, *reversal.legs):
        net[leg.subject_code] = net.get(leg.subject_code, 0) + leg.signed_minor
    assert set(net.values()) == {0}


# -- validation passes ------------------------------------------------------------------------


def test_validation_lists_every_problem_at_once() -> None:
    chart = default_chart().with_subjects(
        Subject("1221.01", "关", "Closed", "asset", parent_code="1221", close_date=D1)
    )
    entries = [
        entry(1),
        entry(2, Leg.debit("1303.01", cny("1.00")), Leg.credit("1002", cny("2.00"))),  # unbalanced
        entry(
            3, Leg.debit("1999", cny("1.00")), Leg.credit("1002", cny("1.00"))
        ),  # unknown subject
        entry(
            4, Leg.debit("1221.01", cny("1.00")), Leg.credit("1002", cny("1.00")), day=D2
        ),  # closed subject
        entry(5, day=D1),  # booked after the close below
        entry(6, *[leg.mirrored() for leg in entry(1).legs], reverses="e1"),
        entry(7, *[leg.mirrored() for leg in entry(1).legs], reverses="e1"),  # second reversal
        entry(8, reverses="e404"),  # broken link
        entry(
            9, Leg.debit("1303.01", cny("-1.00")), Leg.credit("1002", cny("-1.00"))
        ),  # negative legs
        entry(1),  # duplicate id and key
    ]
    issues = validate(entries, chart=chart, closes=[(D1, 4)])
    found = {(i.code, i.entry_id) for i in issues}
    assert {
        (Code.ENTRY_UNBALANCED, "e2"),
        (Code.SUBJECT_UNKNOWN, "e3"),
        (Code.SUBJECT_CLOSED, "e4"),
        (Code.PERIOD_CLOSED, "e5"),
        (Code.ENTRY_ALREADY_REVERSED, "e7"),
        (Code.ENTRY_UNKNOWN, "e8"),
        (Code.LEG_NOT_POSITIVE, "e9"),
        (Code.ENTRY_ID_TAKEN, "e1"),
    } <= found
    assert (Code.PERIOD_CLOSED, "e6") in found  # e6..e9 too were booked after closing through D1


def test_memo_validation_catches_overdrawn_registers() -> None:
    def posting(n: int, direction: MemoDirection, amount: str) -> MemoPosting:
        return MemoPosting(
            posting_id=f"m{n}",
            idempotency_key=f"k{n}",
            register="written_off_loans",
            accounting_date=D1,
            direction=direction,
            amount=cny(amount),
            dimensions={"loan": "L1"},
        )

    ok = [posting(1, MemoDirection.INCREASE, "5.00"), posting(2, MemoDirection.DECREASE, "5.00")]
    assert validate_memo(ok) == []
    issues = validate_memo(
        [
            *ok,
            posting(3, MemoDirection.DECREASE, "0.01"),
            posting(4, MemoDirection.INCREASE, "0.00"),
        ]
    )
    assert [(i.code, i.entry_id) for i in issues] == [
        (Code.MEMO_BALANCE_INSUFFICIENT, "m3"),
        (Code.LEG_NOT_POSITIVE, "m4"),
    ]


# -- the Ledger facade ------------------------------------------------------------------------


def test_ledger_facade_posts_reports_closes_and_audits() -> None:
    ledger = Ledger(MemoryLedgerStore(default_chart()))
    ledger.post(entry(1), entry(2, day=D2))
    assert ledger.balance("1303", "CNY", as_of=D2) == cny("200.00")
    report = ledger.close_period(D1)
    assert report.totals("CNY") == (cny("100.00"), cny("100.00"))
    ledger.reverse("e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D2)
    assert ledger.general_ledger("1303", "CNY", start=D2, end=D2).closing == cny("100.00")
    assert ledger.trial_balance(as_of=D2).is_balanced()
    assert ledger.audit() == []
    assert ledger.chart == default_chart()
    memo = MemoPosting(
        posting_id="m1",
        idempotency_key="mk1",
        register="written_off_loans",
        accounting_date=D2,
        direction=MemoDirection.INCREASE,
        amount=cny("9.00"),
    )
    ledger.post_memo(memo)
    assert ledger.memo_balance("written_off_loans", "CNY", as_of=D2) == cny("9.00")


def test_closing_an_unbalanced_store_is_an_invariant_violation() -> None:
    store = MemoryLedgerStore(default_chart())
    store._apply(
        [entry(1, Leg.debit("1303.01", cny("1.00")), Leg.credit("1002", cny("2.00")))]
    )  # bypass the rules
    with pytest.raises(InvariantViolation):
        Ledger(store).close_period(D1)
    assert store.closed_through() is None
    assert [i.code for i in Ledger(store).audit()] == [Code.ENTRY_UNBALANCED]


def test_the_default_chart_round_trips_through_csv() -> None:
    chart = default_chart()
    header = "code,name_zh,name_en,kind,normal_side,parent_code\n"
    rows = "".join(
        f"{s.code},{s.name_zh},{s.name_en},{s.kind.value},{s.normal_side.value},{s.parent_code or ''}\n"
        for s in chart
    )
    assert chart_from_csv(header + rows) == chart


@given(st.lists(journal_entries(default_chart()), max_size=4))
def test_valid_entry_sequences_pass_every_validation_pass(entries: list[JournalEntry]) -> None:
    assert validate(entries, chart=default_chart()) == []


# -- year-end close -----------------------------------------------------------------------------


@given(st.lists(journal_entries(default_chart(), currencies=("CNY", "USD")), max_size=8))
def test_profit_transfer_zeroes_income_and_expenses_into_current_year_profit(
    entries: list[JournalEntry],
) -> None:
    chart = default_chart()
    store = MemoryLedgerStore(chart)
    store.post(entries)
    year_end = date(2026, 12, 31)
    report = store.trial_balance(as_of=year_end)
    transfer = profit_transfer_entry(report, chart, entry_id="pl-2026", idempotency_key="pl-2026")
    pl_codes = [s.code for s in chart if s.kind in (SubjectKind.INCOME, SubjectKind.EXPENSE)]
    if transfer is None:
        assert all(
            line.net_debit.is_zero() for line in report.lines if line.subject_code in pl_codes
        )
        return
    before = {c: store.balance("4103", c, as_of=year_end).minor_units for c in ("CNY", "USD")}
    store.post([transfer])
    for currency in ("CNY", "USD"):
        for code in pl_codes:
            assert store.balance(code, currency, as_of=year_end).is_zero()
        profit = sum(
            -line.net_debit.minor_units
            for line in report.lines
            if line.currency == currency and line.subject_code in pl_codes
        )
        expected = Money.from_minor(before[currency] + profit, currency)
        assert store.balance("4103", currency, as_of=year_end) == expected
    assert store.trial_balance(as_of=year_end).is_balanced()


def test_the_templates_unchecked_constructors_set_every_field_as_the_checked_ones_do() -> None:
    # Leg._of_checked and JournalEntry._of_checked set each field by name (the posting
    # templates' hottest constructors): a field added to either class must be set there too.
    amount = Money("12.34", "CNY")
    dims = (("customer", "C1"), ("loan", "L1"))
    fast = Leg._of_checked("1303.01", Side.CREDIT, amount, dims)
    checked = Leg("1303.01", Side.CREDIT, amount, dims)
    for field in attrs.fields(Leg):
        assert getattr(fast, field.name) == getattr(checked, field.name), field.name
    legs = (Leg._of_checked("1303.01", Side.DEBIT, amount, dims), fast)
    entry = JournalEntry._of_checked("e1", date(2026, 3, 2), legs, "memo")
    expected = JournalEntry(
        entry_id="e1",
        idempotency_key="e1",
        accounting_date=date(2026, 3, 2),
        legs=(Leg("1303.01", Side.DEBIT, amount, dims), checked),
        memo="memo",
    )
    for field in attrs.fields(JournalEntry):
        assert getattr(entry, field.name) == getattr(expected, field.name), field.name
    assert entry == expected and hash(entry) == hash(expected)
