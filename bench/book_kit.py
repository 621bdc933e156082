"""The book the servicing and end-of-day benches start from: products, quota lines and loans
booked and disbursed in units of work of ``chunk`` loans (book_order's steps, set-up only: not
timed). One copy for bench_eod, bench_eod_dask and bench_servicing.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from loancore.ledger import default_chart
from loancore.money import Money
from loancore.quota import Grant, Hold
from loancore.services.servicing import quota_command
from loancore.servicing import Disburse, Outcome, apply, book_loan

PRINCIPAL = Money(Decimal("3000.00"), "CNY")
LINE_LIMIT = Money(Decimal("200000.00"), "CNY")


def open_book(uow: Any, product_toml: str, lines: int, start: datetime.date) -> None:
    """The product, ``lines`` quota lines ``LINE-<n>`` of borrowers ``B<n>`` (200,000.00 each)
    and the default chart."""
    with uow:
        uow.loans.save_product(product_toml)
        for n in range(lines):
            grant = Grant(
                key=f"grant-{n}",
                line_id=f"LINE-{n}",
                borrower_id=f"B{n}",
                limit=LINE_LIMIT,
                starts_on=datetime.date(2025, 1, 1),
                expires_on=datetime.date(2031, 1, 1),
            )
            uow.quota.apply(grant, as_of=start)
        uow.ledger.save_chart(default_chart())
        uow.commit()


def book_chunk(
    uow: Any,
    loan_ids: Sequence[str],
    *,
    first: int,
    lines: int,
    start: datetime.date,
    installments: int = 12,
) -> None:
    """``loan_ids`` (numbered from ``first``) booked and disbursed to merchant M1 in one unit of
    work, loan ``n`` on line ``LINE-<n % lines>`` of borrower ``B<n % lines>``."""
    with uow:
        product = uow.loans.product("clinic-12", 1)
        outcomes: list[tuple[str, Outcome, Outcome]] = []
        for n, loan_id in enumerate(loan_ids, start=first):
            booked = book_loan(
                product,
                event_id=f"o-{loan_id}",
                loan_id=loan_id,
                hold_id=f"{loan_id}-hold",
                principal=PRINCIPAL,
                installments=installments,
                start_date=start,
                payee="merchant",
                dimensions={"merchant": "M1", "customer": f"B{n % lines}"},
            )
            paid = apply(booked.loan, product, Disburse(event_id=f"d-{loan_id}", as_of=start))
            outcomes.append((f"LINE-{n % lines}", booked, paid))
            uow.loans.add(paid.loan, customer_id=f"B{n % lines}")
        for line_id, booked, paid in outcomes:
            hold = Hold(
                key=booked.loan.hold_id, line_id=line_id, amount=PRINCIPAL, expires_on=start
            )
            uow.quota.apply(hold, as_of=start)
            for effect in booked.quota_effects + paid.quota_effects:
                uow.quota.apply(quota_command(uow, effect), as_of=start)
        uow.ledger.post([e for _l, b, p in outcomes for e in b.entries + p.entries])
        uow.commit()


def book_many(
    uow: Any,
    loan_ids: Sequence[str],
    *,
    lines: int,
    start: datetime.date,
    chunk: int,
    installments: int = 12,
) -> None:
    """:func:`book_chunk` over ``loan_ids``, ``chunk`` loans a unit of work."""
    for first in range(0, len(loan_ids), chunk):
        book_chunk(
            uow,
            loan_ids[first : first + chunk],
            first=first,
            lines=lines,
            start=start,
            installments=installments,
        )
