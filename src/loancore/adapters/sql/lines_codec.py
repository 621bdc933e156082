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

LINE_FORMAT = 1
"""The version of the encodings written here (account, statement, record)."""

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
_TEXTS = ("account_id", "line_id", "product_id", "currency")
_DATES = ("opened_on", "last_date", "cycle_start")
_STATEMENT_AMOUNTS = ("principal", "interest", "penalty", "fees", "minimum_payment")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _load(text: str, what: str) -> dict[str, Any]:
    data = json.loads(text, parse_float=_no_float)
    if not isinstance(data, dict) or data.get("format") != LINE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise InvariantViolation(f"{what} document of format {found!r}; reads {LINE_FORMAT}")
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
    )
    return _dump(data)


def decode_line(text: str) -> CreditLineAccount:
    data = _load(text, "credit line")
    fields: dict[str, Any] = {name: data[name] for name in (*_INTS, *_TEXTS)}
    fields.update((name, date.fromisoformat(data[name])) for name in _DATES)
    statement = data["statement"]
    return CreditLineAccount(
        **fields,
        dimensions=tuple((key, value) for key, value in data["dimensions"]),
        cycle_changes=_changes_of(data["cycle_changes"]),
        overdue_changes=_changes_of(data["overdue_changes"]),
        late_charged=bool(data["late_charged"]),
        applied_on_last_date=tuple(data["applied_on_last_date"]),
        statement=None if statement is None else _statement_of(statement),
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
