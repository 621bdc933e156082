"""Revolving credit-line accounts in memory: the line half of
:class:`~loancore.adapters.memory.loans.MemoryLoanStore` (:class:`~loancore.ports.LoanStore`'s
``*_line*`` methods), and the argument checks the SQL store shares.

The state is immutable values in dicts, replaced (never mutated in place) on a write, so a unit
of work's checkpoint is a shallow copy of the dicts (:meth:`LineState.copy`).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Sequence
from datetime import date

from loancore.adapters.memory.documents import (
    check_id_batch,
    check_page,
    find_product,
    keep_product,
)
from loancore.checks import require_date, require_id
from loancore.delinquency.daily import LoanStanding
from loancore.errors import ConcurrentUpdate, IdempotencyConflict, InvalidInput, NotFound
from loancore.ports import LineRecord, StoredLine
from loancore.servicing import (
    CreditLineAccount,
    CreditLineProduct,
    Statement,
    credit_line_product_from_toml,
)

__all__ = [
    "LINES_BATCH_MAX",
    "LineState",
    "LineUpdate",
    "MemoryLines",
    "OneLineUpdate",
    "check_account",
    "check_account_ids",
    "check_line_limit",
    "check_line_update",
    "check_line_updates",
]

LINES_BATCH_MAX = 10_000
"""The most accounts one ``load_lines`` reads, and statements one ``update_line`` stores."""


def check_account_ids(account_ids: object) -> tuple[str, ...]:
    """``account_ids`` as a tuple of str, at most :data:`LINES_BATCH_MAX` of them."""
    return check_id_batch("account_ids", account_ids, LINES_BATCH_MAX, "account")


check_line_limit = check_page
"""A page's ``after`` and ``limit`` checked (:func:`~loancore.adapters.memory.documents.check_page`)."""


def check_account(account: object) -> CreditLineAccount:
    if not isinstance(account, CreditLineAccount):
        raise InvalidInput("account", account, "expected a CreditLineAccount")
    return account


def check_line_update(
    account: object, expected_version: object, record: object, statements: object
) -> tuple[CreditLineAccount, int, LineRecord, tuple[Statement, ...]]:
    """The arguments of ``update_line`` checked: an account, an int version, a record whose
    version is the next one, at most :data:`LINES_BATCH_MAX` statements of distinct numbers."""
    checked = check_account(account)
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise InvalidInput("expected_version", expected_version, "expected an int")
    if not isinstance(record, LineRecord):
        raise InvalidInput("record", record, "expected a LineRecord")
    require_id("record.event_id", record.event_id)
    if record.version != expected_version + 1:
        raise InvalidInput("record.version", record.version, f"expected {expected_version + 1}")
    if isinstance(statements, (str, bytes)) or not isinstance(statements, Sequence):
        raise InvalidInput("statements", statements, "expected a sequence of Statement")
    if len(statements) > LINES_BATCH_MAX:
        raise InvalidInput("statements", len(statements), f"at most {LINES_BATCH_MAX}")
    numbers: set[int] = set()
    for index, statement in enumerate(statements):
        if not isinstance(statement, Statement):
            raise InvalidInput(f"statements[{index}]", statement, "expected a Statement")
        if statement.number in numbers:
            raise InvalidInput(f"statements[{index}]", statement.number, "number given twice")
        numbers.add(statement.number)
    return checked, expected_version, record, tuple(statements)


LineUpdate = tuple[CreditLineAccount, int, LineRecord, tuple[Statement, ...]]


def check_line_updates(updates: object) -> tuple[LineUpdate, ...]:
    """``update_lines``' argument checked: at most :data:`LINES_BATCH_MAX` updates, each as
    :func:`check_line_update` checks it, one per account id."""
    if isinstance(updates, (str, bytes)) or not isinstance(updates, Sequence):
        raise InvalidInput("updates", updates, "expected a sequence of updates")
    if len(updates) > LINES_BATCH_MAX:
        raise InvalidInput("updates", len(updates), f"at most {LINES_BATCH_MAX} accounts")
    checked: list[LineUpdate] = []
    seen: set[str] = set()
    for index, update in enumerate(updates):
        if not isinstance(update, tuple) or len(update) != 4:
            expected = "expected (account, expected_version, record, statements)"
            raise InvalidInput(f"updates[{index}]", update, expected)
        one = check_line_update(*update)
        if one[0].account_id in seen:
            raise InvalidInput(f"updates[{index}]", one[0].account_id, "account given twice")
        seen.add(one[0].account_id)
        checked.append(one)
    return tuple(checked)


class LineState:
    """The stored line products, accounts, records (per account, by event id) and statements."""

    __slots__ = ("accounts", "products", "records", "statements")

    def __init__(self) -> None:
        self.products: dict[tuple[str, int], CreditLineProduct] = {}
        self.accounts: dict[str, StoredLine] = {}
        self.records: dict[str, dict[str, LineRecord]] = {}  # inner dicts replaced, not mutated
        self.statements: dict[str, tuple[Statement, ...]] = {}

    def copy(self) -> LineState:
        other = LineState()
        other.products = dict(self.products)
        other.accounts = dict(self.accounts)
        other.records = dict(self.records)
        other.statements = dict(self.statements)
        return other


class OneLineUpdate(abc.ABC):
    """``update_line`` as one ``update_lines`` of a single update: the memory and SQL line stores
    share it (a mixin over the store's ``update_lines``, which each store must define)."""

    @abc.abstractmethod
    def update_lines(
        self, updates: Sequence[tuple[CreditLineAccount, int, LineRecord, Sequence[Statement]]]
    ) -> None:
        """The store's batch of versioned updates (:meth:`loancore.ports.LoanStore.update_lines`)."""

    def update_line(
        self,
        account: CreditLineAccount,
        *,
        expected_version: int,
        record: LineRecord,
        statements: Sequence[Statement] = (),
    ) -> None:
        self.update_lines([(account, expected_version, record, tuple(statements))])


class MemoryLines(OneLineUpdate):
    """The credit-line methods of the memory loan store (a mixin: the store holds ``_lock``
    and a ``_state`` whose ``lines`` is a :class:`LineState`)."""

    _lock: threading.Lock

    def _lines(self) -> LineState:
        lines: LineState = self._state.lines  # type: ignore[attr-defined]
        return lines

    def save_line_product(self, toml_text: str) -> CreditLineProduct:
        product = credit_line_product_from_toml(toml_text)
        with self._lock:
            products = self._lines().products
            kept = products[product.ref] = keep_product(
                products.get(product.ref), product, "line product"
            )
        return kept

    def line_product(self, product_id: str, version: int) -> CreditLineProduct:
        found = self._lines().products.get((product_id, version))
        return find_product(found, product_id, version, "line product")

    def add_line(self, account: CreditLineAccount, *, customer_id: str) -> None:
        check_account(account)
        require_id("customer_id", customer_id)
        with self._lock:
            accounts = self._lines().accounts
            stored = accounts.get(account.account_id)
            if stored is not None:
                if stored.account != account or stored.customer_id != customer_id:
                    raise IdempotencyConflict(account.account_id, "a different line has this id")
                return
            accounts[account.account_id] = StoredLine(
                account=account, version=1, customer_id=customer_id
            )

    def load_line(self, account_id: str) -> StoredLine:
        found = self._lines().accounts.get(account_id)
        if found is None:
            raise NotFound("line", account_id)
        return found

    def load_lines(self, account_ids: Sequence[str]) -> dict[str, StoredLine]:
        accounts = self._lines().accounts
        found: dict[str, StoredLine] = {}
        for account_id in check_account_ids(account_ids):  # bounded
            stored = accounts.get(account_id)
            if stored is None:
                raise NotFound("line", account_id)
            found[account_id] = stored
        return found

    def update_lines(
        self, updates: Sequence[tuple[CreditLineAccount, int, LineRecord, Sequence[Statement]]]
    ) -> None:
        checked = check_line_updates(updates)
        with self._lock:
            lines = self._lines()
            for account, expected, record, closed in checked:  # all checked before any write
                _check_write(lines, account.account_id, expected, record, closed)
            for account, expected, record, closed in checked:
                account_id = account.account_id
                customer_id = lines.accounts[account_id].customer_id
                lines.accounts[account_id] = StoredLine(
                    account=account, version=expected + 1, customer_id=customer_id
                )
                records = lines.records.get(account_id, {})
                lines.records[account_id] = {**records, record.event_id: record}
                if closed:
                    kept = lines.statements.get(account_id, ())
                    lines.statements[account_id] = tuple(
                        sorted((*kept, *closed), key=lambda s: s.number)
                    )

    def line_record(self, account_id: str, event_id: str) -> LineRecord | None:
        return self._lines().records.get(account_id, {}).get(event_id)

    def line_statements(self, account_id: str) -> tuple[Statement, ...]:
        return self._lines().statements.get(account_id, ())

    def line_ids(self, *, after: str = "", limit: int = 1000) -> tuple[str, ...]:
        check_line_limit(after, limit)
        return tuple(sorted(i for i in self._lines().accounts if i > after)[:limit])

    def lines_to_close(
        self, through: date, *, after: str = "", limit: int = 1000
    ) -> tuple[str, ...]:
        require_date("through", through)
        check_line_limit(after, limit)
        accounts = self._lines().accounts
        standings: dict[str, LoanStanding] = self._state.standings  # type: ignore[attr-defined]
        wanted = []
        for account_id, stored in accounts.items():  # bounded by the accounts stored
            standing = standings.get(account_id)
            closed = None if standing is None else standing.closed_through
            behind = closed is None or closed < through or stored.account.last_date < through
            if account_id > after and behind:
                wanted.append(account_id)
        return tuple(sorted(wanted)[:limit])

    def quota_line_accounts(self, line_id: str) -> tuple[str, ...]:
        accounts = self._lines().accounts
        return tuple(sorted(i for i, s in accounts.items() if s.account.line_id == line_id))


def _check_write(
    lines: LineState,
    account_id: str,
    expected: int,
    record: LineRecord,
    closed: tuple[Statement, ...],
) -> None:
    stored = lines.accounts.get(account_id)
    if stored is None:
        raise NotFound("line", account_id)
    if stored.version != expected:
        raise ConcurrentUpdate("line", account_id, expected)
    if record.event_id in lines.records.get(account_id, {}):
        raise IdempotencyConflict(f"{account_id}/{record.event_id}", "event recorded")
    numbers = {s.number for s in lines.statements.get(account_id, ())}
    for statement in closed:  # bounded by LINES_BATCH_MAX
        if statement.number in numbers:
            raise IdempotencyConflict(f"{account_id}/statement {statement.number}", "stored")
