"""The beancount export loads in beancount's own loader with zero errors and the same balances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from beancount import loader
from beancount.core import account, realization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loancore.adapters.beancount_export import (
    account_names,
    export_beancount,
    export_store,
    memo_account_names,
    month_ends,
)
from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.checks import DATE_MAX, DATE_MIN
from loancore.errors import InvalidInput
from loancore.ledger import (
    Chart,
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
    Subject,
    default_chart,
)
from loancore.money import Money
from loancore.testing.ledger import journal_entries

CHART = default_chart().with_subjects(
    Subject(
        "1221.01", "押金", "Deposits", "asset", parent_code="1221", close_date=date(2026, 6, 30)
    )
)


def _store(entries) -> MemoryLedgerStore:
    store = MemoryLedgerStore(CHART)
    store.post(entries)
    return store


def _beancount_balances(text: str) -> tuple[dict[tuple[str, str], Decimal], list]:
    entries, errors, _options = loader.load_string(text)
    real = realization.realize(entries)
    out = {}
    for real_account in realization.iter_children(real):
        for position in real_account.balance:
            out[(real_account.account, position.units.currency)] = position.units.number
    return out, errors


def test_account_names_are_legal_unique_and_readable() -> None:
    names = account_names(CHART)
    assert names["1303.01"] == "Assets:1303-Loans:Principal"
    assert names["1304.01"] == "Assets:1304-LoanLossAllowance:Stage1"
    assert names["6011"] == "Income:6011-InterestIncome"
    assert names["2241.01"] == "Liabilities:2241-OtherPayables:Overpayments"
    assert len(set(names.values())) == len(names)
    assert all(account.is_valid(name) for name in names.values())


def _sample_entries() -> list[JournalEntry]:
    cny = lambda text: Money(text, "CNY")
    return [
        JournalEntry(
            entry_id="e1",
            idempotency_key="k1",
            accounting_date=date(2026, 1, 5),
            memo='放款 "L1"',
            legs=(
                Leg.debit("1303.01", cny("1000.00"), {"loan": "L1", "merchant": "M1"}),
                Leg.credit("1002", cny("1000.00")),
            ),
        ),
        JournalEntry(
            entry_id="e2",
            idempotency_key="k2",
            accounting_date=date(2026, 2, 5),
            memo="计提利息",
            legs=(
                Leg.debit("1303.03", cny("15.07"), {"loan": "L1"}),
                Leg.credit("6011", cny("15.07"), {"loan": "L1"}),
            ),
        ),
        JournalEntry(
            entry_id="e3",
            idempotency_key="k3",
            accounting_date=date(2026, 6, 30),
            memo="押金",
            legs=(Leg.debit("1221.01", cny("0.01")), Leg.credit("3001", cny("0.01"))),
        ),
    ]


def test_export_loads_with_zero_errors_and_the_same_balances() -> None:
    store = _store(_sample_entries())
    store.reverse("e2", reversal_id="r2", idempotency_key="rk2", accounting_date=date(2026, 3, 1))
    text = export_store(store)
    balances, errors = _beancount_balances(text)
    assert errors == []
    names = account_names(CHART)
    for line in store.trial_balance(as_of=date(2026, 12, 31)).lines:
        assert (
            balances.get((names[line.subject_code], line.currency), Decimal(0))
            == line.net_debit.amount
        )
    assert 'option "inferred_tolerance_default" "*:0"' in text
    assert "balance Assets:1303-Loans:Principal  1000.00 CNY" in text
    assert '    loan: "L1"' in text and 'reverses: "e2"' in text


def test_the_export_opens_in_fava_with_no_errors_and_the_same_balances(tmp_path) -> None:
    """Fava (beancount's web front end) loads the exported file, reports no error, serves its
    reports, and its own query engine sums every account to loancore's trial balance and memo
    register balances."""
    import json

    from fava.application import create_app

    store = _store_with_memos()
    store.reverse("e2", reversal_id="r2", idempotency_key="rk2", accounting_date=date(2026, 3, 1))
    books = tmp_path / "books.beancount"
    books.write_text(export_store(store), encoding="utf-8")
    client = create_app([books], load=True).test_client()

    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    slug = home.request.path.split("/")[1]
    for report in ("balance_sheet", "income_statement", "trial_balance", "journal"):
        assert client.get(f"/{slug}/{report}/").status_code == 200
    assert json.loads(client.get(f"/{slug}/api/errors").data)["data"] == []

    query = "SELECT account, currency, sum(number) AS total GROUP BY account, currency"
    answer = client.get(f"/{slug}/api/query", query_string={"query_string": query})
    rows = json.loads(answer.data, parse_float=Decimal)["data"]["rows"]
    in_fava = {(name, currency): total for name, currency, total in rows if total != 0}
    names = account_names(CHART)
    expected = {
        (names[line.subject_code], line.currency): line.net_debit.amount
        for line in store.trial_balance(as_of=date(2026, 12, 31)).lines
        if not line.net_debit.is_zero()
    }
    expected.update(_memo_balances_in_loancore(store))
    assert in_fava == expected


def test_an_entry_off_by_one_minor_unit_fails_in_beancount_too() -> None:
    bad = JournalEntry(
        entry_id="x",
        idempotency_key="x",
        accounting_date=date(2026, 1, 5),
        legs=(
            Leg.debit("1303.01", Money("10.00", "CNY")),
            Leg.credit("1002", Money("9.99", "CNY")),
        ),
    )
    _, errors = _beancount_balances(export_beancount(CHART, [bad]))
    assert any("does not balance" in str(e.message) for e in errors)


def test_a_wrong_balance_assertion_fails_in_beancount() -> None:
    entries = _sample_entries()[:1]
    text = export_beancount(
        CHART, entries, assertions=[(date(2026, 1, 31), "1303", 100_001, "CNY")]
    )
    _, errors = _beancount_balances(text)
    assert len(errors) == 1 and "Balance failed" in str(errors[0].message)


def test_posting_after_a_subject_closes_fails_in_beancount() -> None:
    late = JournalEntry(
        entry_id="late",
        idempotency_key="late",
        accounting_date=date(2026, 7, 1),
        legs=(Leg.debit("1221.01", Money("1.00", "CNY")), Leg.credit("1002", Money("1.00", "CNY"))),
    )
    _, errors = _beancount_balances(export_beancount(CHART, [late]))
    assert any("inactive" in str(e.message) for e in errors)


def test_month_ends_cover_every_month_between() -> None:
    assert month_ends(date(2025, 11, 15), date(2026, 2, 1)) == (
        date(2025, 11, 30),
        date(2025, 12, 31),
        date(2026, 1, 31),
        date(2026, 2, 28),
    )


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        journal_entries(default_chart(), currencies=("CNY", "USD", "JPY")), min_size=1, max_size=12
    )
)
def test_any_ledger_exports_to_a_beancount_file_with_equal_balances(
    entries: list[JournalEntry],
) -> None:
    store = MemoryLedgerStore(default_chart())
    store.post(entries)
    balances, errors = _beancount_balances(export_store(store))
    assert errors == []
    names = account_names(default_chart())
    for line in store.trial_balance(as_of=date(2027, 1, 1)).lines:
        assert (
            balances.get((names[line.subject_code], line.currency), Decimal(0))
            == line.net_debit.amount
        )


def test_parents_may_sort_after_their_children_and_bad_codes_are_named() -> None:
    chart = Chart(
        [
            Subject("9", "父", "Parent", "asset"),
            Subject("10", "子", "Child", "asset", parent_code="9"),
        ]
    )
    assert account_names(chart) == {"9": "Assets:9-Parent", "10": "Assets:9-Parent:Child"}
    with pytest.raises(InvalidInput):
        account_names(Chart([Subject("x1", "小写", "Lower", "asset")]))


# -- memo (off-balance) registers ---------------------------------------------------------------


def _memo(
    n: int, register: MemoRegister, direction: MemoDirection, amount: str, day: date, **dims: str
) -> MemoPosting:
    return MemoPosting(
        posting_id=f"m{n}",
        idempotency_key=f"mk{n}",
        register=register,
        accounting_date=day,
        direction=direction,
        amount=Money(amount, "CNY"),
        dimensions=dims,
        memo=f"memo {n}",
    )


def _store_with_memos() -> MemoryLedgerStore:
    store = _store(_sample_entries())
    up, down = MemoDirection.INCREASE, MemoDirection.DECREASE
    interest, written_off = MemoRegister.OFF_BALANCE_INTEREST, MemoRegister.WRITTEN_OFF_LOANS
    store.post_memo(
        [
            _memo(1, interest, up, "30.00", date(2026, 3, 5), loan="L1"),
            _memo(2, interest, up, "12.34", date(2026, 4, 5), loan="L2"),
            _memo(3, interest, down, "10.00", date(2026, 4, 20), loan="L1"),
            _memo(4, written_off, up, "5000.00", date(2026, 5, 31), loan="L3", customer="C3"),
        ]
    )
    return store


def _memo_balances_in_loancore(store: MemoryLedgerStore) -> dict[tuple[str, str], Decimal]:
    out = {}
    for register in MemoRegister:
        account_name, contra = memo_account_names(register)
        balance = store.memo_balance(register, "CNY", as_of=date(2026, 12, 31)).amount
        out[(account_name, "CNY")], out[(contra, "CNY")] = balance, -balance
    return out


def test_memo_registers_export_as_paired_off_balance_accounts_with_the_same_balances() -> None:
    """Each register is an account under Assets:Memo with a contra account beside it: beancount's
    balance of the register equals loancore's memo balance, every month-end assertion holds, the
    pair nets to zero, and the chart's accounts keep loancore's trial balance."""
    store = _store_with_memos()
    text = export_store(store)
    balances, errors = _beancount_balances(text)
    assert errors == []
    for key, value in _memo_balances_in_loancore(store).items():
        assert balances.get(key, Decimal(0)) == value
    assert balances[("Assets:Memo:OffBalanceInterest", "CNY")] == Decimal("32.34")
    assert balances[("Assets:Memo:WrittenOffLoans", "CNY")] == Decimal("5000.00")
    assert sum(v for (name, _), v in balances.items() if name.startswith("Assets:Memo:")) == 0
    names = account_names(CHART)
    for line in store.trial_balance(as_of=date(2026, 12, 31)).lines:
        assert (
            balances.get((names[line.subject_code], line.currency), Decimal(0))
            == line.net_debit.amount
        )
    assert "2026-05-01 balance Assets:Memo:OffBalanceInterest  32.34 CNY" in text  # April's end
    assert '  memo-posting-id: "m3"' in text and '  direction: "decrease"' in text
    assert '    customer: "C3"' in text and 'name-zh: "已核销贷款"' in text


def test_a_wrong_memo_balance_assertion_fails_in_beancount() -> None:
    text = export_store(_store_with_memos())
    wrong = text.replace(
        "balance Assets:Memo:OffBalanceInterest  32.34 CNY",
        "balance Assets:Memo:OffBalanceInterest  32.33 CNY",
    )
    assert wrong != text
    _balances, errors = _beancount_balances(wrong)
    assert errors


def test_a_chart_account_under_the_memo_root_is_refused() -> None:
    chart = Chart([Subject("Memo", "表外", "-", "asset")])  # named by its code alone: Assets:Memo
    with pytest.raises(InvalidInput, match="memo registers use"):
        export_beancount(chart, [])


# -- what beancount once refused or the export crashed on (issue 10) --------------------------


def _cny_entry(n: int, day: date, debit: str, credit: str, amount: str = "10.00") -> JournalEntry:
    money = Money(amount, "CNY")
    return JournalEntry(
        entry_id=f"x{n}",
        idempotency_key=f"xk{n}",
        accounting_date=day,
        legs=(Leg.debit(debit, money), Leg.credit(credit, money)),
    )


def _loads_with_the_stores_balances(store: MemoryLedgerStore, as_of: date) -> str:
    text = export_store(store)
    balances, errors = _beancount_balances(text)
    assert errors == [], [str(e.message) for e in errors]
    names = account_names(store.load_chart())
    for line in store.trial_balance(as_of=as_of).lines:
        got = balances.get((names[line.subject_code], line.currency), Decimal(0))
        assert got == line.net_debit.amount
    return text


def test_subjects_opened_and_closed_mid_year_get_assertions_only_while_open() -> None:
    """Month-end assertions were written before a subject's open date and after its close date,
    which beancount refuses ("inactive account")."""
    chart = default_chart().with_subjects(
        Subject("1221.01", "押金", "Deposits", "asset", parent_code="1221", close_date=date(2026, 6, 15)),
        Subject("1221.02", "保证金", "Margins", "asset", parent_code="1221", open_date=date(2026, 3, 15)),
    )  # fmt: skip
    store = MemoryLedgerStore(chart)
    store.post(
        [
            _cny_entry(1, date(2026, 1, 5), "1221.01", "1002"),
            _cny_entry(2, date(2026, 6, 15), "1002", "1221.01", "4.00"),
            _cny_entry(3, date(2026, 3, 15), "1221.02", "1002"),
            _cny_entry(4, date(2026, 11, 20), "1303.01", "1002"),
        ]
    )
    text = _loads_with_the_stores_balances(store, date(2026, 12, 31))
    names = account_names(chart)
    assert f"2026-02-01 balance {names['1221.01']}" in text  # open: asserted
    assert f"2026-07-01 balance {names['1221.01']}" not in text  # closed on 06-15
    assert f"2026-03-01 balance {names['1221.02']}" not in text  # opens 03-15
    assert f"2026-04-01 balance {names['1221.02']}" in text


def test_an_entry_on_the_last_accounting_date_exports() -> None:
    """An entry dated 9999-12-31 crashed the export (the day after the last month end); dates now
    end at DATE_MAX, and the export's last assertion is dated the day after it."""
    store = MemoryLedgerStore(default_chart())
    store.post(
        [
            _cny_entry(1, date(2999, 11, 20), "1303.01", "1002"),
            _cny_entry(2, DATE_MAX, "1303.01", "1002", "5.00"),
        ]
    )
    text = _loads_with_the_stores_balances(store, DATE_MAX)
    assert "3000-01-01 balance Assets:1303-Loans:Principal  15.00 CNY" in text


def test_entries_before_1970_export_with_accounts_opened_in_time() -> None:
    """Accounts were opened on a fixed 1970-01-01, so older entries were refused by beancount."""
    store = MemoryLedgerStore(default_chart())
    store.post([_cny_entry(1, date(1950, 5, 1), "1303.01", "1002")])
    store.post_memo(
        [
            MemoPosting(
                posting_id="m1",
                idempotency_key="mk1",
                register=MemoRegister.WRITTEN_OFF_LOANS,
                accounting_date=date(1949, 12, 1),
                direction=MemoDirection.INCREASE,
                amount=Money("3.00", "CNY"),
            )
        ]
    )
    text = _loads_with_the_stores_balances(store, date(1950, 12, 31))
    assert "1949-12-01 open Assets:1303-Loans:Principal" in text
    chart = default_chart().with_subjects(
        Subject("1221.03", "旧", "Old", "asset", parent_code="1221", open_date=DATE_MIN)
    )
    assert f"{DATE_MIN} open" in export_beancount(chart, [])


def test_huge_amounts_are_written_in_plain_notation_beancount_can_parse() -> None:
    """str() of a Decimal of 10**28 or more is scientific (1.0E+28), which beancount cannot parse;
    the export function takes any entries, so it must write every amount plainly."""
    huge = "1" + "0" * 28 + ".00"
    entry = _cny_entry(1, date(2026, 1, 5), "1303.01", "1002", huge)
    text = export_beancount(
        CHART, [entry], assertions=[(date(2026, 1, 31), "1303.01", 10**30, "CNY")]
    )
    assert "E+" not in text
    assert f"Assets:1303-Loans:Principal  {huge} CNY" in text
    balances, errors = _beancount_balances(text)
    assert errors == [], [str(e.message) for e in errors]
    assert balances[("Assets:1303-Loans:Principal", "CNY")] == Decimal(huge)


def test_export_dates_are_accounting_dates() -> None:
    with pytest.raises(InvalidInput) as info:
        month_ends(date(2026, 1, 1), date.max)
    assert info.value.field == "last"
    with pytest.raises(InvalidInput) as info:
        export_beancount(CHART, [], assertions=[("2026-01-31", "1002", 0, "CNY")])
    assert info.value.field == "assertions.period_end"
    with pytest.raises(InvalidInput) as info:
        export_store(MemoryLedgerStore(CHART), period_ends=[date(2026, 1, 31), "2026-02-28"])
    assert info.value.field == "period_ends[1]"
