"""Write-off (核销), recovery after write-off (核销后收回) and sale of bad loans (不良资产转让).

**Write-off.** The loan's interest leaves income first if it is still accrued
(:func:`~loancore.delinquency.nonaccrual.suspend_interest`). What it has on the books (principal
outstanding, fees receivable) is written off against the stage-3 allowance (the ``WrittenOff``
template); if the loan's allowance is short, the shortfall is charged first
(``ProvisionCharged``, stage 3), so the allowance never goes below zero. The register 已核销贷款
takes the amount written off (the template's memo posting) and the off-balance interest, which
moves there from 表外应收未收利息: the lender still pursues all of it. Allowance left over after
the write-off is released by the next provision run (the loan's exposure is then zero).

**Recovery.** Cash recovered restores the allowance (``RecoveredAfterWriteOff``: Dr 3001, Cr
1304.03) and leaves 已核销贷款; more than the register holds for the loan is refused.

**Sale.** A non-performing loan (次级 or worse) sold for a price: interest off the books first, as
for a write-off; then the ``LoanSold`` template: Dr 1002 the price, Dr the loan's allowance, Cr
principal and fees; the difference to 6702 (loss debited, gain credited). The buyer takes the
off-balance interest too, so 表外应收未收利息 falls by it; nothing enters 已核销贷款.
"""

from __future__ import annotations

from datetime import date

from loancore.delinquency.booking import Booking, memo_posting
from loancore.delinquency.classification import RiskClass
from loancore.delinquency.nonaccrual import interest_on_books, suspend_interest
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.ledger.entries import MemoDirection, MemoPosting, MemoRegister
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    LoanSold,
    ProvisionCharged,
    RecoveredAfterWriteOff,
    Stage,
    SubjectMapping,
    WrittenOff,
)
from loancore.servicing.loan import Loan, LoanStatus

__all__ = ["recover", "sell", "write_off"]


def _money(field: str, value: object, currency: str) -> Money:
    if not isinstance(value, Money) or value.is_negative():
        raise InvalidInput(field, value, "expected Money >= 0")
    if value.currency != currency:
        raise InvalidInput(field, value, f"expected {currency}, the loan's currency")
    return value


def _on_books(loan: Loan, action: str) -> tuple[int, int, int]:
    """Principal outstanding, fees receivable and interest owed (minor units) of an active loan
    with something left; refused otherwise."""
    if loan.status is not LoanStatus.ACTIVE:
        detail = f"loan {loan.loan_id} is {loan.status.value}; only an active loan is {action}"
        raise DelinquencyRejected(RejectionCode.LOAN_NOT_ACTIVE, detail)
    principal = loan.principal_outstanding()
    fees = sum(i.fee.receivable for i in loan.installments)
    interest = interest_on_books(loan).total
    if principal + fees + interest == 0:
        detail = f"loan {loan.loan_id} has nothing left to be {action}"
        raise DelinquencyRejected(RejectionCode.NOTHING_TO_WRITE_OFF, detail)
    return principal, fees, interest


def _interest_off(
    loan: Loan, *, suspended: bool, as_of: date, event_id: str, mapping: SubjectMapping
) -> Booking:
    if suspended:
        return Booking()
    return suspend_interest(loan, as_of=as_of, event_id=f"{event_id}.suspend", mapping=mapping)


def _memo(
    register: MemoRegister,
    direction: MemoDirection,
    minor: int,
    kind: str,
    event_id: str,
    as_of: date,
    loan: Loan,
) -> tuple[MemoPosting, ...]:
    return memo_posting(
        register,
        direction,
        loan.money(minor),
        kind=kind,
        event_id=event_id,
        accounting_date=as_of,
        dimensions=loan.dimensions,
        memo=f"{kind} {register.value} {direction.value}",
    )


def write_off(
    loan: Loan,
    *,
    allowance: Money,
    interest_suspended: bool,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """核销 ``loan`` (see the module docstring). ``allowance`` is the loan's stage-3 allowance
    booked; ``interest_suspended`` says whether its interest is already off the books."""
    principal, fees, interest = _on_books(loan, "written off")
    allowance = _money("allowance", allowance, loan.currency)
    first = _interest_off(
        loan, suspended=interest_suspended, as_of=as_of, event_id=event_id, mapping=mapping
    )
    shortfall = principal + fees - allowance.minor_units
    events: list[ProvisionCharged | WrittenOff] = []
    if shortfall > 0:
        events.append(
            ProvisionCharged(
                event_id=f"{event_id}.topup",
                accounting_date=as_of,
                dimensions=loan.dimensions,
                stage=Stage.THREE,
                amount=loan.money(shortfall),
            )
        )
    events.append(
        WrittenOff(
            event_id=event_id,
            accounting_date=as_of,
            dimensions=loan.dimensions,
            principal=loan.money(principal),
            fee=loan.money(fees),
        )
    )
    moved = (
        *_memo(
            MemoRegister.OFF_BALANCE_INTEREST,
            MemoDirection.DECREASE,
            interest,
            "write_off.interest",
            event_id,
            as_of,
            loan,
        ),
        *_memo(
            MemoRegister.WRITTEN_OFF_LOANS,
            MemoDirection.INCREASE,
            interest,
            "write_off.interest",
            f"{event_id}.in",
            as_of,
            loan,
        ),
    )
    return first + Booking.of(events, mapping, moved)


def recover(
    loan: Loan,
    amount: Money,
    *,
    written_off_balance: Money,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """核销后收回 ``amount`` on ``loan``; ``written_off_balance`` is what 已核销贷款 holds for it.
    More than that is refused (``RECOVERY_EXCEEDS_WRITTEN_OFF``)."""
    amount = _money("amount", amount, loan.currency)
    balance = _money("written_off_balance", written_off_balance, loan.currency)
    if not amount.is_positive():
        raise InvalidInput("amount", amount, "must be positive")
    if amount > balance:
        detail = f"{amount} recovered, loan {loan.loan_id} has {balance} written off and pursued"
        raise DelinquencyRejected(RejectionCode.RECOVERY_EXCEEDS_WRITTEN_OFF, detail)
    event = RecoveredAfterWriteOff(
        event_id=event_id, accounting_date=as_of, dimensions=loan.dimensions, amount=amount
    )
    return Booking.of((event,), mapping)


def sell(
    loan: Loan,
    price: Money,
    *,
    risk_class: RiskClass,
    allowance: Money,
    allowance_stage: Stage = Stage.THREE,
    interest_suspended: bool,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """不良资产转让: ``loan`` sold for ``price`` (see the module docstring). ``allowance`` is the
    loan's allowance booked in ``allowance_stage``'s account. A loan better than 次级 is refused
    (``SALE_OF_PERFORMING_LOAN``)."""
    if not risk_class.nonperforming:
        detail = f"loan {loan.loan_id} is {risk_class.name_zh}; only 次级 or worse is sold"
        raise DelinquencyRejected(RejectionCode.SALE_OF_PERFORMING_LOAN, detail)
    principal, fees, interest = _on_books(loan, "sold")
    price = _money("price", price, loan.currency)
    allowance = _money("allowance", allowance, loan.currency)
    first = _interest_off(
        loan, suspended=interest_suspended, as_of=as_of, event_id=event_id, mapping=mapping
    )
    event = LoanSold(
        event_id=event_id,
        accounting_date=as_of,
        dimensions=loan.dimensions,
        stage=allowance_stage,
        price=price,
        allowance=allowance,
        principal=loan.money(principal),
        fee=loan.money(fees),
    )
    gone = _memo(
        MemoRegister.OFF_BALANCE_INTEREST,
        MemoDirection.DECREASE,
        interest,
        "loan.sold.interest",
        event_id,
        as_of,
        loan,
    )
    return first + Booking.of((event,), mapping, gone)
