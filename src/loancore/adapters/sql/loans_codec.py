"""The canonical, versioned JSON encoding of a :class:`~loancore.servicing.Loan` (the ``document``
column of ``loans_loans``; docs/storage.md, "Loans").

Amounts are the loan's own integer minor units (never floats); rates and the terms' principal are
decimal strings; dates ISO 8601; enums by value. Keys are sorted and separators fixed, so one loan
has exactly one encoding (``encode(decode(text)) == text``). ``format`` names the encoding's
version: a reader refuses a format it does not know rather than guess.
"""

from __future__ import annotations

import enum
import json
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from loancore.amortization import LoanTerms
from loancore.errors import InvariantViolation
from loancore.servicing.loan import (
    Installment,
    Loan,
    LoanStatus,
    Part,
    Payee,
    Transaction,
    TransactionKind,
)

__all__ = ["LOAN_FORMAT", "decode_loan", "encode_loan"]

LOAN_FORMAT = 1
"""The version of the encoding written by :func:`encode_loan`."""

_DECIMAL_TERMS = frozenset(
    {"principal", "annual_rate", "installment_multiple", "fee_rate_per_period"}
)
_DATE_TERMS = frozenset({"start_date", "first_due_date"})


def _plain(value: Any) -> Any:
    """A terms field as JSON: Decimal -> str, date -> ISO, enum -> value."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise InvariantViolation(f"cannot encode terms value {value!r}")


def _terms(terms: LoanTerms) -> dict[str, Any]:
    return {f.name: _plain(getattr(terms, f.name)) for f in attrs.fields(LoanTerms) if f.init}


def _terms_from(data: dict[str, Any]) -> LoanTerms:
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if value is not None and name in _DECIMAL_TERMS:
            value = Decimal(value)
        elif value is not None and name in _DATE_TERMS:
            value = date.fromisoformat(value)
        fields[name] = value
    return LoanTerms(**fields)


_ZERO_PART = Part()
_ZERO_UNITS = [0, 0, 0, 0, 0]


def _part(part: Part) -> list[int]:
    return [part.due, part.booked, part.paid, part.waived, part.written_off]


def _part_from(units: list[int]) -> Part:
    """The part of ``units`` (checked by Part); the many all-zero parts share one value."""
    return _ZERO_PART if units == _ZERO_UNITS else Part(*units)


def _installment(inst: Installment) -> dict[str, Any]:
    through = inst.penalty_through
    return {
        "principal": _part(inst.principal),
        "interest": _part(inst.interest),
        "fee": _part(inst.fee),
        "penalty": _part(inst.penalty),
        "compound": _part(inst.compound),
        "number": inst.number,
        "due_date": inst.due_date.isoformat(),
        "period_start": inst.period_start.isoformat(),
        "interest_accrued": inst.interest_accrued,
        "accrual_from": inst.accrual_from.isoformat(),
        "accrual_base": inst.accrual_base,
        "penalty_through": None if through is None else through.isoformat(),
        "late_fee_charged": inst.late_fee_charged,
        "adjustment_amortized": inst.adjustment_amortized,
    }


def _installment_from(data: dict[str, Any]) -> Installment:
    through = data["penalty_through"]
    return Installment(
        number=data["number"],
        due_date=date.fromisoformat(data["due_date"]),
        period_start=date.fromisoformat(data["period_start"]),
        interest_accrued=data["interest_accrued"],
        accrual_from=date.fromisoformat(data["accrual_from"]),
        accrual_base=data["accrual_base"],
        penalty_through=None if through is None else date.fromisoformat(through),
        late_fee_charged=data["late_fee_charged"],
        adjustment_amortized=data["adjustment_amortized"],
        principal=_part_from(data["principal"]),
        interest=_part_from(data["interest"]),
        fee=_part_from(data["fee"]),
        penalty=_part_from(data["penalty"]),
        compound=_part_from(data["compound"]),
    )


def _transaction(txn: Transaction) -> dict[str, Any]:
    return {
        "event_id": txn.event_id,
        "as_of": txn.as_of.isoformat(),
        "kind": txn.kind.value,
        "amount": txn.amount,
        "lines": [list(line) for line in txn.lines],
        "credit_change": txn.credit_change,
        "principal_repaid": txn.principal_repaid,
        "reversed_by": txn.reversed_by,
        "reference": txn.reference,
    }


def _transaction_from(data: dict[str, Any]) -> Transaction:
    return Transaction(
        event_id=data["event_id"],
        as_of=date.fromisoformat(data["as_of"]),
        kind=TransactionKind(data["kind"]),
        amount=data["amount"],
        lines=tuple((n, c, a) for n, c, a in data["lines"]),
        credit_change=data["credit_change"],
        principal_repaid=data["principal_repaid"],
        reversed_by=data["reversed_by"],
        reference=data["reference"],
    )


_COUNTERS = (
    "principal_disbursed",
    "principal_prepaid",
    "principal_refunded",
    "merchant_discount",
    "discount_returned",
    "adjustment_released",
    "credit",
    "version",
    "product_version",
)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The one encoder of loan documents (sorted keys, fixed separators), built once."""


def encode_loan(loan: Loan) -> str:
    """``loan`` as canonical JSON text (format :data:`LOAN_FORMAT`)."""
    data: dict[str, Any] = {name: getattr(loan, name) for name in _COUNTERS}
    data.update(
        format=LOAN_FORMAT,
        loan_id=loan.loan_id,
        product_id=loan.product_id,
        currency=loan.currency,
        terms=_terms(loan.terms),
        dimensions=[list(pair) for pair in loan.dimensions],
        status=loan.status.value,
        payee=loan.payee.value,
        hold_id=loan.hold_id,
        last_date=loan.last_date.isoformat(),
        installments=[_installment(inst) for inst in loan.installments],
        history=[_transaction(txn) for txn in loan.history],
    )
    return _ENCODER.encode(data)


def decode_loan(text: str) -> Loan:
    """The loan :func:`encode_loan` wrote; :class:`InvariantViolation` on an unknown format."""
    data = json.loads(text)
    if data.get("format") != LOAN_FORMAT:
        raise InvariantViolation(
            f"stored loan document has format {data.get('format')!r}; this code reads "
            f"{LOAN_FORMAT} (upgrade loancore)"
        )
    return Loan(
        loan_id=data["loan_id"],
        product_id=data["product_id"],
        currency=data["currency"],
        terms=_terms_from(data["terms"]),
        dimensions=tuple((key, value) for key, value in data["dimensions"]),
        status=LoanStatus(data["status"]),
        payee=Payee(data["payee"]),
        hold_id=data["hold_id"],
        last_date=date.fromisoformat(data["last_date"]),
        installments=tuple(_installment_from(item) for item in data["installments"]),
        history=tuple(_transaction_from(item) for item in data["history"]),
        **{name: data[name] for name in _COUNTERS},
    )
