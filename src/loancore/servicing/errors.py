"""Servicing refusals: :class:`ServicingRejected` with a stable :class:`ServicingCode`.

The codes live in the servicing range (4xx) of :class:`loancore.errors.RejectionCode`. Until the
lead merges them into that enum they are defined here with the same numbers; the numbers are the
contract (append-only, never renumbered).
"""

from __future__ import annotations

import enum

from loancore.errors import Rejected

__all__ = ["ServicingCode", "ServicingRejected"]


class ServicingCode(enum.IntEnum):
    """Why servicing refused an event; persisted by value, append-only."""

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
    PAYMENT_ALREADY_REVERSED = 412
    REVERSAL_BLOCKED = 413  # a prepayment or refund after the payment changed the schedule
    REAMORTIZATION_UNSUPPORTED = 414  # the repayment method cannot be re-amortized
    PRODUCT_MISMATCH = 415  # the product given is not the version the loan was booked under


class ServicingRejected(Rejected):
    """A servicing event refused for an expected business reason; the loan is unchanged."""

    def __init__(self, code: ServicingCode, detail: str = "") -> None:
        # ServicingCode mirrors RejectionCode's 4xx range until the lead merges the values.
        super().__init__(code, detail)  # type: ignore[arg-type]
