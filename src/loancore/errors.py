"""One exception hierarchy and the stable rejection codes of loancore.

Three kinds of failure, three mechanisms (see ``../shared/STYLE.md``):

1. A programmer's mistake inside loancore: ``assert``. An invariant that protects money (a
   balanced entry, conserved principal) raises :class:`InvariantViolation` instead, because
   ``python -O`` strips asserts.
2. Bad input from a caller: an exception rooted at :class:`LoancoreError` that also inherits the
   builtin it refines (``InvalidInput`` is a ``ValueError``), so ``except ValueError`` in a caller's
   code keeps working. The message names the field and the value.
3. An expected business outcome (quota exceeded, loan already settled): a :class:`Rejected`
   exception (or a subclass such as :class:`PostingRejected`) carrying a stable
   :class:`RejectionCode`. Codes are append-only and never renumbered; they are persisted and
   shown to operators, so their numbers are part of the public contract.

One refusal convention for the whole library: a refusal is raised, never returned. A use case is
one unit of work across several stores (quota, loan, ledger); a refusal at any step must undo the
steps before it, and an exception does that on its way out of ``with uow:`` whether or not the
caller remembered to look. A returned code that a caller forgets to check would commit a half-done
use case (a quota held for a loan that was never booked). Callers that process files catch
:class:`Rejected` per item and read ``code``. A refused request is not recorded: its idempotency
key stays free, and a retry is judged afresh.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "CalendarOutOfRange",
    "ConcurrentUpdate",
    "CurrencyMismatch",
    "DelinquencyRejected",
    "FloatNotAllowed",
    "IdempotencyConflict",
    "InvalidInput",
    "InvariantViolation",
    "LenderRejected",
    "LoancoreError",
    "NoSolution",
    "NotFound",
    "PostingRejected",
    "QuotaRejected",
    "Rejected",
    "RejectionCode",
    "SchemaVersionMismatch",
    "ServicingRejected",
    "SettlementRejected",
    "UnknownCurrency",
    "shown",
]


REPR_LENGTH_MAX = 200


def shown(value: object) -> str:
    """``repr(value)`` cut to REPR_LENGTH_MAX characters, for messages: a 4 MB string passed as
    an id must not become a 4 MB exception message (nor cost the time to build one)."""
    if isinstance(value, str) and len(value) > REPR_LENGTH_MAX:
        return f"{value[:REPR_LENGTH_MAX]!r}... ({len(value)} characters)"
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - a caller's broken __repr__ must not hide the error
        return f"<{type(value).__name__}: repr failed with {type(error).__name__}>"
    if len(text) > REPR_LENGTH_MAX:
        return f"{text[:REPR_LENGTH_MAX]}... ({len(text)} characters)"
    return text


def _restored(kind: type[LoancoreError], args: tuple[Any, ...]) -> LoancoreError:
    """An error of ``kind`` with ``args`` and no ``__init__`` run (its fields come back as the
    pickled state): how :meth:`LoancoreError.__reduce__` rebuilds one."""
    error = kind.__new__(kind)
    error.args = args
    return error


class LoancoreError(Exception):
    """Root of every exception loancore raises on purpose.

    Every one pickles whole (its message and its fields: ``code``, ``detail``, ``field``, ...),
    so a refusal crosses a process boundary (multiprocessing, Dask, a task queue) as it was
    raised. The default pickling of an exception calls the class with the message alone, which
    the subclasses' own signatures refuse."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restored, (type(self), self.args), self.__dict__)


class InvalidInput(LoancoreError, ValueError):
    """A caller passed a value loancore cannot accept.

    ``field`` names the argument or attribute (dotted for nested values, e.g.
    ``"terms.principal"``), ``value`` is what was passed, ``reason`` says what was expected.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {shown(value)})")


class FloatNotAllowed(LoancoreError, TypeError):
    """A ``float`` reached a money or rate argument; binary floats cannot hold 0.10 exactly."""

    def __init__(self, field: str, value: float) -> None:  # float-ok: the value being refused
        self.field = field
        self.value = value
        super().__init__(
            f"{field}: float {value!r} is not accepted for money or rates; "  # float-ok
            f"pass Decimal({str(value)!r}), an int or a string"
        )


class UnknownCurrency(InvalidInput):
    """A currency code that is not in loancore's ISO 4217 table."""

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(field, value, "unknown ISO 4217 currency code")


class CurrencyMismatch(LoancoreError, ValueError):
    """Arithmetic or comparison across two currencies."""

    def __init__(self, operation: str, left: str, right: str) -> None:
        self.operation = operation
        self.left = left
        self.right = right
        super().__init__(f"{operation}: currencies differ ({left} vs {right})")


class CalendarOutOfRange(LoancoreError, LookupError):
    """A date outside the years for which a business calendar has published data.

    Guessing (treating an unpublished year as weekends-only) would move money on a public holiday,
    so loancore refuses instead.
    """

    def __init__(self, calendar: str, day: Any, first_year: int, last_year: int) -> None:
        self.calendar = calendar
        self.day = day
        self.first_year = first_year
        self.last_year = last_year
        super().__init__(
            f"calendar {calendar!r}: {day} is outside the published years {first_year}..{last_year}"
        )


class NoSolution(LoancoreError, ArithmeticError):
    """A bounded solver (rate, irr, xirr, nper, APR) found no root within its limits."""

    def __init__(self, solver: str, reason: str) -> None:
        self.solver = solver
        self.reason = reason
        super().__init__(f"{solver}: no solution ({reason})")


class NotFound(LoancoreError, LookupError):
    """A referenced object (subject, entry, line, loan) does not exist."""

    def __init__(self, kind: str, key: Any) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {shown(key)} not found")


class IdempotencyConflict(LoancoreError, ValueError):
    """The same idempotency key was replayed with different content."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        suffix = f": {detail}" if detail else ""
        super().__init__(
            f"idempotency key {shown(key)} was already used with different content{suffix}"
        )


class ConcurrentUpdate(LoancoreError, RuntimeError):
    """Another unit of work changed the object since it was loaded (optimistic concurrency):
    the caller loads it again and retries."""

    def __init__(self, kind: str, key: Any, expected_version: int) -> None:
        self.kind = kind
        self.key = key
        self.expected_version = expected_version
        super().__init__(
            f"{kind} {shown(key)} is no longer at version {expected_version}: "
            "updated concurrently; load it again and retry"
        )


class InvariantViolation(LoancoreError, RuntimeError):
    """An invariant that protects money was broken; this is a bug in loancore or in a store."""


class SchemaVersionMismatch(LoancoreError, RuntimeError):
    """A database holds a loancore schema this code cannot use as it is.

    Raised when the recorded version of ``component`` is newer than the code (``found >
    expected``: upgrade loancore) or older with no registered migration path to ``expected``.
    Nothing is changed in the database when this is raised.
    """

    def __init__(self, component: str, found: int, expected: int, reason: str) -> None:
        self.component = component
        self.found = found
        self.expected = expected
        self.reason = reason
        super().__init__(
            f"schema of {component!r}: database is at version {found}, "
            f"this loancore expects {expected}: {reason}"
        )


class RejectionCode(enum.IntEnum):
    """Stable codes for expected business outcomes.

    Append-only: a value, once released, keeps its number and meaning forever. Ranges group the
    areas: 0 accepted, 1xx general, 2xx ledger, 3xx quota, 4xx servicing, 5xx settlement,
    6xx delinquency, 7xx the lender facade.
    """

    OK = 0

    # 1xx general
    DUPLICATE_REQUEST = 100  # the idempotency key was seen; the first result is returned

    # 2xx ledger
    ENTRY_UNBALANCED = 200
    SUBJECT_UNKNOWN = 201
    SUBJECT_CLOSED = 202
    PERIOD_CLOSED = 203
    ENTRY_ALREADY_REVERSED = 204
    ENTRY_UNKNOWN = 205
    LEG_NOT_POSITIVE = 206  # a leg or memo amount is zero or negative
    ENTRY_ID_TAKEN = 207  # the entry id is already used by another entry
    REVERSAL_MISMATCH = 208  # a reversal's legs do not mirror the entry it reverses, or predate it
    MEMO_BALANCE_INSUFFICIENT = 209  # a memo decrease exceeds the register's balance
    AMOUNT_OFF_SCALE = 210  # an amount has more decimals than its currency allows
    SUBJECT_NOT_LEAF = 211  # a leg names a subject that has sub-accounts (post to a leaf)
    AMOUNT_TOO_LARGE = 212  # a leg or memo amount above loancore.ledger.AMOUNT_MINOR_MAX
    LEDGER_TOTAL_EXCEEDED = 213  # a currency's total debits or memo increases above the limit

    # 3xx quota
    QUOTA_EXCEEDS_AVAILABLE = 300
    QUOTA_LINE_FROZEN = 301
    QUOTA_LINE_EXPIRED = 302
    QUOTA_LINE_CLOSED = 303
    QUOTA_HOLD_UNKNOWN = 304
    QUOTA_HOLD_EXPIRED = 305
    QUOTA_HOLD_NOT_OPEN = 306
    QUOTA_EXCEEDS_HOLD = 307
    QUOTA_LINE_UNKNOWN = 308
    QUOTA_BORROWER_CAP_EXCEEDED = 309
    QUOTA_RESTORE_EXCEEDS_USED = 310
    QUOTA_MASTER_EXCEEDS_AVAILABLE = 311
    QUOTA_LINE_NOT_STARTED = 312
    QUOTA_LINE_EXISTS = 313  # a grant names a line id that is already taken
    QUOTA_UNFREEZE_EXCEEDS_FROZEN = 314  # unfreezing more than the frozen amount
    QUOTA_LINE_NOT_FROZEN = 315  # lifting a whole-line freeze from a line that has none
    QUOTA_FREEZE_EXCEEDS_LIMIT = 316  # the frozen amount would exceed the line's effective limit

    # 4xx servicing
    LOAN_NOT_PENDING = 400  # disbursement, payout failure or cancellation of a loan past booking
    LOAN_NOT_ACTIVE = 401  # a servicing event on a loan that is pending, paid off or cancelled
    EVENT_BEFORE_LAST = 402  # dated before the loan's last event (servicing never back-dates)
    EVENT_ALREADY_APPLIED = 403  # the event id is already in the loan's history
    PAYOFF_AMOUNT_MISMATCH = 404  # a full payoff must bring exactly the quoted amount
    PREPAYMENT_EXCEEDS_BALANCE = 405  # a partial prepayment would repay all that is not yet due
    PREPAYMENT_NOT_ALLOWED = 406  # the product forbids prepayment (or before its lock-in days)
    REFUND_EXCEEDS_PRINCIPAL = 407  # a merchant refund above the principal still outstanding
    REFUND_NOT_MERCHANT_LOAN = 408  # a merchant refund on a loan paid to the borrower's card
    WAIVER_EXCEEDS_OUTSTANDING = 409  # more waived than the component has booked and unpaid
    CREDIT_INSUFFICIENT = 410  # a credit refund or application above the borrower's credit
    PAYMENT_UNKNOWN = 411  # a reversal names no payment of this loan
    PAYMENT_ALREADY_REVERSED = 412  # a reversal names a payment already reversed
    REVERSAL_BLOCKED = 413  # a prepayment or refund after the payment changed the schedule
    REAMORTIZATION_UNSUPPORTED = 414  # the repayment method cannot be re-amortized
    PRODUCT_MISMATCH = 415  # the product given is not the version the loan was booked under
    NOTHING_DUE = 416  # an auto-debit of what is due (RepayDue) on a day nothing is due

    # 5xx settlement
    JOINT_SHARE_BELOW_MINIMUM = 500  # a partner's share is under the share rule's minimum
    FUNDER_NO_ROOM = 501  # a funder's room (limit less outstanding) is below its share
    FUNDER_LOAN_LIMIT_EXCEEDED = 502  # a funder's share is above its per-loan maximum
    NO_FUNDING_ROUTE = 503  # no funding option can take the loan (each option's reason listed)
    COMMISSION_ALREADY_CLAWED_BACK = 504  # a loan's commission was already clawed back

    # 6xx delinquency (a write-off or sale of a loan that is not active: LOAN_NOT_ACTIVE, 401)
    CLASSIFICATION_BEFORE_LAST = 600  # a classification run dated before the history's last run
    NOTHING_TO_WRITE_OFF = 601  # a write-off or sale of a loan with nothing left on the books
    RECOVERY_EXCEEDS_WRITTEN_OFF = 602  # more recovered than the loan has written off and pursued
    SALE_OF_PERFORMING_LOAN = 603  # a sale (不良资产转让) of a loan classified better than 次级
    NON_ACCRUAL_EVENT_REFUSED = 604  # a waiver or payment reversal on a non-accrual loan
    LOAN_CLOSE_FAILED = 605  # an end-of-day step of a loan raised (its error named in the detail)

    # 7xx the lender facade (loancore.app): credit applications and orders
    APPLICATION_NOT_IN_REVIEW = 700  # a manual decision on an application not waiting for review
    CREDIT_NOT_APPROVED = 701  # an order by a customer without an approved credit application
    ORDER_NOT_HELD = 702  # confirming or cancelling an order that is no longer held
    LOAN_UNKNOWN = 703  # a payment of a repayment file names no stored loan
    PAYMENT_ID_TAKEN = 704  # a repayment file's payment id is already booked by another loan


class Rejected(LoancoreError):
    """An expected business refusal (quota exceeded, period closed, loan already settled).

    ``code`` is the stable :class:`RejectionCode`; ``detail`` says what was refused and why. Every
    part of loancore raises a refusal (see the module docstring): a unit of work then leaves every
    store as it was. Areas raise their own subclass (:class:`PostingRejected`, ...) so a caller can
    catch one area's refusals.
    """

    def __init__(self, code: RejectionCode, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        suffix = f": {detail}" if detail else ""
        super().__init__(f"rejected {code.name} ({int(code)}){suffix}")


class PostingRejected(Rejected, ValueError):
    """A ledger posting broke one or more posting rules; nothing was posted.

    ``issues`` holds every broken rule found (``loancore.ledger.Issue`` values, each with its own
    :class:`RejectionCode`), so a caller sees all problems of a batch at once; ``code`` is the
    first issue's code.
    """

    def __init__(self, issues: tuple[Any, ...]) -> None:
        self.issues = tuple(issues)
        if not self.issues:
            raise InvariantViolation("PostingRejected needs at least one issue")
        shown = "; ".join(str(i.message) for i in self.issues[:3])
        more = f" (+{len(self.issues) - 3} more)" if len(self.issues) > 3 else ""
        super().__init__(self.issues[0].code, shown + more)


class ServicingRejected(Rejected, ValueError):
    """A servicing event was refused (``code`` is one of the 4xx servicing codes); the loan is
    unchanged and nothing was booked."""


class SettlementRejected(Rejected, ValueError):
    """A settlement, funding or commission request was refused (``code`` is one of the 5xx
    settlement codes); nothing was booked."""


class DelinquencyRejected(Rejected, ValueError):
    """A classification, write-off, recovery or sale was refused (a 6xx delinquency code, or
    LOAN_NOT_ACTIVE); nothing was booked."""


class LenderRejected(Rejected, ValueError):
    """The lender facade (:mod:`loancore.app`) refused a request (a 7xx code); nothing changed."""


class QuotaRejected(Rejected, ValueError):
    """A quota command was refused (``code`` is one of the 3xx quota codes); nothing changed and
    nothing was recorded: the command's idempotency key stays free, and a retry is judged afresh.
    A ``ValueError`` like :class:`PostingRejected`, so a caller's ``except ValueError`` sees it.

    ``key`` is the refused command's idempotency key; ``detail`` says what was refused and why.
    """

    def __init__(self, code: RejectionCode, detail: str = "", *, key: str = "") -> None:
        self.key = key
        super().__init__(code, detail)
