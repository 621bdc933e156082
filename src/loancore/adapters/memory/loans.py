"""MemoryLoanStore: the plain reference :class:`~loancore.ports.LoanStore`.

Loans are immutable values, so the store keeps them as they are; a checkpoint is a shallow copy
of its dicts (``_checkpoint`` / ``_restore`` serve :class:`~loancore.adapters.memory.uow.
MemoryUnitOfWork`). Every method checks all it needs before changing anything.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

from loancore.adapters.memory.documents import (
    check_id_batch,
    check_page,
    find_product,
    keep_product,
)
from loancore.adapters.memory.lines import LineState, MemoryLines
from loancore.checks import require_date, require_id
from loancore.delinquency.daily import LoanStanding
from loancore.errors import ConcurrentUpdate, IdempotencyConflict, InvalidInput, NotFound
from loancore.servicing import Loan, LoanProduct, LoanStatus, product_from_toml

__all__ = ["LOANS_BATCH_MAX", "MemoryLoanStore", "check_standings"]

LOANS_BATCH_MAX = 10_000
"""The most loans one ``load_many`` or ``update_many`` takes (a batch of ``apply_batch``)."""


class _State:
    __slots__ = ("customers", "lines", "loans", "products", "standings")

    def __init__(
        self,
        products: dict[tuple[str, int], LoanProduct],
        loans: dict[str, Loan],
        customers: dict[str, str],
        standings: dict[str, LoanStanding] | None = None,
        lines: LineState | None = None,
    ) -> None:
        self.products = products
        self.loans = loans
        self.customers = customers  # loan id -> customer id
        self.standings = {} if standings is None else standings  # the end-of-day batch's
        self.lines = LineState() if lines is None else lines  # revolving credit lines

    def copy(self) -> _State:
        return _State(
            dict(self.products),
            dict(self.loans),
            dict(self.customers),
            dict(self.standings),
            self.lines.copy(),
        )


def check_loan(loan: object) -> Loan:
    if not isinstance(loan, Loan):
        raise InvalidInput("loan", loan, "expected a Loan")
    return loan


def check_ids(loan_ids: object) -> tuple[str, ...]:
    """``loan_ids`` as a tuple of str, at most :data:`LOANS_BATCH_MAX` of them."""
    return check_id_batch("loan_ids", loan_ids, LOANS_BATCH_MAX, "loan")


def check_updates(updates: object) -> tuple[tuple[Loan, int], ...]:
    """``updates`` as ``(loan, expected_version)`` pairs, at most :data:`LOANS_BATCH_MAX`, one
    per loan id."""
    if not isinstance(updates, Sequence):
        raise InvalidInput("updates", updates, "expected a sequence of (loan, expected_version)")
    if len(updates) > LOANS_BATCH_MAX:
        raise InvalidInput("updates", len(updates), f"at most {LOANS_BATCH_MAX} loans")
    seen: set[str] = set()
    for index, pair in enumerate(updates):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"updates[{index}]", pair, "expected (loan, expected_version)")
        loan, expected = pair
        check_loan(loan)
        if isinstance(expected, bool) or not isinstance(expected, int):
            raise InvalidInput(f"updates[{index}].expected_version", expected, "expected an int")
        if loan.loan_id in seen:
            raise InvalidInput(f"updates[{index}]", loan.loan_id, "loan given twice")
        seen.add(loan.loan_id)
    return tuple(updates)


def check_loans(loans: object) -> tuple[Loan, ...]:
    """``loans`` as a tuple of Loan, at most :data:`LOANS_BATCH_MAX`."""
    if not isinstance(loans, Sequence) or isinstance(loans, str):
        raise InvalidInput("loans", loans, "expected a sequence of Loan")
    if len(loans) > LOANS_BATCH_MAX:
        raise InvalidInput("loans", len(loans), f"at most {LOANS_BATCH_MAX} loans")
    for index, loan in enumerate(loans):  # bounded just above
        if not isinstance(loan, Loan):
            raise InvalidInput(f"loans[{index}]", loan, "expected a Loan")
    return tuple(loans)


check_limit = check_page
"""A page's ``after`` and ``limit`` checked (:func:`~loancore.adapters.memory.documents.check_page`)."""


def check_standings(standings: object) -> tuple[LoanStanding, ...]:
    """``standings`` as a tuple of LoanStanding, at most :data:`LOANS_BATCH_MAX`, one per loan."""
    if not isinstance(standings, Sequence):
        raise InvalidInput("standings", standings, "expected a sequence of LoanStanding")
    if len(standings) > LOANS_BATCH_MAX:
        raise InvalidInput("standings", len(standings), f"at most {LOANS_BATCH_MAX}")
    seen: set[str] = set()
    for index, standing in enumerate(standings):
        if not isinstance(standing, LoanStanding):
            raise InvalidInput(f"standings[{index}]", standing, "expected a LoanStanding")
        if standing.loan_id in seen:
            raise InvalidInput(f"standings[{index}]", standing.loan_id, "loan given twice")
        seen.add(standing.loan_id)
    return tuple(standings)


class MemoryLoanStore(MemoryLines):
    """Loans and products in dicts (see the module docstring); revolving credit-line accounts
    and their products too (:class:`~loancore.adapters.memory.lines.MemoryLines`)."""

    def __init__(self) -> None:
        self._state = _State({}, {}, {})
        self._lock = threading.Lock()

    # -- products ---------------------------------------------------------------------------------

    def save_product(self, toml_text: str) -> LoanProduct:
        product = product_from_toml(toml_text)
        with self._lock:
            products = self._state.products
            kept = products[product.ref] = keep_product(
                products.get(product.ref), product, "product"
            )
        return kept

    def product(self, product_id: str, version: int) -> LoanProduct:
        found = self._state.products.get((product_id, version))
        return find_product(found, product_id, version, "product")

    # -- loans ------------------------------------------------------------------------------------

    def add(self, loan: Loan, *, customer_id: str) -> None:
        check_loan(loan)
        require_id("customer_id", customer_id)
        with self._lock:
            stored = self._state.loans.get(loan.loan_id)
            if stored is not None:
                if stored != loan or self._state.customers[loan.loan_id] != customer_id:
                    raise IdempotencyConflict(loan.loan_id, "a different loan has this id")
                return
            self._state.loans[loan.loan_id] = loan
            self._state.customers[loan.loan_id] = customer_id

    def load(self, loan_id: str) -> Loan:
        found = self._state.loans.get(loan_id)
        if found is None:
            raise NotFound("loan", loan_id)
        return found

    def update(self, loan: Loan, *, expected_version: int) -> None:
        check_loan(loan)
        with self._lock:
            stored = self._state.loans.get(loan.loan_id)
            if stored is None:
                raise NotFound("loan", loan.loan_id)
            if stored.version != expected_version:
                raise ConcurrentUpdate("loan", loan.loan_id, expected_version)
            self._state.loans[loan.loan_id] = loan

    def load_many(self, loan_ids: Sequence[str]) -> dict[str, Loan]:
        loans = self._state.loans
        found: dict[str, Loan] = {}
        for loan_id in check_ids(loan_ids):  # bounded by LOANS_BATCH_MAX
            loan = loans.get(loan_id)
            if loan is None:
                raise NotFound("loan", loan_id)
            found[loan_id] = loan
        return found

    def versions(self, loan_ids: Sequence[str]) -> dict[str, int]:
        return {loan_id: loan.version for loan_id, loan in self.load_many(loan_ids).items()}

    def update_many(self, updates: Sequence[tuple[Loan, int]]) -> None:
        pairs = check_updates(updates)
        with self._lock:
            loans = self._state.loans
            for loan, expected in pairs:  # everything checked before anything is written
                stored = loans.get(loan.loan_id)
                if stored is None:
                    raise NotFound("loan", loan.loan_id)
                if stored.version != expected:
                    raise ConcurrentUpdate("loan", loan.loan_id, expected)
            for loan, _expected in pairs:
                loans[loan.loan_id] = loan

    def prepare_updates(self, loans: Sequence[Loan]) -> None:
        check_loans(loans)  # nothing to do ahead: the loans are stored as they are

    def customer_loans(self, customer_id: str) -> tuple[str, ...]:
        customers = self._state.customers
        return tuple(sorted(i for i, c in customers.items() if c == customer_id))

    def loan_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        check_limit(after, limit)
        return tuple(sorted(i for i in self._state.loans if i > after)[:limit])

    # -- end-of-day standings ---------------------------------------------------------------------

    def load_standings(self, loan_ids: Sequence[str]) -> dict[str, LoanStanding]:
        standings = self._state.standings
        found = (standings.get(loan_id) for loan_id in check_ids(loan_ids))
        return {s.loan_id: s for s in found if s is not None}

    def save_standings(self, standings: Sequence[LoanStanding]) -> None:
        checked = check_standings(standings)
        with self._lock:
            loans = self._state.loans
            accounts = self._lines().accounts  # a credit line's standing is kept here too
            for standing in checked:  # everything checked before anything is written
                if standing.loan_id not in loans and standing.loan_id not in accounts:
                    raise NotFound("loan", standing.loan_id)
            self._state.standings.update((s.loan_id, s) for s in checked)

    def loans_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        require_date("through", through)
        check_limit(after, limit)
        standings, active = self._state.standings, LoanStatus.ACTIVE
        wanted = []
        for loan_id, loan in self._state.loans.items():  # bounded by the loans stored
            standing = standings.get(loan_id)
            closed = None if standing is None else standing.closed_through
            if loan_id > after and loan.status is active and (closed is None or closed < through):
                wanted.append(loan_id)
        return tuple(sorted(wanted)[:limit])

    def standings(self, *, after: str = "", limit: int = 1000) -> tuple[LoanStanding, ...]:
        check_limit(after, limit)
        ids = sorted(i for i in self._state.standings if i > after)[:limit]
        return tuple(self._state.standings[i] for i in ids)

    # -- memory unit of work ----------------------------------------------------------------------

    def _checkpoint(self) -> object:
        with self._lock:
            return self._state.copy()

    def _restore(self, checkpoint: object) -> None:
        if not isinstance(checkpoint, _State):
            raise InvalidInput("checkpoint", checkpoint, "expected a MemoryLoanStore checkpoint")
        with self._lock:
            self._state = checkpoint.copy()
