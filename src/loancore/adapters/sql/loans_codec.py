"""The canonical, versioned JSON encoding of a :class:`~loancore.servicing.Loan` (the ``document``
column of ``loans_loans``; docs/storage.md, "Loans").

Amounts are the loan's own integer minor units (never floats); rates and the terms' principal are
decimal strings; dates ISO 8601; enums by value. Keys are sorted and separators fixed, so one loan
has exactly one encoding (``encode(decode(text)) == text``). ``format`` names the encoding's
version: a reader refuses a format it does not know rather than guess.

Format 3 (written now) is lines of canonical JSON joined by ``"\\n"`` (the encoder escapes a
newline inside a string, so none occurs inside a line): a header object (the loan's own fields,
``format`` and the number of installment and history lines), the terms object, then each
installment and each history line as a positional array (the field orders
:data:`INSTALLMENT_FIELDS` and :data:`TRANSACTION_FIELDS`; a part is ``[due, booked, paid,
waived, written_off]``). Lines let the codec skip the work an event did not make: a line read or
written is kept by its object's identity, so writing a loan encodes only the installments and
history lines the event changed or added; and an installment or terms line already read is
built once (loans of one schedule share them).

Format 2 (one JSON object with the same positional arrays) and format 1 (keyed objects) are
still read, and written back as format 3 by the loan's next update.
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
    "LINE_MEMO_MAX",
    "LOAN_FORMAT",
    "LOAN_FORMATS_READ",
    "PREPARED_MAX",
    "TRANSACTION_FIELDS",
    "LineMemo",
    "decode_loan",
    "encode_loan",
]

LOAN_FORMAT = 3
"""The version of the encoding written by :func:`encode_loan`."""

LOAN_FORMATS_READ = (1, 2, 3)
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


def _terms(terms: LoanTerms) -> dict[str, Any]:
    return {name: _plain(getattr(terms, name)) for name in _TERMS_FIELDS}


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


_KINDS = {kind.value: kind for kind in TransactionKind}
_STATUSES = {status.value: status for status in LoanStatus}
_PAYEES = {payee.value: payee for payee in Payee}


if set(TRANSACTION_FIELDS) != {field.name for field in attrs.fields(Transaction)}:
    raise InvariantViolation("loans_codec: Transaction's fields changed; update TRANSACTION_FIELDS")

_set_field = object.__setattr__


def _transaction_of_row(row: list[Any]) -> Transaction:
    """The history line's Transaction, built without its converters: each of them makes a tuple
    of what is given, and the values here are tuples already (equal to ``Transaction(...)``,
    which the round-trip tests compare; a history line is the most common object a read builds).
    """
    (event_id, as_of, kind, amount, lines, credit, principal, reversed_by, reference) = row[:9]
    entry_ids, effects, clawback = row[9:]
    values = (
        event_id,
        _fromiso(as_of),
        _KINDS.get(kind) or TransactionKind(kind),
        amount,
        tuple([(n, c, a) for n, c, a in lines]) if lines else (),
        credit,
        principal,
        reversed_by,
        reference,
        tuple(entry_ids),
        tuple([(k, a, key) for k, a, key in effects]) if effects else (),
        clawback,
    )
    txn: Transaction = object.__new__(Transaction)
    for name, value in zip(TRANSACTION_FIELDS, values, strict=True):  # bounded: 12 fields
        _set_field(txn, name, value)
    return txn


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

_encoded = _ENCODER.encode
_loads = json.loads

LINE_MEMO_MAX = 100_000
"""The most objects a :class:`LineMemo` keeps before it starts again (a batch of 1,000 loans
with 20 history lines each is ~20,000 history lines and their distinct installments)."""

PREPARED_MAX = 10_000
"""The most documents a :class:`LineMemo` keeps prepared before it starts again (a batch's
loans: ``load_many`` and ``update_many`` take at most 10,000)."""


class LineMemo:
    """The lines (format 3) of the terms, installments and history lines of the loans one store
    read, by the identity of their objects. Servicing carries the objects an event does not
    change from the loan it read to the loan it returns (an event changes one or two
    installments and appends a history line), so writing that loan back encodes only the lines
    the event changed or added. The memo holds each object it names (its id is not reused while
    the memo lives); a store keeps one for the unit of work and drops it after writing, so the
    objects live no longer than the batch that read them. A miss only encodes the line again.

    It also keeps whole documents encoded ahead of their write (:meth:`prepare`): a batch
    decided in one unit of work and written in the next encodes its loans before the second
    takes the writer's lock (:meth:`~loancore.adapters.sql.loans.SqlLoanStore.prepare_updates`),
    and :func:`encode_loan` then returns the document prepared for that very object."""

    __slots__ = ("_documents", "_held", "_lines")

    def __init__(self) -> None:
        self._lines: dict[int, str] = {}
        self._held: list[object] = []
        self._documents: dict[int, tuple[Loan, str]] = {}

    def __len__(self) -> int:
        return len(self._lines)

    def remember(self, value: object, text: str) -> None:
        """``text`` is the line of ``value``."""
        key = id(value)
        if key in self._lines:  # the same object (installments are shared across loans)
            return
        if len(self._lines) >= LINE_MEMO_MAX:
            self.clear()
        self._lines[key] = text
        self._held.append(value)

    def line(self, value: object, row: Callable[[Any], Any]) -> str:
        """The line of ``value`` (``row`` gives its JSON form when the memo does not know it)."""
        text = self._lines.get(id(value))
        return _encoded(row(value)) if text is None else text

    def prepare(self, loan: Loan, text: str) -> None:
        """``text`` is the document of ``loan`` (:func:`encode_loan` with this memo), kept with
        the object (its id is not reused while kept) until the memo is cleared."""
        if len(self._documents) >= PREPARED_MAX:
            self._documents.clear()
        self._documents[id(loan)] = (loan, text)

    def document(self, loan: Loan) -> str | None:
        """The document prepared for this very object, or None."""
        known = self._documents.get(id(loan))
        return known[1] if known is not None and known[0] is loan else None

    def clear(self) -> None:
        self._lines.clear()
        self._held.clear()
        self._documents.clear()


_TERMS_TEXT: dict[int, tuple[LoanTerms, str]] = {}
"""The line of a terms object already written or read, by identity, not equality: equal terms
may differ in form (``0.18`` and ``0.180`` are equal Decimals), and the text must be the terms'
own. An entry holds its terms, so the id is not reused while the entry lives. Emptied when it
reaches :data:`_TERMS_MAX`."""

_TERMS_LINES: dict[str, LoanTerms] = {}
"""Terms already built, by their line (format 3; loans of one product, amount and start date
share it). Emptied when it reaches :data:`_TERMS_MAX`."""

_INSTALLMENT_LINES: dict[str, Installment] = {}
"""Installments already built, by their line (format 3): the installments a payment has not
touched are the same across loans of one schedule, so a batch's read builds each distinct one
once. Emptied when it reaches :data:`_INSTALLMENTS_MAX`."""


def _terms_line(terms: LoanTerms) -> str:
    known = _TERMS_TEXT.get(id(terms))
    if known is not None and known[0] is terms:
        return known[1]
    text = _encoded(_terms(terms))
    _remember_terms(terms, text)
    return text


def _remember_terms(terms: LoanTerms, text: str) -> None:
    if len(_TERMS_TEXT) >= _TERMS_MAX:
        _TERMS_TEXT.clear()
    _TERMS_TEXT[id(terms)] = (terms, text)


def _header(loan: Loan) -> dict[str, Any]:
    """Format 3's first line: the loan's own fields, and how many installment and history lines
    follow the terms line."""
    data: dict[str, Any] = {name: getattr(loan, name) for name in _COUNTERS}
    data.update(
        format=LOAN_FORMAT,
        loan_id=loan.loan_id,
        product_id=loan.product_id,
        currency=loan.currency,
        dimensions=[list(pair) for pair in loan.dimensions],
        status=loan.status.value,
        payee=loan.payee.value,
        hold_id=loan.hold_id,
        last_date=loan.last_date.isoformat(),
        installments=len(loan.installments),
        history=len(loan.history),
    )
    return data


def encode_loan(loan: Loan, memo: LineMemo | None = None) -> str:
    """``loan`` as canonical text (format :data:`LOAN_FORMAT`): lines of canonical JSON, the
    header, the terms, each installment, each history line (module docstring). ``memo``: the
    lines of the objects already read (:class:`LineMemo`), not encoded again, and the document
    prepared for ``loan`` itself, returned as it is."""
    if memo is not None:
        prepared = memo.document(loan)
        if prepared is not None:
            return prepared
    lines = [_encoded(_header(loan)), _terms_line(loan.terms)]
    if memo is None:
        lines.extend(_encoded(_installment_row(inst)) for inst in loan.installments)
        lines.extend(_encoded(_transaction_row(txn)) for txn in loan.history)
    else:
        line = memo.line
        lines.extend(line(inst, _installment_row) for inst in loan.installments)
        lines.extend(line(txn, _transaction_row) for txn in loan.history)
    return "\n".join(lines)


def _terms_of_line(text: str) -> LoanTerms:
    terms = _TERMS_LINES.get(text)
    if terms is None:
        if len(_TERMS_LINES) >= _TERMS_MAX:
            _TERMS_LINES.clear()
        terms = _TERMS_LINES[text] = _terms_built(_loads(text))
        _remember_terms(terms, text)
    return terms


def _installments_of_lines(lines: list[str]) -> tuple[Installment, ...]:
    """The installments of ``lines``: each known line from :data:`_INSTALLMENT_LINES`, the
    others parsed together (one parse) and built (checked by Installment)."""
    known = _INSTALLMENT_LINES
    missing = [line for line in lines if line not in known]
    if not missing:
        return tuple([known[line] for line in lines])
    rows = _loads(f"[{','.join(missing)}]")
    if len(rows) != len(missing):
        raise InvariantViolation(f"stored installments do not parse one a line: {missing!r}")
    built = {line: _installment_built(row) for line, row in zip(missing, rows, strict=True)}
    result = tuple([built[line] if line in built else known[line] for line in lines])
    if len(known) + len(built) > _INSTALLMENTS_MAX:
        known.clear()  # after the result is taken: the loan's known lines are not lost with it
    known.update(built)
    return result


def _unknown(version: object) -> InvariantViolation:
    return InvariantViolation(
        f"stored loan document has format {version!r}; this code reads "
        f"{LOAN_FORMATS_READ} (upgrade loancore)"
    )


def decode_loan(text: str, memo: LineMemo | None = None) -> Loan:
    """The loan :func:`encode_loan` wrote (any of :data:`LOAN_FORMATS_READ`);
    :class:`InvariantViolation` on an unknown format or a document cut short. ``memo`` learns
    the lines of the installments and history lines read (format 3)."""
    head, _newline, rest = text.partition("\n")
    data = _loads(head)
    version = data.get("format")
    if version != LOAN_FORMAT:
        if version in LOAN_FORMATS_READ and not rest:
            return _decode_one_object(data, version)
        raise _unknown(version)
    lines = rest.split("\n")
    count, length = data["installments"], data["history"]
    if 1 + count + length != len(lines):
        raise InvariantViolation(
            f"stored loan document of {data['loan_id']!r} has {len(lines) + 1} lines, its header "
            f"says {2 + count + length}"
        )
    installment_lines, history_lines = lines[1 : 1 + count], lines[1 + count :]
    installments = _installments_of_lines(installment_lines)
    rows = _loads(f"[{','.join(history_lines)}]") if history_lines else []  # one parse
    history = tuple([_transaction_of_row(row) for row in rows])
    if len(history) != length:
        raise InvariantViolation(f"stored loan document of {data['loan_id']!r}: bad history")
    if memo is not None:
        for value, line in zip(installments + history, installment_lines + history_lines):
            memo.remember(value, line)
    return _loan(data, _terms_of_line(lines[0]), installments, history)


def _decode_one_object(data: dict[str, Any], version: int) -> Loan:
    """A format 1 or 2 document (one JSON object)."""
    installment: Callable[[Any], Installment]
    transaction: Callable[[Any], Transaction]
    if version == 2:
        installment, transaction = _installment_of_row, _transaction_of_row
    else:
        installment, transaction = _installment_from, _transaction_from
    return _loan(
        data,
        _terms_from(data["terms"]),
        tuple(installment(item) for item in data["installments"]),
        tuple(transaction(item) for item in data["history"]),
    )


def _loan(
    data: dict[str, Any],
    terms: LoanTerms,
    installments: tuple[Installment, ...],
    history: tuple[Transaction, ...],
) -> Loan:
    return Loan(
        loan_id=data["loan_id"],
        product_id=data["product_id"],
        currency=data["currency"],
        terms=terms,
        dimensions=tuple((key, value) for key, value in data["dimensions"]),
        status=_STATUSES.get(data["status"]) or LoanStatus(data["status"]),
        payee=_PAYEES.get(data["payee"]) or Payee(data["payee"]),
        hold_id=data["hold_id"],
        last_date=_fromiso(data["last_date"]),
        installments=installments,
        history=history,
        **{name: data[name] for name in _COUNTERS},
    )


def encode_loan_v2(loan: Loan) -> str:
    """``loan`` in format 2 (what loancore wrote before format 3): kept so tests prove that
    those documents still read."""
    return _encode_whole(loan, 2, _installment_row, _transaction_row)


def encode_loan_v1(loan: Loan) -> str:
    """``loan`` in format 1 (what loancore wrote before format 2): kept so tests prove that old
    documents still read."""
    return _encode_whole(loan, 1, _installment, _transaction)


def _encode_whole(
    loan: Loan,
    version: int,
    installment: Callable[[Installment], Any],
    transaction: Callable[[Transaction], Any],
) -> str:
    """``loan`` as one JSON object (formats 1 and 2: they differ only in how an installment
    and a transaction are written)."""
    data: dict[str, Any] = {name: getattr(loan, name) for name in _COUNTERS}
    data.update(
        format=version,
        loan_id=loan.loan_id,
        product_id=loan.product_id,
        currency=loan.currency,
        terms=_terms(loan.terms),
        dimensions=[list(pair) for pair in loan.dimensions],
        status=loan.status.value,
        payee=loan.payee.value,
        hold_id=loan.hold_id,
        last_date=loan.last_date.isoformat(),
        installments=[installment(inst) for inst in loan.installments],
        history=[transaction(txn) for txn in loan.history],
    )
    return _ENCODER.encode(data)
