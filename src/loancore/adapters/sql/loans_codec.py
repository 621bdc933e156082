"""The canonical, versioned JSON encoding of a :class:`~loancore.servicing.Loan` (the ``document``
column of ``loans_loans``; docs/storage.md, "Loans").

Amounts are the loan's own integer minor units (never floats); rates and the terms' principal are
decimal strings; dates ISO 8601; enums by value. Keys are sorted and separators fixed, so one loan
has exactly one encoding (``encode(decode(text)) == text``). ``format`` names the encoding's
version: a reader refuses a format it does not know rather than guess.

Format 2 (written now) keeps the top level and the terms as objects but writes each installment
and each history line as a positional array (the field orders :data:`INSTALLMENT_FIELDS` and
:data:`TRANSACTION_FIELDS`; a part is ``[due, booked, paid, waived, written_off]``): the keys of
format 1 repeated in every installment were two thirds of the text and of the time to read and
write it. Format 1 documents are still read (and written back as format 2 by the next update).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
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

__all__ = [
    "INSTALLMENT_FIELDS",
    "LOAN_FORMAT",
    "LOAN_FORMATS_READ",
    "TRANSACTION_FIELDS",
    "decode_loan",
    "encode_loan",
]

LOAN_FORMAT = 2
"""The version of the encoding written by :func:`encode_loan`."""

LOAN_FORMATS_READ = (1, 2)
"""The versions :func:`decode_loan` reads."""

INSTALLMENT_FIELDS = (
    "number",
    "due_date",
    "period_start",
    "interest_accrued",
    "accrual_from",
    "accrual_base",
    "penalty_through",
    "late_fee_charged",
    "adjustment_amortized",
    "principal",
    "interest",
    "fee",
    "penalty",
    "compound",
)
"""The positions of an installment's array in format 2."""

TRANSACTION_FIELDS = (
    "event_id",
    "as_of",
    "kind",
    "amount",
    "lines",
    "credit_change",
    "principal_repaid",
    "reversed_by",
    "reference",
    "entry_ids",
    "quota_effects",
    "clawback",
)
"""The positions of a history line's array in format 2."""

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


_TERMS_FIELDS = tuple(f.name for f in attrs.fields(LoanTerms) if f.init)

_TERMS_DATA: dict[int, tuple[LoanTerms, dict[str, Any]]] = {}
"""The stored form of terms objects already written (the terms read through :data:`_TERMS` are
shared), by identity, not equality: equal terms may differ in form (``0.18`` and ``0.180`` are
equal Decimals), and the text must be the terms' own. An entry holds its terms, so the id is not
reused while the entry lives. Emptied when it reaches :data:`_TERMS_MAX`."""


def _terms(terms: LoanTerms) -> dict[str, Any]:
    known = _TERMS_DATA.get(id(terms))
    if known is not None and known[0] is terms:
        return known[1]
    if len(_TERMS_DATA) >= _TERMS_MAX:
        _TERMS_DATA.clear()
    data = {name: _plain(getattr(terms, name)) for name in _TERMS_FIELDS}
    _TERMS_DATA[id(terms)] = (terms, data)
    return data


_TERMS: dict[tuple[tuple[str, Any], ...], LoanTerms] = {}
"""Terms already built, by their stored fields: loans of one product, amount and start date
share their terms, so reading a batch of them checks those terms once (LoanTerms' validators
are most of a terms' read). Emptied when it reaches :data:`_TERMS_MAX`."""

_TERMS_MAX = 10_000


def _terms_from(data: dict[str, Any]) -> LoanTerms:
    """The terms of ``data`` (checked by LoanTerms when first built)."""
    key = tuple(data.items())  # str, int, bool or None values: hashable
    terms = _TERMS.get(key)
    if terms is None:
        if len(_TERMS) >= _TERMS_MAX:
            _TERMS.clear()
        terms = _TERMS[key] = _terms_built(data)
    return terms


def _terms_built(data: dict[str, Any]) -> LoanTerms:
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if value is not None and name in _DECIMAL_TERMS:
            value = Decimal(value)
        elif value is not None and name in _DATE_TERMS:
            value = date.fromisoformat(value)
        fields[name] = value
    return LoanTerms(**fields)


_PARTS: dict[tuple[int, ...], Part] = {}
"""Parts already built, by their units: a Part is an immutable value, and the same units recur
(the zero parts, and a schedule's parts across loans of one product and amount), so reading a
document builds each distinct part once. Emptied when it reaches :data:`_PARTS_MAX`."""

_PARTS_MAX = 100_000


def _part(part: Part) -> list[int]:
    return [part.due, part.booked, part.paid, part.waived, part.written_off]


def _part_from(units: list[int]) -> Part:
    """The part of ``units`` (checked by Part when first built)."""
    key = tuple(units)
    part = _PARTS.get(key)
    if part is None:
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.clear()
        part = _PARTS[key] = Part(*key)
    return part


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


def _installment_row(inst: Installment) -> list[Any]:
    """Format 2: the installment in :data:`INSTALLMENT_FIELDS` order."""
    through = inst.penalty_through
    p, i, f, n, c = inst.principal, inst.interest, inst.fee, inst.penalty, inst.compound
    return [
        inst.number,
        inst.due_date.isoformat(),
        inst.period_start.isoformat(),
        inst.interest_accrued,
        inst.accrual_from.isoformat(),
        inst.accrual_base,
        None if through is None else through.isoformat(),
        inst.late_fee_charged,
        inst.adjustment_amortized,
        [p.due, p.booked, p.paid, p.waived, p.written_off],
        [i.due, i.booked, i.paid, i.waived, i.written_off],
        [f.due, f.booked, f.paid, f.waived, f.written_off],
        [n.due, n.booked, n.paid, n.waived, n.written_off],
        [c.due, c.booked, c.paid, c.waived, c.written_off],
    ]


_fromiso = date.fromisoformat


_INSTALLMENTS: dict[tuple[Any, ...], Installment] = {}
"""Installments already built, by their stored fields (format 2): the installments a payment
has not touched are the same across loans of one schedule (and a loan's future installments
stay as booked until their due date), so a batch's read builds each distinct one once.
Emptied when it reaches :data:`_INSTALLMENTS_MAX`."""

_INSTALLMENTS_MAX = 100_000


def _installment_of_row(row: list[Any]) -> Installment:
    """The installment of a format 2 row (checked by Installment when first built)."""
    p, i, f, n, c = row[9:]
    key = (*row[:9], *p, *i, *f, *n, *c)  # dates as text, ints, None, bools: hashable
    inst = _INSTALLMENTS.get(key)
    if inst is None:
        if len(_INSTALLMENTS) >= _INSTALLMENTS_MAX:
            _INSTALLMENTS.clear()
        inst = _INSTALLMENTS[key] = _installment_built(row)
    return inst


def _installment_built(row: list[Any]) -> Installment:
    (number, due, start, accrued, accrual_from, base, through, late, amortized) = row[:9]
    principal, interest, fee, penalty, compound = row[9:]
    return Installment(
        number=number,
        due_date=_fromiso(due),
        period_start=_fromiso(start),
        interest_accrued=accrued,
        accrual_from=_fromiso(accrual_from),
        accrual_base=base,
        penalty_through=None if through is None else _fromiso(through),
        late_fee_charged=late,
        adjustment_amortized=amortized,
        principal=_part_from(principal),
        interest=_part_from(interest),
        fee=_part_from(fee),
        penalty=_part_from(penalty),
        compound=_part_from(compound),
    )


def _transaction_row(txn: Transaction) -> list[Any]:
    """Format 2: the history line in :data:`TRANSACTION_FIELDS` order."""
    return [
        txn.event_id,
        txn.as_of.isoformat(),
        txn.kind.value,
        txn.amount,
        [list(line) for line in txn.lines],
        txn.credit_change,
        txn.principal_repaid,
        txn.reversed_by,
        txn.reference,
        list(txn.entry_ids),
        [list(effect) for effect in txn.quota_effects],
        txn.clawback,
    ]


def _transaction_of_row(row: list[Any]) -> Transaction:
    event_id, as_of, kind, amount, lines, credit, principal, reversed_by, reference = row[:9]
    entry_ids, effects, clawback = row[9:]
    return Transaction(
        event_id=event_id,
        as_of=_fromiso(as_of),
        kind=TransactionKind(kind),
        amount=amount,
        lines=tuple((n, c, a) for n, c, a in lines),
        credit_change=credit,
        principal_repaid=principal,
        reversed_by=reversed_by,
        reference=reference,
        entry_ids=tuple(entry_ids),
        quota_effects=tuple((k, a, key) for k, a, key in effects),
        clawback=clawback,
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
        installments=[_installment_row(inst) for inst in loan.installments],
        history=[_transaction_row(txn) for txn in loan.history],
    )
    return _ENCODER.encode(data)


def decode_loan(text: str) -> Loan:
    """The loan :func:`encode_loan` wrote (any of :data:`LOAN_FORMATS_READ`);
    :class:`InvariantViolation` on an unknown format."""
    data = json.loads(text)
    version = data.get("format")
    installment: Callable[[Any], Installment]
    transaction: Callable[[Any], Transaction]
    if version == LOAN_FORMAT:
        installment, transaction = _installment_of_row, _transaction_of_row
    elif version == 1:
        installment, transaction = _installment_from, _transaction_from
    else:
        raise InvariantViolation(
            f"stored loan document has format {version!r}; this code reads "
            f"{LOAN_FORMATS_READ} (upgrade loancore)"
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
        last_date=_fromiso(data["last_date"]),
        installments=tuple(installment(item) for item in data["installments"]),
        history=tuple(transaction(item) for item in data["history"]),
        **{name: data[name] for name in _COUNTERS},
    )


def encode_loan_v1(loan: Loan) -> str:
    """``loan`` in format 1 (what loancore wrote before format 2): kept so tests prove that old
    documents still read."""
    data: dict[str, Any] = {name: getattr(loan, name) for name in _COUNTERS}
    data.update(
        format=1,
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
