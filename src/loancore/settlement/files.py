"""The payout file sent to the channel and the result file it sends back (CSV text).

The core builds and parses text; reading and writing files is the adapter's job.

**Payout file** (:func:`payout_csv`), one row per payment instruction, sorted by line id::

    batch_id,line_id,merchant_id,payee_account,amount,currency,value_date
    unionpay:2025-10-09,unionpay:2025-10-09:M001,M001,6222000011112222,9940.00,CNY,2025-10-09

**Result file** (:func:`parse_result_csv`): a header naming at least
``batch_id,line_id,amount,status`` (``channel_ref`` and ``reason`` optional, other columns
ignored, any order), then one row per line; ``status`` is ``SUCCESS`` or ``FAILED``
(case-insensitive); ``amount`` is plain decimal at the currency's scale. A UTF-8 byte-order mark
and blank lines are ignored. Anything else raises :class:`ChannelFileError` naming the line
number (1 is the header) and the column: the whole file is refused, nothing is booked.
"""

from __future__ import annotations

import csv
import enum
import io
from typing import Any

import attrs

from loancore.errors import InvalidInput, LoancoreError
from loancore.money import Money
from loancore.settlement.model import SettlementBatch

__all__ = [
    "PAYOUT_COLUMNS",
    "RESULT_COLUMNS_REQUIRED",
    "RESULT_ROWS_MAX",
    "ChannelFileError",
    "PayoutStatus",
    "ResultRow",
    "parse_result_csv",
    "payout_csv",
]

PAYOUT_COLUMNS = (
    "batch_id", "line_id", "merchant_id", "payee_account", "amount", "currency", "value_date",
)  # fmt: skip
RESULT_COLUMNS_REQUIRED = ("batch_id", "line_id", "amount", "status")
RESULT_ROWS_MAX = 2_000_000
"""Most rows one result file may hold."""
_FIELD_LENGTH_MAX = 200


class ChannelFileError(InvalidInput):
    """A malformed channel file: ``line_number`` (1 is the header) and the column are named."""

    def __init__(self, line_number: int, column: str, value: Any, reason: str) -> None:
        self.line_number = line_number
        self.column = column
        super().__init__(f"line {line_number}.{column}", value, reason)


class PayoutStatus(str, enum.Enum):
    """A line's outcome in the channel's result file (persisted by value)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


@attrs.frozen(kw_only=True)
class ResultRow:
    """One parsed row of a result file, with its ``line_number`` in the file."""

    line_number: int
    batch_id: str
    line_id: str
    amount: Money
    status: PayoutStatus
    channel_ref: str = ""
    reason: str = ""


def payout_csv(batch: SettlementBatch) -> str:
    """The payout file of ``batch`` (module docstring): header, then one row per instruction."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PAYOUT_COLUMNS)
    for item in sorted(batch.instructions, key=lambda i: i.line_id):
        writer.writerow(
            (
                item.batch_id,
                item.line_id,
                item.merchant_id,
                item.payee_account,
                str(item.amount.amount),
                item.amount.currency,
                item.value_date.isoformat(),
            )
        )
    return out.getvalue()


def _header(reader: Any, text: str) -> dict[str, int]:
    try:
        header = next(reader)
    except StopIteration:
        raise ChannelFileError(1, "header", text[:80], "empty file; expected a header") from None
    names = [name.strip().lower() for name in header]
    missing = [name for name in RESULT_COLUMNS_REQUIRED if name not in names]
    if missing:
        raise ChannelFileError(1, "header", header, f"missing columns {missing}")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ChannelFileError(1, "header", header, f"columns named twice: {duplicated}")
    return {name: position for position, name in enumerate(names)}


def _cell(row: list[str], columns: dict[str, int], name: str, number: int) -> str:
    position = columns.get(name)
    if position is None:
        return ""
    value = row[position].strip()
    if len(value) > _FIELD_LENGTH_MAX or "\x00" in value:
        raise ChannelFileError(number, name, value, f"at most {_FIELD_LENGTH_MAX} characters")
    return value


def _row(row: list[str], columns: dict[str, int], number: int, currency: str) -> ResultRow:
    if len(row) != len(columns):
        raise ChannelFileError(number, "row", row, f"expected {len(columns)} columns")
    cells = {name: _cell(row, columns, name, number) for name in
             ("batch_id", "line_id", "amount", "status", "channel_ref", "reason")}  # fmt: skip
    for name in ("batch_id", "line_id"):
        if not cells[name]:
            raise ChannelFileError(number, name, cells[name], "must not be empty")
    try:
        amount = Money(cells["amount"], currency)
    except LoancoreError as error:
        raise ChannelFileError(number, "amount", cells["amount"], str(error)) from None
    if not amount.is_positive():
        raise ChannelFileError(number, "amount", cells["amount"], "must be positive")
    try:
        status = PayoutStatus(cells["status"].upper())
    except ValueError:
        raise ChannelFileError(number, "status", cells["status"], "expected SUCCESS or FAILED")
    return ResultRow(
        line_number=number, batch_id=cells["batch_id"], line_id=cells["line_id"], amount=amount,
        status=status, channel_ref=cells["channel_ref"], reason=cells["reason"],
    )  # fmt: skip


def parse_result_csv(text: str, *, currency: str = "CNY") -> tuple[ResultRow, ...]:
    """Every row of a channel result file (module docstring), or :class:`ChannelFileError`."""
    if not isinstance(text, str):
        raise InvalidInput("text", text, "expected the file's text as str")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        columns = _header(reader, text)
        rows: list[ResultRow] = []
        for row in reader:
            if len(rows) >= RESULT_ROWS_MAX:
                raise ChannelFileError(
                    reader.line_num, "row", "...", f"over {RESULT_ROWS_MAX} rows"
                )
            if not row or all(not cell.strip() for cell in row):
                continue
            rows.append(_row(row, columns, reader.line_num, currency))
    except csv.Error as error:
        raise ChannelFileError(reader.line_num, "row", "", f"not valid CSV: {error}") from None
    return tuple(rows)
