"""State machines for users' own test suites, each parametrised by what a team extends.

Each function returns a fresh :class:`~hypothesis.stateful.RuleBasedStateMachine` subclass; its
``TestCase`` attribute is a unittest/pytest test case that drives random sequences of operations
and checks the machine's invariants after every step::

    from loancore.testing.machines import servicing_machine

    TestMyProduct = servicing_machine(my_product).TestCase
    TestMyProduct.settings = hypothesis.settings(max_examples=50, stateful_step_count=30)

What each machine checks after every step:

- :func:`ledger_machine`: your :class:`~loancore.ports.LedgerStore` against a list of booked
  entries. A replayed key returns the first entry; a reversal is refused twice or before its
  entry; a closed period refuses posts; the trial balance balances; every root subject's balance
  (sub-accounts included) equals the model's; the store audits clean.
- :func:`quota_machine`: your quota store (:class:`~loancore.testing.quota.QuotaStateMachine`).
  Balances equal a model of plain integers; the master line binds its sub-lines; the journal
  rebuilds the balances; replays change nothing.
- :func:`servicing_machine`: your :class:`~loancore.servicing.LoanProduct` (with its allocation
  policy) on one loan in the pure core (:class:`~loancore.testing.servicing.ServicingMachine`).
  Every entry balances; the ledger filtered by the loan equals the loan; cash received equals
  what was allocated plus credit; principal is conserved.
- :func:`loan_lifecycle_machine`: your product's TOML through the services on your unit of work
  (memory by default): ``book_order``, then random repayments, prepayments, refunds, fees,
  accruals and reversals with ``apply_event``. ``services.reconcile`` is clean (the trial
  balance, each loan against the ledger, quota used against principal outstanding), and a
  replayed event changes nothing.
- :func:`end_of_day_machine`: your products' TOMLs on your unit of work: a small book (up to
  three loans, one customer), business days closed by ``close_business_day`` with gaps of up to
  two months (the watermark's catch-up), repayments, write-offs, recoveries and sales between
  them. ``services.reconcile`` is clean; per loan, 表外应收未收利息 holds the loan's interest
  exactly while it is non-accrual, 已核销贷款 what the standing says, the allowance subjects
  what the standing says; no active loan is closed beyond the last day run; closing a day again
  posts nothing.

Requires hypothesis.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.delinquency import interest_on_books
from loancore.errors import (
    InvalidInput,
    InvariantViolation,
    PostingRejected,
    QuotaRejected,
    Rejected,
    ServicingRejected,
)
from loancore.ledger import Chart, JournalEntry, default_chart, reversal_of
from loancore.ledger.entries import MemoRegister
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.ports import LedgerStore, UnitOfWork
from loancore.quota import Grant
from loancore.services import (
    apply_event,
    audit,
    book_order,
    close_business_day,
    reconcile,
    recover_loan,
    sell_loan,
    write_off_loan,
)
from loancore.servicing import (
    Accrue,
    ChargeFee,
    LoanProduct,
    LoanStatus,
    MerchantRefund,
    Prepay,
    Repay,
    ReversePayment,
    ServicingEvent,
    product_from_toml,
)
from loancore.testing.ledger import journal_entries
from loancore.testing.quota import QuotaStateMachine
from loancore.testing.servicing import CLINIC_PRODUCT_TOML, ServicingMachine

__all__ = [
    "EndOfDayMachine",
    "LedgerMachine",
    "LoanLifecycleMachine",
    "end_of_day_machine",
    "ledger_machine",
    "loan_lifecycle_machine",
    "quota_machine",
    "servicing_machine",
]

_LEDGER_FIRST = datetime.date(2026, 1, 1)
_LEDGER_LAST = datetime.date(2026, 12, 31)
_CHECK_DATES = (datetime.date(2026, 3, 31), datetime.date(2027, 12, 31))


class LedgerMachine(RuleBasedStateMachine):
    """Random post / replay / reverse / close sequences on one ledger store, against a model that
    is the list of booked entries (see the module docstring). Override :meth:`make_store` (or use
    :func:`ledger_machine`) to test your own store."""

    chart: Chart = default_chart()
    booked = Bundle("booked")

    def make_store(self) -> LedgerStore:
        """The store under test, holding :attr:`chart`; called once per run."""
        return MemoryLedgerStore(self.chart)

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.entries: list[JournalEntry] = []
        self.reversed: set[str] = set()
        self.closed: datetime.date | None = None
        self.counter = 0
        self.codes = [subject.code for subject in self.chart if subject.parent_code is None]

    def _is_closed(self, day: datetime.date) -> bool:
        return self.closed is not None and day <= self.closed

    def _refused(self, entries: list[JournalEntry]) -> None:
        try:
            self.store.post(entries)
        except PostingRejected:
            return
        raise InvariantViolation(f"the store booked {entries[0].entry_id}, the model refuses it")

    @rule(target=booked, data=st.data())
    def post(self, data: st.DataObject) -> Any:
        entries = journal_entries(self.chart, date_min=_LEDGER_FIRST, date_max=_LEDGER_LAST)
        batch = data.draw(st.lists(entries, min_size=1, max_size=3), label="batch")
        if any(self._is_closed(entry.accounting_date) for entry in batch):
            self._refused(batch)
            return multiple()
        if self.store.post(batch) != tuple(batch):
            raise InvariantViolation("post did not return the entries it booked")
        self.entries.extend(batch)
        return batch[0]

    @rule(entry=booked)
    def replay_returns_the_first_entry(self, entry: JournalEntry) -> None:
        self.counter += 1
        retry = JournalEntry(
            entry_id=f"retry-{self.counter}",
            idempotency_key=entry.idempotency_key,
            accounting_date=entry.accounting_date,
            legs=entry.legs,
            memo=entry.memo,
        )
        if self.store.post([retry]) != (entry,):
            raise InvariantViolation(f"a replay of {entry.idempotency_key} booked something new")

    @rule(entry=booked, day=st.dates(_LEDGER_FIRST, _CHECK_DATES[-1]))
    def reverse(self, entry: JournalEntry, day: datetime.date) -> None:
        self.counter += 1
        n = self.counter
        reversal = reversal_of(
            entry, entry_id=f"r{n}", idempotency_key=f"rk{n}", accounting_date=day
        )
        allowed = (
            entry.entry_id not in self.reversed
            and not self._is_closed(day)
            and day >= entry.accounting_date
        )
        if not allowed:
            self._refused([reversal])
            return
        self.store.post([reversal])
        self.entries.append(reversal)
        self.reversed.add(entry.entry_id)

    @rule(day=st.dates(_LEDGER_FIRST, _LEDGER_LAST))
    def close(self, day: datetime.date) -> None:
        if self.closed is not None and day < self.closed:
            return
        self.store.close_period(day)
        self.closed = day

    def model_balance(self, code: str, currency: str, as_of: datetime.date) -> Money:
        """The model's balance of ``code`` and its sub-accounts, on its normal side."""
        subtree = set(self.chart.subtree_codes(code))
        net = sum(
            leg.signed_minor
            for entry in self.entries
            if entry.accounting_date <= as_of
            for leg in entry.legs
            if leg.subject_code in subtree and leg.amount.currency == currency
        )
        sign = 1 if self.chart.get(code).normal_side is Side.DEBIT else -1
        return Money.from_minor(sign * net, currency)

    @invariant()
    def balances_equal_the_model(self) -> None:
        currencies = sorted({leg.amount.currency for e in self.entries for leg in e.legs})
        for as_of in _CHECK_DATES:
            if not self.store.trial_balance(as_of=as_of).is_balanced():
                raise InvariantViolation(f"the trial balance of {as_of} does not balance")
            for code in self.codes:
                for currency in currencies:
                    expected = self.model_balance(code, currency, as_of)
                    got = self.store.balance(code, currency, as_of=as_of)
                    if got != expected:
                        raise InvariantViolation(f"{code} {as_of}: store {got}, model {expected}")

    @invariant()
    def the_store_holds_the_model_and_audits_clean(self) -> None:
        if list(self.store.entries()) != self.entries:
            raise InvariantViolation("the store's entries differ from the booked ones")
        issues = audit(self.store)
        if issues:
            raise InvariantViolation(f"audit found {issues[:3]}")


def ledger_machine(
    *,
    make_store: Callable[[Chart], LedgerStore] | None = None,
    chart: Chart | None = None,
) -> type[LedgerMachine]:
    """A :class:`LedgerMachine` over your store (``make_store(chart)``, memory by default) and
    your chart (the default chart by default). Entries post to the chart's leaf subjects."""
    chosen = default_chart() if chart is None else chart
    namespace: dict[str, Any] = {"chart": chosen}
    if make_store is not None:
        factory = make_store

        def made(self: LedgerMachine) -> LedgerStore:
            return factory(self.chart)

        namespace["make_store"] = made
    return type("CustomLedgerMachine", (LedgerMachine,), namespace)


def quota_machine(make_store: Callable[[], Any]) -> type[QuotaStateMachine]:
    """The quota state machine against the store ``make_store()`` returns (a memory store with
    your :class:`~loancore.quota.QuotaConfig`, or your SQL store on a fresh database)."""
    factory = make_store

    def made(self: QuotaStateMachine) -> Any:
        return factory()

    return type("CustomQuotaMachine", (QuotaStateMachine,), {"make_store": made})


def servicing_machine(product: LoanProduct) -> type[ServicingMachine]:
    """The servicing state machine on one loan of ``product`` (its rates, fees, allocation
    policy, prepayment and refund rules, mapping)."""
    if not isinstance(product, LoanProduct):
        raise InvalidInput("product", product, "expected a LoanProduct")
    return type("CustomServicingMachine", (ServicingMachine,), {"product": product})


_AMOUNTS = st.integers(1, 200_000)
_DAYS = st.integers(0, 45)
_START = datetime.date(2026, 1, 15)
_REFUSALS = (ServicingRejected, QuotaRejected)


def _open_book(uow: UnitOfWork, product_tomls: tuple[str, ...], limit: Money) -> None:
    """The products, customer C1's quota line ``LINE-C1`` of ``limit`` and the default chart, in
    one unit of work (loans, quota, ledger: the lock order)."""
    with uow:
        for toml in product_tomls:
            uow.loans.save_product(toml)
        uow.quota.apply(
            Grant(
                key="grant-C1",
                line_id="LINE-C1",
                borrower_id="C1",
                limit=limit,
                starts_on=_START,
                expires_on=datetime.date(2031, 1, 1),
            ),
            as_of=_START,
        )
        uow.ledger.save_chart(default_chart())
        uow.commit()


def _uow_factory(namespace: dict[str, Any], make_uow: Callable[[], UnitOfWork] | None) -> None:
    """Put a ``make_uow`` method calling ``make_uow()`` into a machine class's ``namespace``."""
    if make_uow is not None:
        factory = make_uow

        def made(self: object) -> UnitOfWork:
            return factory()

        namespace["make_uow"] = made


class LoanLifecycleMachine(RuleBasedStateMachine):
    """One order financed through the services on a unit of work, then random events through
    ``apply_event``; ``services.reconcile`` clean after every step (module docstring).

    Override :attr:`product_toml` and :meth:`make_uow` (or use :func:`loan_lifecycle_machine`).
    """

    product_toml: str = CLINIC_PRODUCT_TOML
    principal_minor: int = 1_200_000
    installments: int = 12

    def make_uow(self) -> UnitOfWork:
        """An empty unit of work (no product, chart or quota yet); called once per run."""
        return MemoryUnitOfWork()

    def __init__(self) -> None:
        super().__init__()
        product = product_from_toml(self.product_toml)
        self.currency = product.currency
        self.uow = self.make_uow()
        principal = Money.from_minor(self.principal_minor, self.currency)
        _open_book(self.uow, (self.product_toml,), principal)
        book_order(
            self.uow,
            order_id="order-1",
            loan_id="L1",
            customer_id="C1",
            line_id="LINE-C1",
            product_id=product.product_id,
            product_version=product.version,
            principal=principal,
            installments=self.installments,
            start_date=_START,
            merchant_id="M1",
        )
        self.day = _START
        self.count = 0
        self.payments: list[str] = []

    def _next(self, days: int) -> tuple[str, datetime.date]:
        self.count += 1
        self.day += datetime.timedelta(days=days)
        return f"e{self.count}", self.day

    def _apply(self, event: ServicingEvent) -> bool:
        try:
            apply_event(self.uow, "L1", event)
        except _REFUSALS:
            return False
        return True

    def _money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    @rule(minor=_AMOUNTS, days=_DAYS)
    def repay(self, minor: int, days: int) -> None:
        event_id, day = self._next(days)
        if self._apply(Repay(event_id=event_id, as_of=day, amount=self._money(minor))):
            self.payments.append(event_id)

    @rule(minor=_AMOUNTS, days=_DAYS)
    def prepay(self, minor: int, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(Prepay(event_id=event_id, as_of=day, amount=self._money(minor)))

    @rule(minor=_AMOUNTS, days=_DAYS)
    def merchant_refund(self, minor: int, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(MerchantRefund(event_id=event_id, as_of=day, amount=self._money(minor)))

    @rule(minor=st.integers(1, 5_000), days=_DAYS)
    def charge_fee(self, minor: int, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(ChargeFee(event_id=event_id, as_of=day, amount=self._money(minor)))

    @rule(days=_DAYS)
    def accrue(self, days: int) -> None:
        event_id, day = self._next(days)
        self._apply(Accrue(event_id=event_id, as_of=day))

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.payments:
            return
        payment = data.draw(st.sampled_from(self.payments), label="payment")
        event_id, day = self._next(0)
        self._apply(ReversePayment(event_id=event_id, as_of=day, payment_id=payment))

    @rule()
    def replay_changes_nothing(self) -> None:
        if not self.payments:
            return
        with self.uow:
            before = self.uow.loans.load("L1")
        event = Repay(event_id=self.payments[-1], as_of=self.day, amount=self._money(1))
        applied = apply_event(self.uow, "L1", event)
        if not applied.replayed or applied.loan != before:
            raise InvariantViolation(f"replaying {event.event_id} changed the loan")

    @invariant()
    def reconciles(self) -> None:
        result = reconcile(self.uow)
        if not result.clean:
            raise InvariantViolation(f"reconciliation: {result.problems()[:3]}")


def loan_lifecycle_machine(
    product_toml: str = CLINIC_PRODUCT_TOML,
    *,
    make_uow: Callable[[], UnitOfWork] | None = None,
    principal: Money | None = None,
    installments: int = 12,
) -> type[LoanLifecycleMachine]:
    """A :class:`LoanLifecycleMachine` for your product (its TOML, as your stores keep it), on
    the unit of work ``make_uow()`` returns (an empty memory one by default; a
    ``SqlUnitOfWork`` on a fresh database to test your schema), one loan of ``principal``
    (12,000.00 by default) in ``installments``."""
    product = product_from_toml(product_toml)
    namespace: dict[str, Any] = {"product_toml": product_toml, "installments": installments}
    if principal is not None:
        if principal.currency != product.currency:
            raise InvalidInput("principal", principal, f"expected an amount in {product.currency}")
        namespace["principal_minor"] = principal.minor_units
    _uow_factory(namespace, make_uow)
    return type("CustomLoanLifecycleMachine", (LoanLifecycleMachine,), namespace)


_BOOK_LOANS_MAX = 3
_ALLOWANCE_SUBJECTS = ("1304.01", "1304.02", "1304.03")
_FAR = datetime.date(2999, 12, 31)


class EndOfDayMachine(RuleBasedStateMachine):
    """A small book through the end-of-day batch and the events between its runs (module
    docstring). Override :attr:`product_tomls` and :meth:`make_uow` (or use
    :func:`end_of_day_machine`); the loans take the products in turn."""

    product_tomls: tuple[str, ...] = (CLINIC_PRODUCT_TOML,)
    principals_minor: tuple[int, ...] = (100_000, 240_000, 1_200_000)
    installments: int = 12

    def make_uow(self) -> UnitOfWork:
        """An empty unit of work (no product, chart or quota yet); called once per run."""
        return MemoryUnitOfWork()

    def __init__(self) -> None:
        super().__init__()
        self.products = tuple(product_from_toml(t) for t in self.product_tomls)
        self.currency = self.products[0].currency
        self.uow = self.make_uow()
        limit = Money.from_minor(sum(self.principals_minor) * _BOOK_LOANS_MAX, self.currency)
        _open_book(self.uow, self.product_tomls, limit)
        self.today = _START  # the business day open; every day before it is closed
        self.loans: list[str] = []
        self.count = 0

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    @rule(which=st.integers(0, 2))
    def book(self, which: int) -> None:
        if len(self.loans) >= _BOOK_LOANS_MAX:
            return
        loan_id = f"L{len(self.loans) + 1}"
        product = self.products[len(self.loans) % len(self.products)]
        booked = self._refusable(
            lambda: book_order(
                self.uow,
                order_id=f"order-{loan_id}",
                loan_id=loan_id,
                customer_id="C1",
                line_id="LINE-C1",
                product_id=product.product_id,
                product_version=product.version,
                principal=self._money(self.principals_minor[which % len(self.principals_minor)]),
                installments=self.installments,
                start_date=self.today,
                merchant_id="M1",
            )
        )
        if booked:  # refused once a sale closed the customer's quota line: nothing booked
            self.loans.append(loan_id)

    @rule(skipped=st.sampled_from([0, 0, 0, 2, 9, 29, 60]))
    def close_day(self, skipped: int) -> None:
        """Close today after ``skipped`` days no batch ran, then open the next day."""
        self.today += datetime.timedelta(days=skipped)
        report = close_business_day(self.uow, self.today, chunk_size=2)
        if report.failed:
            raise InvariantViolation(f"end of day {self.today} failed: {report.failed[:3]}")
        again = close_business_day(self.uow, self.today, chunk_size=2)
        if again.entries or again.loans_closed:
            raise InvariantViolation(f"closing {self.today} again posted {again.entries} entries")
        self.today += datetime.timedelta(days=1)

    @rule(
        which=st.integers(0, _BOOK_LOANS_MAX - 1), minor=st.sampled_from([5_000, 40_000, 300_000])
    )
    def repay(self, which: int, minor: int) -> None:
        if self.loans:
            loan_id = self.loans[which % len(self.loans)]
            event = Repay(event_id=self._id("r"), as_of=self.today, amount=self._money(minor))
            self._refusable(lambda: apply_event(self.uow, loan_id, event))

    @rule(which=st.integers(0, _BOOK_LOANS_MAX - 1))
    def write_off(self, which: int) -> None:
        if self.loans:
            loan_id = self.loans[which % len(self.loans)]
            event_id = self._id("wo")
            self._refusable(
                lambda: write_off_loan(self.uow, loan_id, as_of=self.today, event_id=event_id)
            )

    @rule(which=st.integers(0, _BOOK_LOANS_MAX - 1), minor=st.sampled_from([1_000, 50_000]))
    def recover(self, which: int, minor: int) -> None:
        if self.loans:
            loan_id = self.loans[which % len(self.loans)]
            event_id = self._id("rc")
            amount = self._money(minor)
            self._refusable(
                lambda: recover_loan(self.uow, loan_id, amount, as_of=self.today, event_id=event_id)
            )

    @rule(which=st.integers(0, _BOOK_LOANS_MAX - 1), minor=st.sampled_from([0, 30_000]))
    def sell(self, which: int, minor: int) -> None:
        if self.loans:
            loan_id = self.loans[which % len(self.loans)]
            event_id = self._id("s")
            price = self._money(minor)
            self._refusable(
                lambda: sell_loan(self.uow, loan_id, price, as_of=self.today, event_id=event_id)
            )

    @staticmethod
    def _refusable(call: Callable[[], object]) -> bool:
        """Run ``call``; False when it was refused with a code (paid off, written off or sold;
        a quota line closed by a sale), which changed nothing."""
        try:
            call()
        except Rejected:
            return False
        return True

    @invariant()
    def books_reconcile(self) -> None:
        result = reconcile(self.uow)
        if not result.clean:
            raise InvariantViolation(f"reconciliation: {result.problems()[:3]}")

    @invariant()
    def registers_and_allowances_agree_with_the_standings(self) -> None:
        with self.uow:
            loans = self.uow.loans.load_many(self.loans)
            standings = self.uow.loans.load_standings(self.loans)
            for loan_id, standing in standings.items():
                loan = loans[loan_id]
                dims = {"loan": loan_id}
                off = self.uow.ledger.memo_balance(
                    MemoRegister.OFF_BALANCE_INTEREST, self.currency, as_of=_FAR, dimensions=dims
                ).minor_units
                wanted = interest_on_books(loan).total if standing.interest_suspended else 0
                written = self.uow.ledger.memo_balance(
                    MemoRegister.WRITTEN_OFF_LOANS, self.currency, as_of=_FAR, dimensions=dims
                ).minor_units
                allowance = tuple(
                    self.uow.ledger.balance(
                        code, self.currency, as_of=_FAR, dimensions=dims
                    ).minor_units
                    for code in _ALLOWANCE_SUBJECTS
                )
                if (off, written, allowance) != (wanted, standing.written_off, standing.allowance):
                    raise InvariantViolation(
                        f"{loan_id}: off-balance {off} (wanted {wanted}), written off {written}"
                        f" (standing {standing.written_off}), allowance {allowance} (standing"
                        f" {standing.allowance})"
                    )
                behind = (
                    standing.closed_through is not None and standing.closed_through >= self.today
                )
                if loan.status is LoanStatus.ACTIVE and behind:
                    raise InvariantViolation(f"{loan_id} closed through {standing.closed_through}")


def end_of_day_machine(
    product_tomls: tuple[str, ...] = (CLINIC_PRODUCT_TOML,),
    *,
    make_uow: Callable[[], UnitOfWork] | None = None,
    principals: tuple[Money, ...] | None = None,
    installments: int = 12,
) -> type[EndOfDayMachine]:
    """An :class:`EndOfDayMachine` for your products (their TOMLs, one currency; the book's
    loans take them in turn), on the unit of work ``make_uow()`` returns (an empty memory one
    by default), loans of the ``principals`` given (1,000.00, 2,400.00 and 12,000.00 by
    default) in ``installments``."""
    if not product_tomls:
        raise InvalidInput("product_tomls", product_tomls, "expected at least one product")
    currencies = {product_from_toml(t).currency for t in product_tomls}
    if len(currencies) != 1:
        raise InvalidInput("product_tomls", sorted(currencies), "expected one currency")
    namespace: dict[str, Any] = {
        "product_tomls": tuple(product_tomls),
        "installments": installments,
    }
    if principals is not None:
        if not principals or any(
            p.currency not in currencies or p.minor_units <= 0 for p in principals
        ):
            raise InvalidInput(
                "principals", principals, f"expected positive amounts in {currencies.pop()}"
            )
        namespace["principals_minor"] = tuple(p.minor_units for p in principals)
    _uow_factory(namespace, make_uow)
    return type("CustomEndOfDayMachine", (EndOfDayMachine,), namespace)
