"""The end-of-day standings of loans on SQLite and PostgreSQL (component ``standing``), used by
:class:`~loancore.adapters.sql.loans.SqlLoanStore`.

Table (version :data:`STANDING_SCHEMA_VERSION`; docs/end-of-day.md, "Storage"):

``loans_standing``  one row per loan closed at least once: ``closed_through`` (the watermark, the
                    column the batch selects on) and ``document``, the whole
                    :class:`~loancore.delinquency.daily.LoanStanding` as canonical JSON (integer
                    minor units, ISO dates, enums by value).

A save replaces the rows of the loans given (``DELETE ... IN`` then one ``INSERT`` of many rows),
inside the caller's transaction, so a standing moves with its loan and its entries or not at all.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.sql.base import METADATA, binary_text
from loancore.delinquency.classification import (
    Classification,
    ClassificationChange,
    ClassificationHistory,
    RiskClass,
)
from loancore.delinquency.daily import LoanStanding
from loancore.postings import Stage

__all__ = [
    "STANDING",
    "STANDING_COMPONENT",
    "STANDING_SCHEMA_VERSION",
    "decode_standing",
    "encode_standing",
    "loans_to_close_query",
    "read_standings",
    "write_standings",
]

STANDING_COMPONENT = "standing"
STANDING_SCHEMA_VERSION = 1

STANDING = sa.Table(
    "loans_standing",
    METADATA,
    sa.Column("loan_id", binary_text(), primary_key=True),
    sa.Column("closed_through", sa.Date, nullable=True),
    sa.Column("document", sa.Text, nullable=False),
)

_IN_MAX = 500
"""The most ids one ``IN`` binds."""


def _classification(c: Classification) -> dict[str, Any]:
    return {
        "as_of": c.as_of.isoformat(),
        "dpd": c.dpd,
        "bucket": c.bucket,
        "class": int(c.risk_class),
        "stage": int(c.stage),
        "non_accrual": c.non_accrual,
        "reasons": list(c.reasons),
    }


def _classification_from(data: dict[str, Any]) -> Classification:
    return Classification(
        as_of=datetime.date.fromisoformat(data["as_of"]),
        dpd=data["dpd"],
        bucket=data["bucket"],
        risk_class=RiskClass(data["class"]),
        stage=Stage(data["stage"]),
        non_accrual=data["non_accrual"],
        reasons=tuple(data["reasons"]),
    )


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The one encoder of standings (sorted keys, fixed separators), built once."""


def encode_standing(standing: LoanStanding) -> str:
    """``standing`` as canonical JSON (sorted keys, no spaces)."""
    history = standing.history
    data = {
        "loan_id": standing.loan_id,
        "borrower_id": standing.borrower_id,
        "closed_through": None
        if standing.closed_through is None
        else standing.closed_through.isoformat(),
        "dpd": standing.dpd,
        "on_time": standing.on_time_repayments,
        "suspended": standing.interest_suspended,
        "allowance": list(standing.allowance),
        "written_off": standing.written_off,
        "through": None if history.through is None else history.through.isoformat(),
        "changes": [
            {"c": _classification(change.classification), "reason": change.reason}
            for change in history.changes
        ],
    }
    return _ENCODER.encode(data)


def _date(text: str | None) -> datetime.date | None:
    return None if text is None else datetime.date.fromisoformat(text)


def decode_standing(document: str) -> LoanStanding:
    """The standing :func:`encode_standing` wrote."""
    data = json.loads(document)
    history = ClassificationHistory(
        loan_id=data["loan_id"],
        changes=tuple(
            ClassificationChange(
                classification=_classification_from(item["c"]), reason=item["reason"]
            )
            for item in data["changes"]
        ),
        through=_date(data["through"]),
    )
    allowance = data["allowance"]
    return LoanStanding(
        loan_id=data["loan_id"],
        borrower_id=data["borrower_id"],
        closed_through=_date(data["closed_through"]),
        dpd=data["dpd"],
        on_time_repayments=data["on_time"],
        interest_suspended=data["suspended"],
        allowance=(allowance[0], allowance[1], allowance[2]),
        written_off=data["written_off"],
        history=history,
    )


def read_standings(connection: Connection, loan_ids: Sequence[str]) -> dict[str, LoanStanding]:
    """The stored standings of ``loan_ids`` by loan id (missing ones left out)."""
    unique = list(dict.fromkeys(loan_ids))
    found: dict[str, LoanStanding] = {}
    for first in range(0, len(unique), _IN_MAX):  # bounded by the ids given / _IN_MAX
        query = sa.select(STANDING.c.loan_id, STANDING.c.document).where(
            STANDING.c.loan_id.in_(unique[first : first + _IN_MAX])
        )
        for row in connection.execute(query):
            found[row.loan_id] = decode_standing(row.document)
    return found


def write_standings(connection: Connection, standings: Sequence[LoanStanding]) -> None:
    """Replace the rows of ``standings``' loans (module docstring)."""
    ids = [s.loan_id for s in standings]
    for first in range(0, len(ids), _IN_MAX):  # bounded by the standings given / _IN_MAX
        connection.execute(
            STANDING.delete().where(STANDING.c.loan_id.in_(ids[first : first + _IN_MAX]))
        )
    rows = [
        {
            "loan_id": s.loan_id,
            "closed_through": s.closed_through,
            "document": encode_standing(s),
        }
        for s in standings
    ]
    if rows:
        connection.execute(STANDING.insert(), rows)


def loans_to_close_query(
    loans: sa.Table, through: datetime.date, after: str, limit: int
) -> sa.Select[Any]:
    """Active loans of ``loans`` with no standing or one closed before ``through``, id order."""
    joined = loans.outerjoin(STANDING, STANDING.c.loan_id == loans.c.loan_id)
    return (
        sa.select(loans.c.loan_id)
        .select_from(joined)
        .where(
            loans.c.status == "active",
            loans.c.loan_id > after,
            sa.or_(STANDING.c.closed_through.is_(None), STANDING.c.closed_through < through),
        )
        .order_by(loans.c.loan_id)
        .limit(limit)
    )
