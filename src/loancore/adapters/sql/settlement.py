"""SqlSettlementStore: settlement on SQLite and PostgreSQL (component ``settlement``).

The tables are in :mod:`loancore.adapters.sql.settlement_schema` (docs/storage.md,
"Settlement"). A capture or deduction row is pending while ``settled_by`` is NULL; saving a
batch sets it to the batch id with ``UPDATE ... WHERE settled_by IS NULL`` and then counts the
rows the batch settled, so an order settled by two batches (two writers racing on PostgreSQL)
fails the second with :class:`~loancore.errors.InvariantViolation` and stores nothing of it;
the batch id's primary key does the same for a date run twice. A batch is stored as rows
(lines with their amounts and status) and read back equal to the saved value: its orders,
deductions and retries are found by ``settled_by`` / ``paid_by``. Each write runs in a
SAVEPOINT when the store is given a Connection (a unit of work).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loancore.adapters.memory.settlement import (
    check_batch,
    check_commission,
    check_items,
    check_joint,
    check_period,
    check_record,
    check_terms,
    merchant_view,
    new_statuses,
)
from loancore.adapters.sql.base import (
    Bind,
    check_bind,
    ensure_schema,
    read_connection,
    write_transaction,
)
from loancore.adapters.sql.settlement_schema import (
    BATCHES,
    CARRY,
    DEDUCTIONS,
    FILES,
    JOINT_SHARES,
    LINES,
    LOAN_COMMISSIONS,
    ORDERS,
    RETRIES,
    SETTLEMENT_COMPONENT,
    SETTLEMENT_MIGRATIONS,
    SETTLEMENT_SCHEMA_VERSION,
    SETTLEMENT_TABLES,
    TERMS,
    decode_commission,
    decode_record,
    decode_terms,
    encode_commission,
    encode_record,
    encode_terms,
)
from loancore.checks import require_id
from loancore.errors import IdempotencyConflict, InvalidInput, InvariantViolation
from loancore.money import Money
from loancore.settlement import (
    Capture,
    CarryForward,
    CommissionTerms,
    Deduction,
    FundingShare,
    MerchantTerms,
    PaymentInstruction,
    Retry,
    SettlementBatch,
    SettlementLine,
)
from loancore.settlement.records import ChannelFileRecord, LineStatus, SettlementInputs

__all__ = ["SqlSettlementStore"]

CHUNK = 500
"""Ids per ``IN (...)`` list: well under SQLite's and PostgreSQL's bound-parameter limits."""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):  # bounded by len(items)
        yield items[start : start + size]


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SqlSettlementStore:
    """``SqlSettlementStore(bind)``: the settlement component on an Engine or a Connection
    (module docstring). ``create_schema=False`` skips the schema check (the unit of work did it
    once)."""

    def __init__(self, bind: Bind, *, create_schema: bool = True) -> None:
        check_bind(bind)
        self._bind = bind
        if create_schema:
            ensure_schema(
                bind,
                SETTLEMENT_COMPONENT,
                SETTLEMENT_SCHEMA_VERSION,
                SETTLEMENT_TABLES,
                migrations=SETTLEMENT_MIGRATIONS,
            )

    # -- writes -----------------------------------------------------------------------------------

    def save_terms(self, channel: str, terms: MerchantTerms) -> None:
        check_terms(channel, terms)
        row = {"channel": channel, "currency": terms.currency, "document": encode_terms(terms)}
        with write_transaction(self._bind) as connection:
            where = TERMS.c.merchant_id == terms.merchant_id
            if connection.execute(sa.select(TERMS.c.merchant_id).where(where)).first():
                connection.execute(TERMS.update().where(where).values(**row))
            else:
                connection.execute(TERMS.insert().values(merchant_id=terms.merchant_id, **row))

    def add_captures(self, captures: Sequence[Capture]) -> None:
        items: tuple[Capture, ...] = check_items("captures", captures, Capture)  # type: ignore[assignment]
        rows = [
            {"order_id": c.order_id, "merchant_id": c.merchant_id,
             "amount": c.amount.minor_units, "currency": c.amount.currency,
             "captured_at": c.captured_at.isoformat()}
            for c in items
        ]  # fmt: skip
        self._add("captures", ORDERS, ORDERS.c.order_id, "order_id", rows)

    def add_deductions(self, deductions: Sequence[Deduction]) -> None:
        items: tuple[Deduction, ...] = check_items("deductions", deductions, Deduction)  # type: ignore[assignment]
        rows = [
            {"deduction_id": d.deduction_id, "kind": d.kind.value, "merchant_id": d.merchant_id,
             "order_id": d.order_id, "amount": d.amount.minor_units,
             "currency": d.amount.currency, "occurred_at": d.occurred_at.isoformat()}
            for d in items
        ]  # fmt: skip
        self._add("deductions", DEDUCTIONS, DEDUCTIONS.c.deduction_id, "deduction_id", rows)

    def _add(
        self, field: str, table: sa.Table, key: sa.Column[str], name: str,
        rows: list[dict[str, Any]],
    ) -> None:  # fmt: skip
        columns = [table.c[column] for column in rows[0]] if rows else []
        with write_transaction(self._bind) as connection:
            self._check_merchants(connection, field, rows)
            new: list[dict[str, Any]] = []
            for chunk in _chunks(rows):
                ids = [row[name] for row in chunk]
                found = connection.execute(sa.select(*columns).where(key.in_(ids)))
                stored = {r._mapping[name]: dict(r._mapping) for r in found}
                for row in chunk:
                    before = stored.get(row[name])
                    if before is None:
                        new.append(row)
                    elif before != row:
                        raise IdempotencyConflict(row[name], f"a different {name} is stored")
            if new:
                connection.execute(table.insert(), new)

    @staticmethod
    def _check_merchants(connection: Connection, field: str, rows: list[dict[str, Any]]) -> None:
        merchants = sorted({row["merchant_id"] for row in rows})
        known: set[str] = set()
        for chunk in _chunks(merchants):
            query = sa.select(TERMS.c.merchant_id).where(TERMS.c.merchant_id.in_(chunk))
            known.update(connection.execute(query).scalars())
        for i, row in enumerate(rows):
            if row["merchant_id"] not in known:
                raise InvalidInput(f"{field}[{i}].merchant_id", row["merchant_id"], "no terms")

    def save_batch(self, batch: SettlementBatch) -> None:
        check_batch(batch)
        try:
            self._save_batch(batch)
        except sa.exc.IntegrityError as error:  # the SAVEPOINT is rolled back by now
            # PostgreSQL: another unit of work stored this batch id (or one of its line ids)
            # between our read and our insert; its commit wins, this run stores nothing.
            raise IdempotencyConflict(
                batch.batch_id, "another run stored this batch first; run the date again"
            ) from error

    def _save_batch(self, batch: SettlementBatch) -> None:
        with write_transaction(self._bind) as connection:
            stored = self._batches(connection, BATCHES.c.batch_id == batch.batch_id)
            if stored:
                if stored[0] != batch:
                    raise IdempotencyConflict(batch.batch_id, "a different batch has this id")
                return
            connection.execute(
                BATCHES.insert().values(
                    batch_id=batch.batch_id, channel=batch.channel, run_date=batch.run_date,
                    currency=batch.currency,
                )
            )  # fmt: skip
            line_ids = [line.line_id for line in batch.lines]
            for chunk in _chunks(line_ids):
                query = sa.select(LINES.c.line_id).where(LINES.c.line_id.in_(chunk)).limit(1)
                taken = connection.execute(query).scalar_one_or_none()
                if taken is not None:
                    raise InvariantViolation(f"batch line {taken} is stored already")
            if batch.lines:
                statuses = new_statuses(batch)
                rows = [_line_row(batch, line, statuses[line.line_id]) for line in batch.lines]
                connection.execute(LINES.insert(), rows)
            self._settle(connection, batch)
            merchants = [line.merchant_id for line in batch.lines]
            for chunk in _chunks(merchants):
                connection.execute(CARRY.delete().where(CARRY.c.merchant_id.in_(chunk)))
            carried = [
                {"merchant_id": line.merchant_id, "currency": batch.currency,
                 "balance": line.carried_out.minor_units}
                for line in batch.lines if not line.carried_out.is_zero()
            ]  # fmt: skip
            if carried:
                connection.execute(CARRY.insert(), carried)

    @staticmethod
    def _settle(connection: Connection, batch: SettlementBatch) -> None:
        """Mark the batch's orders, deductions and retries settled by it; each must be pending
        and the line's merchant's (checked by counting what the batch now holds)."""
        steps = (
            (ORDERS, ORDERS.c.order_id, "order_ids", "settled_by"),
            (DEDUCTIONS, DEDUCTIONS.c.deduction_id, "deduction_ids", "settled_by"),
            (RETRIES, RETRIES.c.line_id, "retried_line_ids", "paid_by"),
        )
        for table, key, attribute, by in steps:
            params = [
                {"k": item, "m": line.merchant_id}
                for line in batch.lines
                for item in getattr(line, attribute)
            ]
            if not params:
                continue
            values: dict[str, Any] = {by: batch.batch_id}
            if by == "settled_by":
                values["settled_on"] = batch.run_date
            update = (
                table.update()
                .where(key == sa.bindparam("k"), table.c.merchant_id == sa.bindparam("m"))
                .where(table.c[by].is_(None))
                .values(**values)
            )
            for chunk in _chunks(params, 50_000):
                connection.execute(update, list(chunk))
            count = sa.select(sa.func.count()).select_from(table)
            done = connection.execute(count.where(table.c[by] == batch.batch_id)).scalar_one()
            if done != len(params):
                raise InvariantViolation(
                    f"batch {batch.batch_id}: {len(params) - done} of its {attribute} are not "
                    "pending (unknown, another merchant's, or settled by another batch)"
                )

    def save_file(self, record: ChannelFileRecord) -> None:
        check_record(record)
        with write_transaction(self._bind) as connection:
            stored = self._file(connection, record.file_id)
            if stored is not None:
                if stored != record:
                    raise IdempotencyConflict(record.file_id, "a different file has this id")
                return
            answered = [i.line_id for i in (*record.confirmed, *record.failed)]
            statuses: dict[str, str] = {}
            for chunk in _chunks(answered):
                query = sa.select(LINES.c.line_id, LINES.c.status).where(LINES.c.line_id.in_(chunk))
                statuses.update({r.line_id: r.status for r in connection.execute(query)})
            for line_id in answered:
                if statuses.get(line_id) != LineStatus.INSTRUCTED.value:
                    raise InvariantViolation(f"line {line_id} is not awaiting a result")
            set_status = (
                LINES.update()
                .where(LINES.c.line_id == sa.bindparam("k"))
                .values(status=sa.bindparam("s"))
            )
            params = [{"k": i.line_id, "s": LineStatus.CONFIRMED.value} for i in record.confirmed]
            params += [{"k": i.line_id, "s": LineStatus.FAILED.value} for i in record.failed]
            if params:
                connection.execute(set_status, params)
            if record.failed:
                connection.execute(
                    RETRIES.insert(),
                    [{"line_id": i.line_id, "merchant_id": i.merchant_id,
                      "amount": i.amount.minor_units, "currency": i.amount.currency}
                     for i in record.failed],
                )  # fmt: skip
            connection.execute(
                FILES.insert().values(
                    file_id=record.file_id, digest=record.digest, booked_on=record.booked_on,
                    document=encode_record(record),
                )
            )  # fmt: skip

    def save_joint(self, loan_id: str, shares: Sequence[FundingShare]) -> None:
        checked = check_joint(loan_id, shares)
        with write_transaction(self._bind) as connection:
            stored = self._joint(connection, [loan_id]).get(loan_id)
            if stored is not None:
                if stored != checked:
                    raise IdempotencyConflict(loan_id, "the loan's funders are stored otherwise")
                return
            rows = [
                {"loan_id": loan_id, "position": n, "funder_id": share.funder_id,
                 "kind": share.kind.value, "ratio": str(share.ratio)}
                for n, share in enumerate(checked)
            ]  # fmt: skip
            connection.execute(JOINT_SHARES.insert(), rows)

    def save_loan_commission(self, loan_id: str, terms: CommissionTerms) -> None:
        check_commission(loan_id, terms)
        document = encode_commission(terms)
        with write_transaction(self._bind) as connection:
            where = LOAN_COMMISSIONS.c.loan_id == loan_id
            stored = connection.execute(sa.select(LOAN_COMMISSIONS.c.document).where(where))
            found = stored.scalar_one_or_none()
            if found is not None:
                if found != document:
                    raise IdempotencyConflict(loan_id, "the loan's commission is stored otherwise")
                return
            connection.execute(
                LOAN_COMMISSIONS.insert().values(
                    loan_id=loan_id, platform_id=terms.platform_id, document=document
                )
            )

    # -- reads ------------------------------------------------------------------------------------

    def channel_terms(self, channel: str) -> Mapping[str, MerchantTerms]:
        with read_connection(self._bind) as connection:
            return self._terms(connection, channel)

    @staticmethod
    def _terms(connection: Connection, channel: str) -> dict[str, MerchantTerms]:
        query = (
            sa.select(TERMS.c.merchant_id, TERMS.c.document)
            .where(TERMS.c.channel == channel)
            .order_by(TERMS.c.merchant_id)
        )
        rows = connection.execute(query)
        return {r.merchant_id: decode_terms(r.merchant_id, r.document) for r in rows}

    def pending(self, channel: str) -> SettlementInputs:
        on_channel = sa.select(TERMS.c.merchant_id).where(TERMS.c.channel == channel)
        with read_connection(self._bind) as connection:
            terms = self._terms(connection, channel)
            captures = connection.execute(
                sa.select(ORDERS.c.order_id, ORDERS.c.merchant_id, ORDERS.c.amount,
                          ORDERS.c.currency, ORDERS.c.captured_at)
                .where(ORDERS.c.settled_by.is_(None), ORDERS.c.merchant_id.in_(on_channel))
                .order_by(ORDERS.c.order_id)
            ).all()  # fmt: skip
            deductions = connection.execute(
                sa.select(DEDUCTIONS)
                .where(DEDUCTIONS.c.settled_by.is_(None), DEDUCTIONS.c.merchant_id.in_(on_channel))
                .order_by(DEDUCTIONS.c.deduction_id)
            ).all()
            carry = connection.execute(
                sa.select(CARRY).where(CARRY.c.merchant_id.in_(on_channel))
                .order_by(CARRY.c.merchant_id)
            ).all()  # fmt: skip
            retries = connection.execute(
                sa.select(RETRIES)
                .where(RETRIES.c.paid_by.is_(None), RETRIES.c.merchant_id.in_(on_channel))
                .order_by(RETRIES.c.line_id)
            ).all()
        return SettlementInputs(
            terms=terms.values(),
            captures=[_capture(row) for row in captures],
            deductions=[_deduction(row) for row in deductions],
            carry_forward=[
                CarryForward(merchant_id=r.merchant_id, balance=Money.from_minor(r.balance, r.currency))
                for r in carry
            ],
            retries=[
                Retry(line_id=r.line_id, merchant_id=r.merchant_id,
                      amount=Money.from_minor(r.amount, r.currency))
                for r in retries
            ],
        )  # fmt: skip

    def batch(self, batch_id: str) -> SettlementBatch | None:
        with read_connection(self._bind) as connection:
            found = self._batches(connection, BATCHES.c.batch_id == batch_id)
        return found[0] if found else None

    def line_statuses(self, batch_id: str) -> Mapping[str, LineStatus]:
        query = (
            sa.select(LINES.c.line_id, LINES.c.status)
            .where(LINES.c.batch_id == batch_id)
            .order_by(LINES.c.line_id)
        )
        with read_connection(self._bind) as connection:
            return {r.line_id: LineStatus(r.status) for r in connection.execute(query)}

    def merchant_batches(
        self, merchant_id: str, period_start: datetime.date, period_end: datetime.date
    ) -> tuple[SettlementBatch, ...]:
        check_period(period_start, period_end)
        where = sa.and_(BATCHES.c.run_date >= period_start, BATCHES.c.run_date <= period_end)
        with read_connection(self._bind) as connection:
            found = self._batches(connection, where, merchant_id=merchant_id)
        views = (merchant_view(b, merchant_id) for b in found)
        return tuple(v for v in views if v is not None)

    def _batches(
        self, connection: Connection, where: Any, *, merchant_id: str | None = None
    ) -> list[SettlementBatch]:
        """The batches matching ``where`` by run date (only ``merchant_id``'s lines if given):
        four reads whatever the number of batches (heads, lines, then the members by batch)."""
        heads = connection.execute(
            sa.select(BATCHES).where(where).order_by(BATCHES.c.run_date, BATCHES.c.batch_id)
        ).all()
        if not heads:
            return []
        chosen = sa.select(BATCHES.c.batch_id).where(where)
        query = sa.select(LINES).where(LINES.c.batch_id.in_(chosen))
        if merchant_id is not None:
            query = query.where(LINES.c.merchant_id == merchant_id)
        rows_by_batch: dict[str, list[Any]] = {}
        for row in connection.execute(query):  # bounded by the batches' lines
            rows_by_batch.setdefault(row.batch_id, []).append(row)
        members = _members(connection, chosen, merchant_id)
        batches = []
        for head in heads:  # bounded by the batches in the period
            mine = members.get(head.batch_id, {})
            lines = sorted(
                (_line(row, head.currency, mine) for row in rows_by_batch.get(head.batch_id, ())),
                key=lambda x: x.merchant_id,
            )
            batches.append(_batch(head, lines))
        return batches

    def file(self, file_id: str) -> ChannelFileRecord | None:
        with read_connection(self._bind) as connection:
            return self._file(connection, file_id)

    @staticmethod
    def _file(connection: Connection, file_id: str) -> ChannelFileRecord | None:
        row = connection.execute(sa.select(FILES).where(FILES.c.file_id == file_id)).first()
        if row is None:
            return None
        return decode_record(row.file_id, row.digest, row.booked_on, row.document)

    def merchant_channel(self, merchant_id: str) -> str | None:
        require_id("merchant_id", merchant_id)
        query = sa.select(TERMS.c.channel).where(TERMS.c.merchant_id == merchant_id)
        with read_connection(self._bind) as connection:
            found: str | None = connection.execute(query).scalar_one_or_none()
        return found

    def joint_shares(self, loan_ids: Sequence[str]) -> Mapping[str, tuple[FundingShare, ...]]:
        with read_connection(self._bind) as connection:
            return self._joint(connection, sorted(set(loan_ids)))

    @staticmethod
    def _joint(
        connection: Connection, loan_ids: Sequence[str]
    ) -> dict[str, tuple[FundingShare, ...]]:
        found: dict[str, list[FundingShare]] = {}
        for chunk in _chunks(loan_ids):
            query = (
                sa.select(JOINT_SHARES)
                .where(JOINT_SHARES.c.loan_id.in_(chunk))
                .order_by(JOINT_SHARES.c.loan_id, JOINT_SHARES.c.position)
            )
            for row in connection.execute(query):
                share = FundingShare(funder_id=row.funder_id, kind=row.kind, ratio=row.ratio)
                found.setdefault(row.loan_id, []).append(share)
        return {loan_id: tuple(shares) for loan_id, shares in found.items()}

    def loan_commissions(self, loan_ids: Sequence[str]) -> Mapping[str, CommissionTerms]:
        found: dict[str, CommissionTerms] = {}
        with read_connection(self._bind) as connection:
            for chunk in _chunks(sorted(set(loan_ids))):
                query = sa.select(LOAN_COMMISSIONS.c.loan_id, LOAN_COMMISSIONS.c.document).where(
                    LOAN_COMMISSIONS.c.loan_id.in_(chunk)
                )
                for row in connection.execute(query):
                    found[row.loan_id] = decode_commission(row.document)
        return found

    def carry_forward(self, merchant_id: str, currency: str) -> Money:
        query = sa.select(CARRY.c.balance).where(CARRY.c.merchant_id == merchant_id)
        with read_connection(self._bind) as connection:
            found = connection.execute(query).scalar_one_or_none()
        return Money.from_minor(found or 0, currency)

    def merchant_payable(self, merchant_id: str, currency: str) -> Money:
        require_id("merchant_id", merchant_id)

        def total(table: sa.Table, *where: Any) -> Any:
            query = sa.select(sa.func.coalesce(sa.func.sum(table.c.amount), 0))
            return query.where(table.c.merchant_id == merchant_id, *where).scalar_subquery()

        query = sa.select(
            total(ORDERS, ORDERS.c.settled_by.is_(None)),
            total(DEDUCTIONS, DEDUCTIONS.c.settled_by.is_(None)),
            total(RETRIES, RETRIES.c.paid_by.is_(None)),
        )
        with read_connection(self._bind) as connection:
            captured, deducted, retried = connection.execute(query).one()
        minor = int(captured) - int(deducted) + int(retried)
        return Money.from_minor(minor, currency) + self.carry_forward(merchant_id, currency)


# -- rows <-> values -------------------------------------------------------------------------------


def _capture(row: Any) -> Capture:
    return Capture(
        order_id=row.order_id,
        merchant_id=row.merchant_id,
        amount=Money.from_minor(row.amount, row.currency),
        captured_at=datetime.datetime.fromisoformat(row.captured_at),
    )


def _deduction(row: Any) -> Deduction:
    return Deduction(
        deduction_id=row.deduction_id,
        kind=row.kind,
        merchant_id=row.merchant_id,
        order_id=row.order_id,
        amount=Money.from_minor(row.amount, row.currency),
        occurred_at=datetime.datetime.fromisoformat(row.occurred_at),
    )


_AMOUNTS = (
    "captured", "fees", "refunded", "charged_back", "carried_in", "retried", "payment",
    "carried_out",
)  # fmt: skip


def _line_row(batch: SettlementBatch, line: SettlementLine, status: LineStatus) -> dict[str, Any]:
    row: dict[str, Any] = {
        "line_id": line.line_id, "batch_id": batch.batch_id, "merchant_id": line.merchant_id,
        "payee_account": line.payee_account,
        "status": status.value,
    }  # fmt: skip
    row.update({name: getattr(line, name).minor_units for name in _AMOUNTS})
    return row


Members = dict[str, dict[str, list[str]]]  # merchant -> {"order_ids": [...], ...}


def _members(connection: Connection, batch_ids: Any, merchant_id: str | None) -> dict[str, Members]:
    """Per batch of ``batch_ids`` (a sub-query), per merchant, the ids of the orders,
    deductions and retries the batch settled."""
    members: dict[str, Members] = {}
    sources = (
        ("order_ids", ORDERS.c.order_id, ORDERS.c.merchant_id, ORDERS.c.settled_by),
        ("deduction_ids", DEDUCTIONS.c.deduction_id, DEDUCTIONS.c.merchant_id,
         DEDUCTIONS.c.settled_by),
        ("retried_line_ids", RETRIES.c.line_id, RETRIES.c.merchant_id, RETRIES.c.paid_by),
    )  # fmt: skip
    for name, key, merchant, by in sources:
        query = sa.select(by, merchant, key).where(by.in_(batch_ids))
        if merchant_id is not None:
            query = query.where(merchant == merchant_id)
        for batch_id, owner, item in connection.execute(query):  # bounded by the batches
            batch = members.setdefault(batch_id, {})
            batch.setdefault(owner, {}).setdefault(name, []).append(item)
    return members


def _line(row: Any, currency: str, members: Members) -> SettlementLine:
    mine = members.get(row.merchant_id, {})
    amounts = {name: Money.from_minor(getattr(row, name), currency) for name in _AMOUNTS}
    return SettlementLine(
        line_id=row.line_id,
        merchant_id=row.merchant_id,
        payee_account=row.payee_account,
        order_ids=sorted(mine.get("order_ids", ())),
        deduction_ids=sorted(mine.get("deduction_ids", ())),
        retried_line_ids=sorted(mine.get("retried_line_ids", ())),
        **amounts,
    )


def _batch(head: Any, lines: list[SettlementLine]) -> SettlementBatch:
    instructions = [
        PaymentInstruction(
            batch_id=head.batch_id,
            line_id=line.line_id,
            merchant_id=line.merchant_id,
            payee_account=line.payee_account,
            amount=line.payment,
            value_date=head.run_date,
        )
        for line in lines
        if line.payment.is_positive()
    ]
    return SettlementBatch(
        batch_id=head.batch_id,
        channel=head.channel,
        run_date=head.run_date,
        currency=head.currency,
        lines=lines,
        instructions=instructions,
    )
