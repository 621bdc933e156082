"""Atomicity as a property, on memory, SQLite and PostgreSQL: over any sequence of units of work
that commit, crash between the quota and the ledger step, are refused by the ledger, or are left
without commit, the stores hold exactly the committed ones."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uow_kit import DAY, LATER, cny, draw_entry, make_uow, unbalanced_entry

from loancore.errors import PostingRejected
from loancore.ports import UnitOfWork
from loancore.quota import Grant, Hold
from loancore.services import audit
from store_kit import dispose

FATES = ("commit", "crash", "refused", "left")
_examples = itertools.count()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def shared_uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UnitOfWork]:
    """One unit of work per kind for the module; each example grants and uses its own lines."""
    kind = str(request.param)
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    uow = make_uow(kind, tmp_path_factory.mktemp("uow-property"), url)
    yield uow
    dispose(uow)


STEPS = st.lists(st.tuples(st.integers(1, 30_000), st.sampled_from(FATES)), max_size=30)


def _run(uow: UnitOfWork, steps: list[tuple[int, str]]) -> None:
    k = next(_examples)
    line = f"S{k}"
    with uow:  # a fresh master and sub-line for this example: 10,000.00 CNY each
        uow.quota.apply(
            Grant(
                key=f"g-M{k}",
                line_id=f"M{k}",
                borrower_id=f"b{k}",
                limit=cny("10000.00"),
                starts_on=DAY,
                expires_on=LATER,
            ),
            as_of=DAY,
        )
        sub = Grant(
            key=f"g-S{k}",
            line_id=line,
            borrower_id=f"b{k}",
            limit=cny("10000.00"),
            starts_on=DAY,
            expires_on=LATER,
            master_id=f"M{k}",
        )
        uow.quota.apply(sub, as_of=DAY)
        uow.commit()
    with uow:
        entries_before = len(list(uow.ledger.entries()))
        booked_before = uow.ledger.balance("1303", "CNY", as_of=DAY).minor_units
    committed: list[str] = []
    held = 0
    for n, (minor, fate) in enumerate(steps):
        amount = f"{minor // 100}.{minor % 100:02d}"
        name = f"{k}-{n}"
        try:
            with uow:
                uow.quota.apply(
                    Hold(key=f"h-{name}", line_id=line, amount=cny(amount), expires_on=DAY),
                    as_of=DAY,
                )
                if fate == "crash":
                    raise OSError("injected")
                entry = unbalanced_entry(name) if fate == "refused" else draw_entry(name, amount)
                uow.ledger.post([entry])
                if fate == "commit":
                    uow.commit()
                    committed.append(f"E-{name}")
                    held += minor
        except (OSError, PostingRejected):
            pass
    with uow:
        assert uow.quota.balance(line).held_minor == held
        new = [e.entry_id for e in list(uow.ledger.entries())[entries_before:]]
        assert new == committed
        booked = uow.ledger.balance("1303", "CNY", as_of=DAY).minor_units
        assert booked == booked_before + held
        assert uow.quota.check() == ()
        assert audit(uow.ledger) == []


@settings(max_examples=20)
@given(steps=STEPS)
def test_only_committed_units_of_work_leave_a_trace(
    shared_uow: UnitOfWork, steps: list[tuple[int, str]]
) -> None:
    """Held quota equals the committed amounts; the ledger holds the committed entries and their
    total; the quota journal rebuilds the stored state and the audit is clean."""
    _run(shared_uow, steps)
