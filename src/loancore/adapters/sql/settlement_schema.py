"""The settlement component's tables (version :data:`SETTLEMENT_SCHEMA_VERSION`) and the JSON
codec of the values kept whole (merchant terms, an imported file's outcome).

Amounts are BIGINT integer minor units beside a CHAR(3) currency; local datetimes (a capture's
``captured_at``) are ISO-8601 text, which sorts like the datetime; docs/storage.md, "Settlement",
describes each table.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loancore.adapters.sql.base import METADATA, MigrationStep, amount_column, binary_text
from loancore.adapters.sql.base import currency_column as _currency
from loancore.calendar import Roll
from loancore.money import Money, Rounding
from loancore.settlement import (
    CommissionTerms,
    MerchantTerms,
    Mismatch,
    MismatchKind,
    PaymentInstruction,
    ServiceFee,
    SettlementSchedule,
)
from loancore.settlement.records import ChannelFileRecord

__all__ = [
    "BATCHES",
    "CARRY",
    "DEDUCTIONS",
    "FILES",
    "JOINT_SHARES",
    "LINES",
    "LOAN_COMMISSIONS",
    "ORDERS",
    "RETRIES",
    "SETTLEMENT_COMPONENT",
    "SETTLEMENT_MIGRATIONS",
    "SETTLEMENT_SCHEMA_VERSION",
    "SETTLEMENT_TABLES",
    "TERMS",
    "decode_commission",
    "decode_record",
    "decode_terms",
    "encode_commission",
    "encode_record",
    "encode_terms",
]

SETTLEMENT_COMPONENT = "settlement"
SETTLEMENT_SCHEMA_VERSION = 2
"""1: terms, orders, deductions, batches, lines, carry-forward, retries, files; 2: the joint
loans' funders (``settlement_joint_shares``) and the loans' platform commissions
(``settlement_loan_commissions``)."""

TEXT_ID = binary_text()
LOCAL_DATETIME = sa.String(32)

TERMS = sa.Table(
    "settlement_terms",
    METADATA,
    sa.Column("merchant_id", TEXT_ID, primary_key=True),
    sa.Column("channel", TEXT_ID, nullable=False, index=True),
    _currency(),
    sa.Column("document", sa.Text, nullable=False),
)

ORDERS = sa.Table(
    "settlement_orders",
    METADATA,
    sa.Column("order_id", TEXT_ID, primary_key=True),
    sa.Column("merchant_id", TEXT_ID, nullable=False, index=True),
    amount_column("amount"),
    _currency(),
    sa.Column("captured_at", LOCAL_DATETIME, nullable=False),
    sa.Column("settled_by", TEXT_ID, nullable=True, index=True),  # batch id; NULL: pending
    sa.Column("settled_on", sa.Date, nullable=True),
)

DEDUCTIONS = sa.Table(
    "settlement_deductions",
    METADATA,
    sa.Column("deduction_id", TEXT_ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("merchant_id", TEXT_ID, nullable=False, index=True),
    sa.Column("order_id", TEXT_ID, nullable=False),
    amount_column("amount"),
    _currency(),
    sa.Column("occurred_at", LOCAL_DATETIME, nullable=False),
    sa.Column("settled_by", TEXT_ID, nullable=True, index=True),
    sa.Column("settled_on", sa.Date, nullable=True),
)

BATCHES = sa.Table(
    "settlement_batches",
    METADATA,
    sa.Column("batch_id", TEXT_ID, primary_key=True),
    sa.Column("channel", TEXT_ID, nullable=False),
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    _currency(),
)

_LINE_AMOUNTS = (
    "captured", "fees", "refunded", "charged_back", "carried_in", "retried", "payment",
    "carried_out",
)  # fmt: skip

LINES = sa.Table(
    "settlement_lines",
    METADATA,
    sa.Column("line_id", TEXT_ID, primary_key=True),
    sa.Column("batch_id", TEXT_ID, nullable=False, index=True),
    sa.Column("merchant_id", TEXT_ID, nullable=False, index=True),
    sa.Column("payee_account", TEXT_ID, nullable=False),
    *(amount_column(name) for name in _LINE_AMOUNTS),
    sa.Column("status", sa.String(16), nullable=False),
)

CARRY = sa.Table(
    "settlement_carry",
    METADATA,
    sa.Column("merchant_id", TEXT_ID, primary_key=True),
    _currency(),
    amount_column("balance"),
)

RETRIES = sa.Table(
    "settlement_retries",
    METADATA,
    sa.Column("line_id", TEXT_ID, primary_key=True),  # the failed line
    sa.Column("merchant_id", TEXT_ID, nullable=False, index=True),
    amount_column("amount"),
    _currency(),
    sa.Column("paid_by", TEXT_ID, nullable=True),  # the batch that paid it again; NULL: pending
)

FILES = sa.Table(
    "settlement_files",
    METADATA,
    sa.Column("file_id", TEXT_ID, primary_key=True),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("booked_on", sa.Date, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

JOINT_SHARES = sa.Table(
    "settlement_joint_shares",
    METADATA,
    sa.Column("loan_id", TEXT_ID, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # the share's place in the loan's list
    sa.Column("funder_id", TEXT_ID, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("ratio", sa.String(40), nullable=False),  # the exact Decimal, as text
)

LOAN_COMMISSIONS = sa.Table(
    "settlement_loan_commissions",
    METADATA,
    sa.Column("loan_id", TEXT_ID, primary_key=True),
    sa.Column("platform_id", TEXT_ID, nullable=False, index=True),
    sa.Column("document", sa.Text, nullable=False),  # encode_commission
)

SETTLEMENT_TABLES = (
    TERMS, ORDERS, DEDUCTIONS, BATCHES, LINES, CARRY, RETRIES, FILES, JOINT_SHARES,
    LOAN_COMMISSIONS,
)  # fmt: skip


def _add_joint_shares(connection: sa.engine.Connection) -> None:
    """Version 1 -> 2: the joint loans' funders and the loans' platform commissions."""
    METADATA.create_all(connection, tables=[JOINT_SHARES, LOAN_COMMISSIONS], checkfirst=True)


SETTLEMENT_MIGRATIONS: dict[int, MigrationStep] = {1: _add_joint_shares}


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_commission(terms: CommissionTerms) -> str:
    """Canonical JSON of a platform's commission terms (the rate as decimal text, a fixed fee
    in minor units)."""
    return _dump({
        "platform_id": terms.platform_id, "basis": terms.basis.value,
        "rounding": terms.rounding.name, "currency": terms.currency, "rate": str(terms.rate),
        "fixed": None if terms.fixed is None else terms.fixed.minor_units,
    })  # fmt: skip


def decode_commission(document: str) -> CommissionTerms:
    data = json.loads(document)
    fixed = data["fixed"]
    return CommissionTerms(
        platform_id=data["platform_id"], basis=data["basis"],
        rounding=Rounding[data["rounding"]], currency=data["currency"],
        rate=Decimal(data["rate"]),
        fixed=None if fixed is None else Money.from_minor(fixed, data["currency"]),
    )  # fmt: skip


def encode_terms(terms: MerchantTerms) -> str:
    """Canonical JSON of ``terms`` (amounts in minor units, the rate as decimal text)."""
    schedule, fee = terms.schedule, terms.fee
    return _dump({
        "schedule": {
            "cadence": schedule.cadence.value, "lag_days": schedule.lag_days,
            "weekday": schedule.weekday, "business_day_nth": schedule.business_day_nth,
            "roll": schedule.roll.value,
        },
        "fee": {
            "rate": str(fee.rate), "rounding": fee.rounding.name,
            "fee_min": fee.fee_min.minor_units,
            "fee_max": None if fee.fee_max is None else fee.fee_max.minor_units,
        },
        "currency": terms.currency,
        "cutoff": None if terms.cutoff is None else terms.cutoff.isoformat(),
        "payee_account": terms.payee_account,
    })  # fmt: skip


def decode_terms(merchant_id: str, document: str) -> MerchantTerms:
    data = json.loads(document)
    currency, schedule, fee = data["currency"], data["schedule"], data["fee"]
    fee_max = fee["fee_max"]
    cutoff = data["cutoff"]
    return MerchantTerms(
        merchant_id=merchant_id,
        schedule=SettlementSchedule(
            cadence=schedule["cadence"], lag_days=schedule["lag_days"],
            weekday=schedule["weekday"], business_day_nth=schedule["business_day_nth"],
            roll=Roll(schedule["roll"]),
        ),
        fee=ServiceFee(
            rate=Decimal(fee["rate"]), rounding=Rounding[fee["rounding"]],
            fee_min=Money.from_minor(fee["fee_min"], currency),
            fee_max=None if fee_max is None else Money.from_minor(fee_max, currency),
        ),
        cutoff=None if cutoff is None else datetime.time.fromisoformat(cutoff),
        payee_account=data["payee_account"],
    )  # fmt: skip


def _instruction(i: PaymentInstruction) -> dict[str, Any]:
    return {
        "batch_id": i.batch_id, "line_id": i.line_id, "merchant_id": i.merchant_id,
        "payee_account": i.payee_account, "amount": i.amount.minor_units,
        "currency": i.amount.currency, "value_date": i.value_date.isoformat(),
    }  # fmt: skip


def _from_instruction(data: dict[str, Any]) -> PaymentInstruction:
    return PaymentInstruction(
        batch_id=data["batch_id"], line_id=data["line_id"], merchant_id=data["merchant_id"],
        payee_account=data["payee_account"],
        amount=Money.from_minor(data["amount"], data["currency"]),
        value_date=datetime.date.fromisoformat(data["value_date"]),
    )  # fmt: skip


def encode_record(record: ChannelFileRecord) -> str:
    """Canonical JSON of an imported file's outcome (the row columns are in ``FILES``)."""
    return _dump({
        "confirmed": [_instruction(i) for i in record.confirmed],
        "failed": [_instruction(i) for i in record.failed],
        "mismatches": [
            {"kind": m.kind.value, "line_number": m.line_number, "line_id": m.line_id,
             "detail": m.detail}
            for m in record.mismatches
        ],
    })  # fmt: skip


def decode_record(
    file_id: str, digest: str, booked_on: datetime.date, document: str
) -> ChannelFileRecord:
    data = json.loads(document)
    return ChannelFileRecord(
        file_id=file_id,
        digest=digest,
        booked_on=booked_on,
        confirmed=[_from_instruction(i) for i in data["confirmed"]],
        failed=[_from_instruction(i) for i in data["failed"]],
        mismatches=[
            Mismatch(kind=MismatchKind(m["kind"]), line_number=m["line_number"],
                     line_id=m["line_id"], detail=m["detail"])
            for m in data["mismatches"]
        ],
    )  # fmt: skip
