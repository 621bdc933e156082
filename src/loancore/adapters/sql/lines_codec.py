"""The canonical, versioned JSON of a credit-line account, its statements and its event records
(the ``document`` columns of ``loans_lines``, ``loans_line_statements`` and
``loans_line_events``; docs/storage.md, "Loans").

As for loans (:mod:`loancore.adapters.sql.loans_codec`): amounts are integer minor units of the
account's currency, dates ISO 8601, keys sorted and separators fixed, so one value has exactly
one encoding (``encode(decode(text)) == text``); ``format`` names the encoding and a reader
refuses a format it does not know rather than guess.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from loancore.errors import InvariantViolation
from loancore.money import Money
from loancore.ports import LineRecord
from loancore.servicing import (
    CreditLineAccount,
    LineQuotaEffect,
    LineQuotaEffectKind,
    LineTransaction,
    Statement,
)

__all__ = [
    "LINE_FORMAT",
    "decode_line",
    "decode_line_record",
    "decode_statement",
    "encode_line",
    "encode_line_record",
    "encode_statement",
]

LINE_FORMAT = 2
"""The version of the encodings written here (account, statement, record). Format 2 added the
account's ``history`` (its money events), ``minimums`` (the minimum unpaid by due date) and the
write-off (``principal_written_off``, ``written_off_on``); a format 1 document is read with an
empty history, its minimum unpaid due on its last statement's due date, and no write-off."""

_FORMATS_READ = (1, 2)

_INTS = (
    "product_version",
    "statement_day",
    "principal",
    "interest_accrued",
    "interest_billed",
    "penalty",
    "fees",
    "credit",
    "cycle_interest",
    "statements_closed",
    "minimum_unpaid",
    "overdue_interest",
    "principal_drawn",
    "principal_repaid",
)
_INTS_2 = ("principal_written_off",)  # format 2
_TEXTS = ("account_id", "line_id", "product_id", "currency")
_DATES = ("opened_on", "last_date", "cycle_start")
_STATEMENT_AMOUNTS = ("principal", "interest", "penalty", "fees", "minimum_payment")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _load(text: str, what: str) -> dict[str, Any]:
    data = json.loads(text, parse_float=_no_float)
    if not isinstance(data, dict) or data.get("format") not in _FORMATS_READ:
        found = data.get("format") if isinstance(data, dict) else None
        raise InvariantViolation(f"{what} document of format {found!r}; reads {_FORMATS_READ}")
    return data


def _no_float(text: str) -> Any:
    raise InvariantViolation(f"a float {text!r} in a credit-line document")


def _changes(changes: tuple[tuple[date, int], ...]) -> list[list[Any]]:
    return [[day.isoformat(), minor] for day, minor in changes]


def _changes_of(data: list[list[Any]]) -> tuple[tuple[date, int], ...]:
    return tuple((date.fromisoformat(day), int(minor)) for day, minor in data)


def _statement_data(statement: Statement) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(statement, name).minor_units for name in _STATEMENT_AMOUNTS
    }
    data.update(
        number=statement.number,
        closed_on=statement.closed_on.isoformat(),
        due_date=statement.due_date.isoformat(),
        currency=statement.principal.currency,
    )
    return data


def _statement_of(data: dict[str, Any]) -> Statement:
    currency = data["currency"]
    amounts = {name: Money.from_minor(data[name], currency) for name in _STATEMENT_AMOUNTS}
    return Statement(
        number=data["number"],
        closed_on=date.fromisoformat(data["closed_on"]),
        due_date=date.fromisoformat(data["due_date"]),
        **amounts,
    )


def encode_statement(statement: Statement) -> str:
    return _dump({"format": LINE_FORMAT, **_statement_data(statement)})


def decode_statement(text: str) -> Statement:
    return _statement_of(_load(text, "statement"))


def _transaction_data(txn: LineTransaction) -> list[Any]:
    return [
        txn.event_id,
        txn.as_of.isoformat(),
        txn.kind.value,
        txn.amount,
        None if txn.component is None else txn.component.value,
        None if txn.fee_kind is None else txn.fee_kind.value,
        txn.reversed_by,
    ]


def _transaction_of(data: list[Any]) -> LineTransaction:
    event_id, as_of, kind, amount, component, fee_kind, reversed_by = data
    return LineTransaction(
        event_id=event_id,
        as_of=date.fromisoformat(as_of),
        kind=kind,
        amount=int(amount),
        component=component,
        fee_kind=fee_kind,
        reversed_by=reversed_by,
    )


def encode_line(account: CreditLineAccount) -> str:
    """The account's one canonical JSON text."""
    data: dict[str, Any] = {"format": LINE_FORMAT}
    data.update((name, getattr(account, name)) for name in (*_INTS, *_TEXTS))
    data.update((name, getattr(account, name).isoformat()) for name in _DATES)
    data.update(
        dimensions=[list(pair) for pair in account.dimensions],
        cycle_changes=_changes(account.cycle_changes),
        overdue_changes=_changes(account.overdue_changes),
        late_charged=account.late_charged,
        applied_on_last_date=list(account.applied_on_last_date),
        statement=None if account.statement is None else _statement_data(account.statement),
        history=[_transaction_data(txn) for txn in account.history],
        minimums=_changes(account.minimums),
        principal_written_off=account.principal_written_off,
        written_off_on=None
        if account.written_off_on is None
        else account.written_off_on.isoformat(),
    )
    return _dump(data)


def decode_line(text: str) -> CreditLineAccount:
    data = _load(text, "credit line")
    fields: dict[str, Any] = {name: data[name] for name in (*_INTS, *_TEXTS)}
    fields.update((name, date.fromisoformat(data[name])) for name in _DATES)
    statement = data["statement"]
    if data["format"] == 1:
        unpaid = data["minimum_unpaid"]
        due = statement["due_date"] if statement is not None else None
        data.update(
            history=[],
            minimums=[[due, unpaid]] if unpaid and due is not None else [],
            principal_written_off=0,
            written_off_on=None,
        )
    written_off_on = data["written_off_on"]
    return CreditLineAccount(
        **fields,
        dimensions=tuple((key, value) for key, value in data["dimensions"]),
        cycle_changes=_changes_of(data["cycle_changes"]),
        overdue_changes=_changes_of(data["overdue_changes"]),
        late_charged=bool(data["late_charged"]),
        applied_on_last_date=tuple(data["applied_on_last_date"]),
        statement=None if statement is None else _statement_of(statement),
        history=tuple(_transaction_of(txn) for txn in data["history"]),
        minimums=_changes_of(data["minimums"]),
        principal_written_off=data["principal_written_off"],
        written_off_on=None if written_off_on is None else date.fromisoformat(written_off_on),
    )


def encode_line_record(record: LineRecord) -> str:
    effects = [
        [e.kind.value, e.line_id, e.amount.minor_units, e.amount.currency, e.key]
        for e in record.quota_effects
    ]
    return _dump({
        "format": LINE_FORMAT, "event_id": record.event_id, "as_of": record.as_of.isoformat(),
        "kind": record.kind, "version": record.version, "entry_ids": list(record.entry_ids),
        "quota_effects": effects, "statements": list(record.statements),
    })  # fmt: skip


def decode_line_record(text: str) -> LineRecord:
    data = _load(text, "line event record")
    effects = tuple(
        LineQuotaEffect(
            kind=LineQuotaEffectKind(kind),
            line_id=line_id,
            amount=Money.from_minor(minor, currency),
            key=key,
        )
        for kind, line_id, minor, currency, key in data["quota_effects"]
    )
    return LineRecord(
        event_id=data["event_id"],
        as_of=date.fromisoformat(data["as_of"]),
        kind=data["kind"],
        version=data["version"],
        entry_ids=tuple(data["entry_ids"]),
        quota_effects=effects,
        statements=tuple(data["statements"]),
    )
