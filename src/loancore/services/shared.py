"""What the services share without importing each other (an import cycle otherwise: the end of
day runs the lines' day close, the servicing services use the end of day): the retry bound of
the optimistic units of work, the check of an optimistic batch's write (:func:`check_unchanged`),
and the credit-line half of a reconciliation, used by
:func:`loancore.services.reconcile` (the whole book: loans and lines) and
:func:`loancore.services.reconcile_line` (lines only).

:class:`LineBook` walks accounts inside the caller's unit of work: each account's expected
balances (:func:`~loancore.servicing.expected_line_balances`) against the ledger filtered by
``loan = <account id>`` (:class:`LineBalanceCheck`), and the principal of the accounts per quota
line, which the caller adds to the loans' principal on the same line before comparing it with
the line's used amount (:class:`LineCheck`). It imports no other service, so both services use
it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

import attrs

from loancore.checks import DATE_MAX
from loancore.delinquency.daily import LoanStanding
from loancore.errors import ConcurrentUpdate
from loancore.ledger.subjects import Side
from loancore.ports import UnitOfWork
from loancore.servicing import CreditLineAccount, CreditLineProduct, expected_line_balances

__all__ = [
    "ATTEMPTS_MAX",
    "CATCH_UP_DAYS_MAX",
    "LineBalanceCheck",
    "LineBook",
    "LineCheck",
    "account_id_chunks",
    "check_unchanged",
    "id_chunks",
]

ATTEMPTS_MAX = 5
"""How many times :func:`~loancore.services.apply_event` and
:func:`~loancore.services.apply_line_event` try by default before letting ConcurrentUpdate out."""


def check_unchanged(
    uow: UnitOfWork,
    versions: Mapping[str, int],
    standings: Mapping[str, LoanStanding],
    *,
    written: Collection[str] = (),
) -> None:
    """Inside the unit of work that writes an optimistic batch (decided in another, earlier
    one): ConcurrentUpdate, before anything is written, unless every loan of ``versions`` is
    still at that version and its stored standing still the one of ``standings`` (absent: none
    stored), so nothing is written from a stale read. ``written``: loans of ``versions`` the
    batch writes with a versioned update (``update_many`` refuses one that moved with the same
    ConcurrentUpdate, before the batch commits), whose versions are not read again here."""
    ids = list(versions)
    if not ids:
        return
    check = [loan_id for loan_id in ids if loan_id not in written]
    stored = uow.loans.versions(check) if check else {}
    now = uow.loans.load_standings(ids)
    for loan_id, version in versions.items():  # bounded by the batch
        if stored.get(loan_id, version) != version or now.get(loan_id) != standings.get(loan_id):
            raise ConcurrentUpdate("loan", loan_id, version)


CATCH_UP_DAYS_MAX = 3660
"""The most days one loan or credit-line account is brought forward in one go (ten years)."""

_ACCOUNTS_BATCH = 1000
_ACCOUNTS_MAX = 10_000_000


@attrs.frozen
class LineCheck:
    """A quota line: its used amount and the outstanding principal drawn on it (the installment
    loans' and the credit-line accounts')."""

    line_id: str
    used_minor: int
    principal_outstanding: int

    @property
    def agrees(self) -> bool:
        return self.used_minor == self.principal_outstanding


@attrs.frozen
class LineBalanceCheck:
    """One subject of one account: the net debit the account expects (minor units, debit
    positive) and the ledger's, filtered by ``loan = account_id``."""

    account_id: str
    subject_code: str
    expected_minor: int
    ledger_minor: int

    @property
    def agrees(self) -> bool:
        return self.expected_minor == self.ledger_minor


class LineBook:
    """What a reconciliation keeps while it walks credit-line accounts: the products read once,
    each account's balance checks and the principal per quota line."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.chart = uow.ledger.load_chart()
        self.products: dict[tuple[str, int], CreditLineProduct] = {}
        self.balances: list[LineBalanceCheck] = []
        self.principal: dict[str, int] = {}  # quota line -> principal of its accounts

    def product_of(self, account: CreditLineAccount) -> CreditLineProduct:
        ref = (account.product_id, account.product_version)
        product = self.products.get(ref)
        if product is None:
            product = self.products[ref] = self.uow.loans.line_product(*ref)
        return product

    def check(self, account: CreditLineAccount, *, interest_off_books: bool = False) -> None:
        """``account``'s expected balances against the ledger filtered by its id (its interest
        off the books while its standing says non-accrual)."""
        product = self.product_of(account)
        expected_balances = expected_line_balances(
            account, product, interest_off_books=interest_off_books
        )
        for code, expected in sorted(expected_balances.items()):
            balance = self.uow.ledger.balance(
                code, account.currency, as_of=DATE_MAX, dimensions={"loan": account.account_id}
            ).minor_units
            net = balance if self.chart.get(code).normal_side is Side.DEBIT else -balance
            self.balances.append(LineBalanceCheck(account.account_id, code, expected, net))

    def count(self, accounts: Iterable[CreditLineAccount]) -> None:
        """Add the principal of ``accounts`` to their quota lines (a written-off account's
        principal written off: the debt stays used on the line, as a written-off loan's)."""
        for account in accounts:  # bounded by the caller's batch
            line_id, drawn = account.line_id, account.principal + account.principal_written_off
            self.principal[line_id] = self.principal.get(line_id, 0) + drawn

    def count_line(self, line_id: str) -> None:
        """Add the principal of every account drawing on quota line ``line_id``."""
        self.principal.setdefault(line_id, 0)
        ids = self.uow.loans.quota_line_accounts(line_id)
        for first in range(0, len(ids), _ACCOUNTS_BATCH):  # bounded by the line's accounts
            chunk = ids[first : first + _ACCOUNTS_BATCH]
            self.count(s.account for s in self.uow.loans.load_lines(chunk).values())

    def walk_all(self) -> None:
        """Every account of the book checked and counted, a batch of accounts at a time."""
        for ids in account_id_chunks(self.uow):
            accounts = [stored.account for stored in self.uow.loans.load_lines(ids).values()]
            standings = self.uow.loans.load_standings(ids)
            for account in accounts:  # bounded by the batch
                standing = standings.get(account.account_id)
                suspended = standing is not None and standing.interest_suspended
                self.check(account, interest_off_books=suspended)
            self.count(accounts)


def id_chunks(
    page: Callable[..., tuple[str, ...]], *, batch: int = _ACCOUNTS_BATCH, most: int = _ACCOUNTS_MAX
) -> Iterator[tuple[str, ...]]:
    """Every id ``page(after=, limit=)`` pages through (a store's ``loan_ids`` or ``line_ids``),
    in id order, ``batch`` at a time; at most ``most`` ids."""
    after = ""
    for _ in range(most // batch):  # bounded: at most ``most`` ids
        ids = page(after=after, limit=batch)
        if ids:
            yield ids
        if len(ids) < batch:
            return
        after = ids[-1]


def account_id_chunks(uow: UnitOfWork) -> Iterator[tuple[str, ...]]:
    """Every credit-line account id, in id order, a batch at a time."""
    return id_chunks(uow.loans.line_ids)
