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

import attrs

from loancore.delinquency.booking import Booking, memo_posting
from loancore.delinquency.classification import RiskClass
from loancore.delinquency.nonaccrual import interest_on_books, suspend_interest
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.ledger.entries import Dimensions, MemoDirection, MemoPosting, MemoRegister
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

__all__ = [
    "OnBooks",
    "interest_written_off",
    "recover",
    "recover_amount",
    "require_nonperforming",
    "sell",
    "sell_exposure",
    "write_off",
]


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
    currency: str,
    dimensions: Dimensions,
) -> tuple[MemoPosting, ...]:
    return memo_posting(
        register,
        direction,
        Money.from_minor(minor, currency),
        kind=kind,
        event_id=event_id,
        accounting_date=as_of,
        dimensions=dimensions,
        memo=f"{kind} {register.value} {direction.value}",
    )


def interest_written_off(
    minor: int, *, currency: str, dimensions: Dimensions, as_of: date, event_id: str
) -> tuple[MemoPosting, ...]:
    """The off-balance interest of something written off (a loan, a line) moved from
    表外应收未收利息 to 已核销贷款: the lender still pursues it (ids
    ``memo.write_off.interest:<event_id>`` and ``...:<event_id>.in``)."""
    kind = "write_off.interest"
    off, written = MemoRegister.OFF_BALANCE_INTEREST, MemoRegister.WRITTEN_OFF_LOANS
    return (
        *_memo(off, MemoDirection.DECREASE, minor, kind, event_id, as_of, currency, dimensions),
        *_memo(
            written,
            MemoDirection.INCREASE,
            minor,
            kind,
            f"{event_id}.in",
            as_of,
            currency,
            dimensions,
        ),
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
    moved = interest_written_off(
        interest,
        currency=loan.currency,
        dimensions=loan.dimensions,
        as_of=as_of,
        event_id=event_id,
    )
    return first + Booking.of(events, mapping, moved)


def recover_amount(
    amount: Money,
    *,
    written_off_balance: Money,
    currency: str,
    dimensions: Dimensions,
    owner: str,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """核销后收回 ``amount`` on something written off (``owner`` names it: ``loan L1``, ``line
    A1``); ``written_off_balance`` is what 已核销贷款 holds for it. Cash restores the allowance
    (``RecoveredAfterWriteOff``: Dr 3001, Cr 1304.03) and leaves 已核销贷款; more than the register
    holds is refused (``RECOVERY_EXCEEDS_WRITTEN_OFF``)."""
    amount = _money("amount", amount, currency)
    balance = _money("written_off_balance", written_off_balance, currency)
    if not amount.is_positive():
        raise InvalidInput("amount", amount, "must be positive")
    if amount > balance:
        detail = f"{amount} recovered, {owner} has {balance} written off and pursued"
        raise DelinquencyRejected(RejectionCode.RECOVERY_EXCEEDS_WRITTEN_OFF, detail)
    event = RecoveredAfterWriteOff(
        event_id=event_id, accounting_date=as_of, dimensions=dimensions, amount=amount
    )
    return Booking.of((event,), mapping)


def recover(
    loan: Loan,
    amount: Money,
    *,
    written_off_balance: Money,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """核销后收回 ``amount`` on ``loan`` (:func:`recover_amount`); ``written_off_balance`` is what
    已核销贷款 holds for it."""
    return recover_amount(
        amount,
        written_off_balance=written_off_balance,
        currency=loan.currency,
        dimensions=loan.dimensions,
        owner=f"loan {loan.loan_id}",
        as_of=as_of,
        event_id=event_id,
        mapping=mapping,
    )


def require_nonperforming(risk_class: RiskClass, owner: str) -> None:
    """Only 次级 or worse is sold: a better class is refused (``SALE_OF_PERFORMING_LOAN``)."""
    if not risk_class.nonperforming:
        detail = f"{owner} is {risk_class.name_zh}; only 次级 or worse is sold"
        raise DelinquencyRejected(RejectionCode.SALE_OF_PERFORMING_LOAN, detail)


@attrs.frozen(kw_only=True)
class OnBooks:
    """What a sale derecognises (minor units): ``principal`` outstanding and ``fees``
    receivable, and the ``interest`` owed that is (or is first taken) off the books."""

    principal: int
    fees: int
    interest: int


def sell_exposure(
    on_books: OnBooks,
    price: Money,
    *,
    allowance: Money,
    allowance_stage: Stage,
    currency: str,
    dimensions: Dimensions,
    as_of: date,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """不良资产转让 of ``on_books`` for ``price`` (its interest already off the books): the
    ``LoanSold`` template (Dr 1002 the price, Dr the allowance of ``allowance_stage``, Cr principal
    and fees, the difference to 6702) and 表外应收未收利息 falling by the interest (the buyer takes
    it)."""
    price = _money("price", price, currency)
    allowance = _money("allowance", allowance, currency)
    event = LoanSold(
        event_id=event_id,
        accounting_date=as_of,
        dimensions=dimensions,
        stage=allowance_stage,
        price=price,
        allowance=allowance,
        principal=Money.from_minor(on_books.principal, currency),
        fee=Money.from_minor(on_books.fees, currency),
    )
    gone = _memo(
        MemoRegister.OFF_BALANCE_INTEREST,
        MemoDirection.DECREASE,
        on_books.interest,
        "loan.sold.interest",
        event_id,
        as_of,
        currency,
        dimensions,
    )
    return Booking.of((event,), mapping, gone)


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
    require_nonperforming(risk_class, f"loan {loan.loan_id}")
    principal, fees, interest = _on_books(loan, "sold")
    _money("price", price, loan.currency)
    _money("allowance", allowance, loan.currency)
    first = _interest_off(
        loan, suspended=interest_suspended, as_of=as_of, event_id=event_id, mapping=mapping
    )
    return first + sell_exposure(
        OnBooks(principal=principal, fees=fees, interest=interest),
        price,
        allowance=allowance,
        allowance_stage=allowance_stage,
        currency=loan.currency,
        dimensions=loan.dimensions,
        as_of=as_of,
        event_id=event_id,
        mapping=mapping,
    )
