"""The lender facade: the whole flow of a consumer-credit lender, one call one unit of work.

``Lender.open("books.sqlite")`` (an embedded SQLite file, the default) or
``Lender.open("postgresql+psycopg://app@db/books")``; then::

    lender.add_product(toml_text)                 # a loan product (loancore.servicing TOML)
    lender.add_merchant(terms)                    # a merchant and its settlement terms
    lender.apply_for_credit(application)          # decided by the CreditDecision port; approved:
                                                  # the quota line granted in the same transaction
    lender.review(application_id, approve=...)    # the manual-review queue
    lender.place_order(OrderRequest(...))         # the quota hold
    lender.confirm_order(order_id, as_of)         # capture, loan booked, disbursed to the merchant,
                                                  # the capture recorded for settlement
    lender.close_day(as_of)                       # the end-of-day batch, then the quota's
    lender.repay(Payment(...))                    # or repay_many, prepay, pay_off, refund
    lender.import_repayments(csv_text)            # a bank's auto-debit result file, in chunks
    lender.write_off(loan_id, id, as_of)          # or sell(loan_id, id, price, as_of); recover(...)
    lender.settle(as_of)                          # merchants' T+N settlement run
    lender.trial_balance(as_of), lender.loans(), lender.bill(customer_id, as_of)  # reports

Each call runs in ONE database transaction (the facade's own rows, then loancore's stores in
their lock order, the ledger last): it all happens or nothing does. Bad input raises
:class:`~loancore.errors.InvalidInput` naming the field; a business refusal raises a
:class:`~loancore.errors.Rejected` subclass with its stable code. Every call that creates
something takes its id as the idempotency key: calling again with the same id and the same
content returns the first result (``replayed``), with different content raises
:class:`~loancore.errors.IdempotencyConflict`.

A confirmed order and a merchant refund each write the loan, quota and ledger (through
:func:`loancore.services.book_order` / :func:`~loancore.services.apply_event`) and then the
settlement store (the capture or the refund's deduction) in the same transaction; until
servicing records captures itself, that settlement write comes after the ledger's.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loancore.adapters.process_batch import ProcessBatch
from loancore.adapters.sql import create_engine, read_connection, write_transaction
from loancore.adapters.sql.documents import rows_by_id
from loancore.adapters.sql.loans import LOANS
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.app import records
from loancore.app.day_close import close_day, loan_ids
from loancore.app.repayment_file import (
    CHUNK_SIZE,
    RepaymentFile,
    RepaymentImport,
    parse_repayment_file,
    tally_import,
)
from loancore.app.schema import ensure_app_schema
from loancore.app.values import (
    ApplicationRecord,
    DayClose,
    DueCollection,
    OrderRecord,
    OrderRequest,
    Payment,
)
from loancore.calendar import BusinessCalendar
from loancore.checks import require_date, require_id, require_ids
from loancore.credit import CreditApplication, CreditDecision, ReferencePolicy, manual_decision
from loancore.delinquency import DelinquencyPolicy
from loancore.delinquency.daily import DailyRules, LoanStanding
from loancore.errors import (
    IdempotencyConflict,
    InvalidInput,
    LenderRejected,
    Rejected,
    RejectionCode,
)
from loancore.ledger import Chart, TrialBalance, default_chart
from loancore.ledger.entries import MemoPosting, MemoRegister
from loancore.money import Money
from loancore.quota import Grant, Hold, Void
from loancore.services import (
    Applied,
    BatchResult,
    Reconciliation,
    SettlementResult,
    apply_batch,
    apply_event,
    book_order,
    reconcile,
    recover_loan,
    run_settlement,
    save_merchant_terms,
    sell_loan,
    write_off_loan,
)
from loancore.services.servicing import BATCH_MAX
from loancore.servicing import (
    Loan,
    LoanProduct,
    MerchantRefund,
    PayOff,
    Prepay,
    Repay,
    RepayDue,
    ServicingEvent,
)
from loancore.servicing import payoff_amount as quote_payoff
from loancore.settlement import (
    MerchantTerms,
    SettlementBatch,
)

__all__ = ["DEFAULT_CHANNEL", "DEFAULT_DATABASE", "LINE_YEARS", "Lender"]

DEFAULT_DATABASE = "loancore.sqlite"
DEFAULT_CHANNEL = "up"
LINE_YEARS = 3
"""An approved line is open for this many years from the application day."""

CAPTURE_HOUR = 12  # a confirmed order counts as captured at noon of its day (before cut-offs)


def _engine(database: str | Path | Engine) -> Engine:
    if isinstance(database, Engine):
        return database
    if isinstance(database, Path | str):
        text = str(database)
        if not text.strip():
            raise InvalidInput("database", database, "expected a file path or a database URL")
        if "://" not in text and Path(text).is_dir():
            raise InvalidInput("database", text, "is a directory, expected a SQLite file")
        return create_engine(database)
    raise InvalidInput("database", database, "expected a file path, a URL or an Engine")


def _repay_items(payments: Sequence[Payment]) -> list[tuple[str, ServicingEvent]]:
    """The payments as servicing's ``(loan_id, Repay)`` pairs."""
    return [
        (p.loan_id, Repay(event_id=p.payment_id, as_of=p.paid_on, amount=p.amount))
        for p in payments
    ]


def _paid_on(payment: Payment) -> date:
    return payment.paid_on


class Lender:
    """The facade (module docstring). Build with :meth:`open`; close with :meth:`close`."""

    def __init__(
        self,
        engine: Engine,
        *,
        policy: CreditDecision,
        calendar: BusinessCalendar,
        channel: str = DEFAULT_CHANNEL,
        delinquency: DelinquencyPolicy | None = None,
        processes: ProcessBatch | None = None,
    ) -> None:
        self.engine = engine
        if processes is not None and not isinstance(processes, ProcessBatch):
            raise InvalidInput("processes", processes, "expected a ProcessBatch or None")
        self.processes = processes
        """Worker processes that close days (:meth:`close_day`) side by side; None: this
        process. The caller's: it opens them on this book's database and closes them."""
        self.policy = policy
        self.calendar = calendar
        self.channel = require_id("channel", channel)
        self.delinquency = DelinquencyPolicy() if delinquency is None else delinquency
        self.rules = DailyRules(policy=self.delinquency)
        """The end-of-day rules: the close of a day and the inline catch-up of every event."""
        self.uow = SqlUnitOfWork(engine)  # creates or checks loancore's schemas once
        ensure_app_schema(engine)
        self._products: dict[tuple[str, int], LoanProduct] = {}
        with self.uow:
            if not self.uow.ledger.load_chart().subjects:
                self.uow.ledger.save_chart(default_chart())
                self.uow.commit()

    @classmethod
    def open(
        cls,
        database: str | Path | Engine = DEFAULT_DATABASE,
        *,
        policy: CreditDecision | None = None,
        calendar: BusinessCalendar | None = None,
        channel: str = DEFAULT_CHANNEL,
        processes: ProcessBatch | None = None,
    ) -> Lender:
        """The lender on ``database``: a SQLite file path (created if missing), a database URL
        or an Engine from :func:`loancore.adapters.sql.create_engine`. A database that cannot be
        opened or is not a loancore database raises InvalidInput naming ``database``.
        ``processes``: worker processes on the same SQLite book that close its days
        (:class:`~loancore.adapters.process_batch.ProcessBatch`; None: this process)."""
        if calendar is None:
            from loancore.adapters.calendars import china_calendar

            calendar = china_calendar()
        engine = _engine(database)
        try:
            return cls(
                engine,
                policy=ReferencePolicy() if policy is None else policy,
                calendar=calendar,
                channel=channel,
                processes=processes,
            )
        except sa.exc.SQLAlchemyError as error:
            engine.dispose()
            reason = " ".join(str(getattr(error, "orig", None) or error).split())[:200]
            raise InvalidInput("database", str(database), f"cannot be used: {reason}") from None

    def close(self) -> None:
        self.engine.dispose()

    # -- one transaction a call -------------------------------------------------------------------

    @contextlib.contextmanager
    def _work(self) -> Iterator[tuple[Connection, SqlUnitOfWork]]:
        """One database transaction: the facade's rows and loancore's stores commit together."""
        with write_transaction(self.engine) as connection:
            yield connection, SqlUnitOfWork(connection)

    @contextlib.contextmanager
    def _read(self) -> Iterator[tuple[Connection, SqlUnitOfWork]]:
        with read_connection(self.engine) as connection:
            yield connection, SqlUnitOfWork(connection)

    # -- set-up -----------------------------------------------------------------------------------

    def add_product(self, toml_text: str) -> LoanProduct:
        """Store a loan product from its TOML (loancore.servicing's format); the same product
        again is a replay."""
        with self._work() as (_connection, uow), uow:
            product = uow.loans.save_product(toml_text)
            uow.commit()
        return product

    def product(self, product_id: str, version: int) -> LoanProduct:
        key = (product_id, version)
        if key not in self._products:
            with self._read() as (_connection, uow), uow:
                self._products[key] = uow.loans.product(product_id, version)
        return self._products[key]

    def add_merchant(self, terms: MerchantTerms) -> None:
        """Store (or replace) a merchant's settlement terms on the facade's channel."""
        save_merchant_terms(self.uow, self.channel, terms)

    # -- credit -----------------------------------------------------------------------------------

    def apply_for_credit(self, application: CreditApplication) -> ApplicationRecord:
        """Decide ``application`` with the policy and store it; approved, the customer's quota
        line (id: the customer id) is granted at the decided limit in the same transaction."""
        if not isinstance(application, CreditApplication):
            raise InvalidInput("application", application, "expected a CreditApplication")
        with self._work() as (connection, uow):
            stored = records.application(connection, application.application_id)
            if stored is not None:
                return records.replay_application(stored, application)
            decision = self.policy.decide(application)
            decided = ApplicationRecord(
                application=application, decision=decision, decided_on=application.applied_on
            )
            records.insert_application(connection, decided)
            if decision.limit is not None:
                self._grant(uow, application, decision.limit, application.applied_on)
        return decided

    def _grant(
        self, uow: SqlUnitOfWork, application: CreditApplication, limit: Money, as_of: date
    ) -> None:
        grant = Grant(
            key=f"grant:{application.application_id}",
            line_id=application.customer_id,
            borrower_id=application.customer_id,
            limit=limit,
            starts_on=as_of,
            expires_on=as_of.replace(year=as_of.year + LINE_YEARS, day=min(as_of.day, 28)),
        )
        with uow:
            uow.quota.apply(grant, as_of=as_of)
            uow.commit()

    def review_queue(self) -> tuple[ApplicationRecord, ...]:
        """The applications waiting for a manual decision, oldest first."""
        with self._read() as (connection, _uow):
            return records.in_review(connection)

    def review(
        self, application_id: str, *, approve: bool, reviewer: str, decided_on: date,
        limit: Money | None = None, note: str = "",
    ) -> ApplicationRecord:  # fmt: skip
        """A reviewer decides an application from the queue (approved: the line is granted).
        The same decision again is a replay; any decision on an application not in the queue is
        refused (``APPLICATION_NOT_IN_REVIEW``)."""
        require_date("decided_on", decided_on)
        with self._work() as (connection, uow):
            stored = records.application(connection, require_id("application_id", application_id))
            if stored is None:
                raise InvalidInput("application_id", application_id, "no such application")
            decision = manual_decision(
                stored.application, approve=approve, reviewer=reviewer, limit=limit, note=note
            )
            if stored.decision.outcome.value != "review":
                if stored.decision == decision:
                    return records.replayed(stored)
                detail = f"application {application_id} is {stored.decision.outcome.value}"
                raise LenderRejected(RejectionCode.APPLICATION_NOT_IN_REVIEW, detail)
            decided = ApplicationRecord(
                application=stored.application, decision=decision, decided_on=decided_on
            )
            records.update_decision(connection, decided)
            if decision.limit is not None:
                self._grant(uow, stored.application, decision.limit, decided_on)
        return decided

    # -- orders -----------------------------------------------------------------------------------

    def place_order(self, order: OrderRequest) -> OrderRecord:
        """Hold the order's amount on the customer's line (key ``<loan id>-hold``) until the
        merchant confirms; refused (``CREDIT_NOT_APPROVED``) without an approved application,
        and by the quota when the line cannot take it."""
        if not isinstance(order, OrderRequest):
            raise InvalidInput("order", order, "expected an OrderRequest")
        with self._work() as (connection, uow):
            stored = records.order(connection, order.order_id)
            if stored is not None:
                return records.replay_order(stored, order)
            if not records.approved(connection, order.customer_id):
                detail = f"customer {order.customer_id} has no approved credit application"
                raise LenderRejected(RejectionCode.CREDIT_NOT_APPROVED, detail)
            expires_on = order.placed_on + datetime.timedelta(days=order.hold_days)
            placed = OrderRecord(request=order, status=records.HELD, hold_expires_on=expires_on)
            records.insert_order(connection, placed)
            with uow:
                uow.loans.product(order.product_id, order.product_version)  # NotFound if none
                hold = Hold(
                    key=f"{order.loan_id}-hold",
                    line_id=order.customer_id,
                    amount=order.amount,
                    expires_on=expires_on,
                )
                uow.quota.apply(hold, as_of=order.placed_on)
                uow.commit()
        return placed

    def _held(self, connection: Connection, order_id: str) -> OrderRecord:
        stored = records.order(connection, require_id("order_id", order_id))
        if stored is None:
            raise InvalidInput("order_id", order_id, "no such order")
        return stored

    def confirm_order(self, order_id: str, as_of: date) -> Applied:
        """The merchant confirms: the hold captured, the loan booked and disbursed to the
        merchant (受托支付), the capture recorded for the merchant's settlement. Again: the
        stored loan (``replayed``)."""
        require_date("as_of", as_of)
        with self._work() as (connection, uow):
            placed = self._held(connection, order_id)
            order = placed.request
            if placed.status is records.CONFIRMED:
                with uow:
                    return Applied(uow.loans.load(order.loan_id), None, replayed=True)
            if placed.status is not records.HELD:
                detail = f"order {order_id} is {placed.status.value}"
                raise LenderRejected(RejectionCode.ORDER_NOT_HELD, detail)
            records.set_order_status(connection, order_id, records.CONFIRMED, as_of)
            # book_order's settlement hook records the capture for the merchant's settlement
            captured_at = datetime.datetime.combine(as_of, datetime.time(CAPTURE_HOUR))
            booked = book_order(
                uow, order_id=order_id, loan_id=order.loan_id, customer_id=order.customer_id,
                line_id=order.customer_id, product_id=order.product_id,
                product_version=order.product_version, principal=order.amount,
                installments=order.installments, start_date=as_of,
                merchant_id=order.merchant_id, hold_expires_on=placed.hold_expires_on,
                captured_at=captured_at,
            )  # fmt: skip
        return booked

    def _chart(self, uow: SqlUnitOfWork) -> Chart:
        with uow:
            return uow.ledger.load_chart()

    def cancel_order(self, order_id: str, as_of: date) -> OrderRecord:
        """The order is called off before confirmation: its hold is voided."""
        require_date("as_of", as_of)
        with self._work() as (connection, uow):
            placed = self._held(connection, order_id)
            if placed.status is records.CANCELLED:
                return records.replayed_order(placed)
            if placed.status is not records.HELD:
                detail = f"order {order_id} is {placed.status.value}"
                raise LenderRejected(RejectionCode.ORDER_NOT_HELD, detail)
            records.set_order_status(connection, order_id, records.CANCELLED, None)
            with uow:
                hold_id = f"{placed.request.loan_id}-hold"
                uow.quota.apply(Void(key=f"{hold_id}:void", hold_id=hold_id), as_of=as_of)
                uow.commit()
        return records.with_status(placed, records.CANCELLED)

    # -- servicing --------------------------------------------------------------------------------

    def repay(self, payment: Payment) -> Applied:
        """The borrower pays; allocated by the product's waterfall (key: ``payment_id``)."""
        event = Repay(event_id=payment.payment_id, as_of=payment.paid_on, amount=payment.amount)
        with self._work() as (_connection, uow):
            return apply_event(uow, payment.loan_id, event, rules=self.rules)

    def repay_many(self, payments: Sequence[Payment]) -> BatchResult:
        """Many payments (an auto-debit file) in one transaction; refused ones are reported."""
        with self._work() as (_connection, uow):
            return apply_batch(uow, _repay_items(payments), rules=self.rules)

    def import_repayments(
        self,
        source: str | Iterable[str] | RepaymentFile,
        *,
        chunk_size: int = CHUNK_SIZE,
        currency: str = "CNY",
    ) -> RepaymentImport:
        """A bank's auto-debit result file (:mod:`loancore.app.repayment_file`): ``source`` is its
        text, its lines or the parsed file. The whole file is checked first (a bad row raises
        InvalidInput naming it and nothing is applied); then its successful debits are applied
        in date order (a day's in file order: a file of several days that lists a later debit
        of a loan before an earlier one books both), ``chunk_size`` payments a unit of work (one
        :meth:`repay_many` each).
        A payment on a loan that is not stored is refused with ``LOAN_UNKNOWN`` (its chunk goes
        on without it), one servicing refuses with its code; a payment id booked before is
        replayed and posts nothing, so importing the same file again books nothing. An error
        that is not a refusal (the database gone) stops the import: the chunks before it stay
        booked, and importing the file again replays them and goes on. With :attr:`processes`
        the payments are applied by the worker processes, one stream of loans a worker (each
        loan's payments in the same order); if a batch there raises a refusal servicing does not
        report, the import goes on in this process as above, the payments booked meanwhile
        replayed."""
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise InvalidInput("chunk_size", chunk_size, "expected an int")
        if not 1 <= chunk_size <= BATCH_MAX:
            raise InvalidInput("chunk_size", chunk_size, f"expected 1 to {BATCH_MAX}")
        file = (
            source
            if isinstance(source, RepaymentFile)
            else parse_repayment_file(source, currency=currency)
        )
        payments = sorted(file.payments, key=_paid_on)  # stable: a day keeps the file's order
        if self.processes is not None:
            parallel = self._import_in_processes(payments, chunk_size)
            if parallel is not None:
                return tally_import(file, parallel[0], parallel[1], {})
        known: set[str] = set()
        results: list[BatchResult] = []
        apart: dict[str, tuple[RejectionCode, str]] = {}
        for start in range(0, len(payments), chunk_size):  # bounded: ROWS_MAX rows a file
            chunk = payments[start : start + chunk_size]
            found = self.known_loans([p.loan_id for p in chunk])
            known |= found
            self._repay_isolating([p for p in chunk if p.loan_id in found], results, apart)
        return tally_import(file, frozenset(known), results, apart)

    def _import_in_processes(
        self, payments: Sequence[Payment], chunk_size: int
    ) -> tuple[frozenset[str], tuple[BatchResult, ...]] | None:
        """The payments of stored loans applied by :attr:`processes`
        (:meth:`~loancore.adapters.process_batch.ProcessBatch.apply_batches`: one stream of loans
        a worker, ``chunk_size`` a unit of work); the loans known and the results. None when a
        batch raised a refusal servicing does not report (the quota's, the ledger's) or an
        idempotency conflict: the caller then imports the file in this process, payment by
        payment where needed, the payments booked meanwhile replayed."""
        assert self.processes is not None
        known: set[str] = set()
        for start in range(0, len(payments), BATCH_MAX):  # bounded: ROWS_MAX rows a file
            known |= self.known_loans([p.loan_id for p in payments[start : start + BATCH_MAX]])
        items = _repay_items([p for p in payments if p.loan_id in known])
        try:
            results = self.processes.apply_batches(
                self.uow, items, chunk_size=chunk_size, rules=self.rules
            )
        except (Rejected, IdempotencyConflict):
            return None
        return frozenset(known), results

    def _repay_isolating(
        self,
        payments: Sequence[Payment],
        results: list[BatchResult],
        apart: dict[str, tuple[RejectionCode, str]],
    ) -> None:
        """:meth:`repay_many` of ``payments``, appending to ``results``. A batch that raises a
        refusal servicing does not report (the quota's, the ledger's) or an idempotency conflict
        (a payment id booked before by another loan) is undone whole; it is halved, the halves
        applied in order, until the one payment is found: recorded in ``apart`` with its code
        (the conflict: ``PAYMENT_ID_TAKEN``), while the others are booked. At most
        ``2 * len(payments)`` batches."""
        pending = [list(payments)] if payments else []
        for _ in range(2 * len(payments)):  # bounded: halving n payments makes < 2n parts
            if not pending:
                return
            part = pending.pop()
            try:
                results.append(self.repay_many(part))
            except (Rejected, IdempotencyConflict) as error:
                if len(part) > 1:  # the first half is popped first: file order kept
                    pending.extend((part[len(part) // 2 :], part[: len(part) // 2]))
                elif isinstance(error, Rejected):
                    apart[part[0].payment_id] = (error.code, error.detail)
                else:
                    taken = f"payment id {part[0].payment_id} is booked by another loan ({error})"
                    apart[part[0].payment_id] = (RejectionCode.PAYMENT_ID_TAKEN, taken)

    def collect_due(self, collections: Sequence[DueCollection]) -> BatchResult:
        """Auto-debits of what is due (an auto-debit run), in one transaction: each loan caught
        up to its day, then everything due by then received (:class:`~loancore.servicing.
        RepayDue`); a loan with nothing due is refused with ``NOTHING_DUE``, the others go on."""
        items = [(c.loan_id, RepayDue(event_id=c.payment_id, as_of=c.paid_on)) for c in collections]
        with self._work() as (_connection, uow):
            return apply_batch(uow, items, rules=self.rules)

    def prepay(self, payment: Payment) -> Applied:
        """A partial prepayment (the product's re-amortization)."""
        event = Prepay(event_id=payment.payment_id, as_of=payment.paid_on, amount=payment.amount)
        with self._work() as (_connection, uow):
            return apply_event(uow, payment.loan_id, event, rules=self.rules)

    def payoff_amount(self, loan_id: str, as_of: date) -> Money:
        """What paying ``loan_id`` off on ``as_of`` costs (everything, the prepayment fee too)."""
        loan = self.loan(loan_id)
        return quote_payoff(loan, self.product(loan.product_id, loan.product_version), as_of)

    def pay_off(self, loan_id: str, payment_id: str, as_of: date) -> Applied:
        """Pay the loan off in full on ``as_of`` at the quoted amount, in one transaction."""
        with self._work() as (_connection, uow):
            with uow:
                loan = uow.loans.load(require_id("loan_id", loan_id))
                product = uow.loans.product(loan.product_id, loan.product_version)
            if loan.transaction(payment_id) is not None:
                return Applied(loan, None, replayed=True)
            amount = quote_payoff(loan, product, as_of)
            return apply_event(
                uow,
                loan_id,
                PayOff(event_id=payment_id, as_of=as_of, amount=amount),
                rules=self.rules,
            )

    def refund(self, loan_id: str, refund_id: str, amount: Money, as_of: date) -> Applied:
        """The merchant refunds ``amount`` of the order: servicing reduces (or cancels) the loan,
        and what the merchant gives back is deducted from its next settlement."""
        event = MerchantRefund(event_id=refund_id, as_of=as_of, amount=amount)
        with self._work() as (_connection, uow):
            # the deduction: the settlement hook
            return apply_event(uow, loan_id, event, rules=self.rules)

    # -- end of day and settlement ----------------------------------------------------------------

    def close_day(self, as_of: date) -> DayClose:
        """Close the day with the end-of-day batch: every active loan caught up to it (accrual,
        days past due, penalty, classification, non-accrual, provisions), then the quota's end of
        day (:func:`loancore.app.day_close.close_day`)."""
        return close_day(
            self.uow,
            require_date("as_of", as_of),
            delinquency=self.delinquency,
            rules=self.rules,
            processes=self.processes,
        )

    def write_off(self, loan_id: str, write_off_id: str, as_of: date) -> Loan:
        """核销 a bad loan on ``as_of`` against its allowance
        (:func:`loancore.services.write_off_loan`; ``write_off_id`` is the idempotency key)."""
        with self._work() as (_connection, uow):
            return write_off_loan(
                uow,
                require_id("loan_id", loan_id),
                as_of=require_date("as_of", as_of),
                event_id=require_id("write_off_id", write_off_id),
                rules=self.rules,
            )

    def recover(self, loan_id: str, recovery_id: str, amount: Money, as_of: date) -> LoanStanding:
        """Cash recovered on a written-off loan (:func:`loancore.services.recover_loan`)."""
        with self._work() as (_connection, uow):
            return recover_loan(
                uow,
                require_id("loan_id", loan_id),
                amount,
                as_of=require_date("as_of", as_of),
                event_id=require_id("recovery_id", recovery_id),
                rules=self.rules,
            )

    def sell(self, loan_id: str, sale_id: str, price: Money, as_of: date) -> Loan:
        """不良资产转让: a bad loan sold for ``price`` (:func:`loancore.services.sell_loan`; its
        quota line closed)."""
        with self._work() as (_connection, uow):
            return sell_loan(
                uow,
                require_id("loan_id", loan_id),
                price,
                as_of=require_date("as_of", as_of),
                event_id=require_id("sale_id", sale_id),
                rules=self.rules,
            )

    def standings(self, ids: Sequence[str]) -> dict[str, LoanStanding]:
        """The end-of-day standings of ``ids`` (a loan never closed has none)."""
        with self._read() as (_connection, uow), uow:
            return uow.loans.load_standings(list(ids))

    def written_off_memos(self) -> list[MemoPosting]:
        """Every posting to the 已核销贷款 register (written-off loans still pursued)."""
        with self._read() as (_connection, uow), uow:
            return [
                memo
                for memo in uow.ledger.memo_postings()
                if memo.register is MemoRegister.WRITTEN_OFF_LOANS
            ]

    def settle(self, as_of: date) -> SettlementResult:
        """The merchants' settlement run of ``as_of`` on the facade's channel (again: replay).
        Run it every business day of the channel's calendar."""
        return run_settlement(self.uow, self.channel, require_date("as_of", as_of), self.calendar)

    # -- reading ----------------------------------------------------------------------------------

    def loan(self, loan_id: str) -> Loan:
        with self._read() as (_connection, uow), uow:
            return uow.loans.load(require_id("loan_id", loan_id))

    def loans(self, ids: Sequence[str] | None = None) -> list[Loan]:
        """The stored loans (all, or ``ids``), in id order."""
        wanted = loan_ids(self.uow) if ids is None else list(ids)
        found: list[Loan] = []
        for start in range(0, len(wanted), 1000):
            with self._read() as (_connection, uow), uow:
                chunk = uow.loans.load_many(wanted[start : start + 1000])
            found.extend(chunk[i] for i in wanted[start : start + 1000])
        return found

    def known_loans(self, ids: Sequence[str]) -> frozenset[str]:
        """Those of ``ids`` (at most BATCH_MAX) that are stored loans: one read of the loan ids,
        no loan document decoded (a batch's load raises NotFound on the first missing one)."""
        wanted = sorted(set(require_ids("ids", ids, count_max=BATCH_MAX)))
        with self._read() as (connection, _uow):
            rows = rows_by_id(connection, LOANS.c.loan_id, (LOANS.c.loan_id,), wanted)
            return frozenset(str(row.loan_id) for row in rows)

    def customer_loans(self, customer_id: str) -> list[Loan]:
        with self._read() as (_connection, uow), uow:
            ids = uow.loans.customer_loans(require_id("customer_id", customer_id))
        return self.loans(ids)

    def chart(self) -> Chart:
        with self._read() as (_connection, uow):
            return self._chart(uow)

    def trial_balance(self, as_of: date) -> TrialBalance:
        with self._read() as (_connection, uow), uow:
            return uow.ledger.trial_balance(as_of=require_date("as_of", as_of))

    def reconcile(self) -> Reconciliation:
        """Every loan and quota line against the ledger (:func:`loancore.services.reconcile`)."""
        return reconcile(self.uow)

    def settlement_batches(self, start: date, end: date) -> list[SettlementBatch]:
        """The settlement batches run from ``start`` to ``end``, one per merchant with a line in
        it (each holding that merchant's line), by merchant then run date."""
        with self._read() as (connection, uow), uow:
            return [
                batch
                for merchant in records.merchants(connection)
                for batch in uow.settlement.merchant_batches(merchant, start, end)
            ]
