"""A bank's auto-debit result file (代扣结果文件): its CSV read into payments, and what importing
it did. No IO here: the parser takes the text (or its lines); :meth:`loancore.app.Lender.
import_repayments` applies it, ``loancore repay FILE`` reads the file (docs/servicing.md).

The format: a header row, then one row a debit the channel attempted.

=============  ========  ==============================================================
column         required  meaning
=============  ========  ==============================================================
``loan_id``    yes       the loan debited
``payment_id`` yes       the channel's serial: the payment's idempotency key
``paid_on``    yes       the day the money was taken, ``YYYY-MM-DD``
``amount``     yes       decimal text in the currency's units (``1100.16``), positive
``status``     no        ``success`` (default, also when empty) or ``failed``
``currency``   no        the ISO code; empty or absent: the book's (``CNY``); no other
=============  ========  ==============================================================

Rows are numbered as a spreadsheet shows them: the header is row 1, the first debit row 2. The
whole file is checked before anything is applied: the first bad row raises
:class:`~loancore.errors.InvalidInput` naming ``row N: <column>`` and the value, and nothing is
applied. Cells are taken exactly as written (no spaces trimmed; amounts parsed as Decimal at
the currency's scale, never through a float). A payment id twice in the file, an unknown or
repeated column, a missing required column and a row with more or fewer cells than the header
are refused the same way. ``failed`` rows are checked too, counted and listed, never applied.
"""

from __future__ import annotations

import csv
import enum
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import attrs

from loancore.app.values import Payment
from loancore.checks import parse_iso_date, require_id
from loancore.errors import InvalidInput, InvariantViolation, RejectionCode
from loancore.money import Money, at_scale
from loancore.services import BatchResult

__all__ = [
    "CHUNK_SIZE",
    "COLUMNS_OPTIONAL",
    "COLUMNS_REQUIRED",
    "ROWS_MAX",
    "DebitStatus",
    "FileRow",
    "RefusedPayment",
    "RepaymentFile",
    "RepaymentImport",
    "parse_repayment_file",
    "refused_csv",
    "tally_import",
]

COLUMNS_REQUIRED = ("loan_id", "payment_id", "paid_on", "amount")
COLUMNS_OPTIONAL = ("status", "currency")
CHUNK_SIZE = 1000
"""Payments a unit of work (one :meth:`~loancore.app.Lender.repay_many` call) by default."""
ROWS_MAX = 1_000_000
"""Debit rows a file may hold (a day's file of a large lender is a few hundred thousand)."""
DEFAULT_CURRENCY = "CNY"
REFUSED_COLUMNS = ("row", "loan_id", "payment_id", "paid_on", "amount", "currency", "code",
                   "detail")  # fmt: skip


class DebitStatus(str, enum.Enum):
    """The channel's outcome of a debit, as the file spells it."""

    SUCCESS = "success"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class FileRow:
    """One debit row of the file: its spreadsheet row number, the payment it carries, the
    channel's outcome."""

    row: int
    payment: Payment
    status: DebitStatus = DebitStatus.SUCCESS


@attrs.frozen(kw_only=True)
class RepaymentFile:
    """A checked file: every row, in file order, in the book's ``currency``."""

    rows: tuple[FileRow, ...]
    currency: str = DEFAULT_CURRENCY

    @property
    def payments(self) -> tuple[Payment, ...]:
        """The successful debits, in file order: what is applied."""
        return tuple(r.payment for r in self.rows if r.status is DebitStatus.SUCCESS)

    @property
    def failed(self) -> tuple[FileRow, ...]:
        """The rows the channel reports as failed: never applied."""
        return tuple(r for r in self.rows if r.status is DebitStatus.FAILED)


@attrs.frozen(kw_only=True)
class RefusedPayment:
    """A successful debit that was not booked: servicing's refusal (its
    :class:`~loancore.errors.RejectionCode` and detail) or ``LOAN_UNKNOWN``."""

    row: int
    payment: Payment
    code: RejectionCode
    detail: str


@attrs.frozen(kw_only=True)
class RepaymentImport:
    """What importing a file did: payment ids ``applied`` (booked now) and ``replayed`` (booked
    before, by an earlier import or call with the same payment id: nothing posted), the
    ``refused`` debits, the ``failed`` rows of the file, ``amount_applied`` (the sum of the
    applied payments) and the units of work committed (``chunks``)."""

    applied: tuple[str, ...]
    replayed: tuple[str, ...]
    refused: tuple[RefusedPayment, ...]
    failed: tuple[FileRow, ...]
    amount_applied: Money
    chunks: int

    def refused_by_code(self) -> dict[str, int]:
        """The refused debits counted by code name, by name."""
        return dict(sorted(Counter(r.code.name for r in self.refused).items()))

    def summary(self) -> str:
        """One line: ``applied 3 (3300.48 CNY), replayed 0, refused 1 (LOAN_UNKNOWN 1),
        failed in file 1``."""
        codes = ", ".join(f"{name} {n}" for name, n in self.refused_by_code().items())
        return (
            f"applied {len(self.applied)} ({self.amount_applied}), "
            f"replayed {len(self.replayed)}, refused {len(self.refused)}"
            f"{f' ({codes})' if codes else ''}, failed in file {len(self.failed)}"
        )


def _header(cells: Sequence[str]) -> dict[str, int]:
    names = [cells[0].removeprefix("\ufeff"), *cells[1:]] if cells else []
    known = COLUMNS_REQUIRED + COLUMNS_OPTIONAL
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput("header", ",".join(names), f"unknown column(s) {unknown}")
    repeated = sorted(name for name, n in Counter(names).items() if n > 1)
    if repeated:
        raise InvalidInput("header", ",".join(names), f"repeated column(s) {repeated}")
    missing = [name for name in COLUMNS_REQUIRED if name not in names]
    if missing:
        raise InvalidInput("header", ",".join(names), f"missing required column(s) {missing}")
    return {name: index for index, name in enumerate(names)}


def _status(row: int, text: str) -> DebitStatus:
    try:
        return DebitStatus(text or DebitStatus.SUCCESS.value)
    except ValueError:
        raise InvalidInput(f"row {row}: status", text, "expected success or failed") from None


def _amount(row: int, text: str, currency: str) -> Money:
    field = f"row {row}: amount"
    money = Money(at_scale(text, currency, field=field), currency)
    if not money.is_positive():
        raise InvalidInput(field, text, "expected a positive amount")
    return money


def _row(row: int, cells: Sequence[str], columns: Mapping[str, int], currency: str) -> FileRow:
    if len(cells) != len(columns):
        shown = ",".join(cells)
        raise InvalidInput(
            f"row {row}", shown, f"expected {len(columns)} cells, found {len(cells)}"
        )
    cell = {name: cells[index] for name, index in columns.items()}
    written = cell.get("currency", "")
    if written not in ("", currency):
        detail = f"expected {currency}, the book's currency (one currency a file)"
        raise InvalidInput(f"row {row}: currency", written, detail)
    payment = Payment(
        loan_id=require_id(f"row {row}: loan_id", cell["loan_id"]),
        payment_id=require_id(f"row {row}: payment_id", cell["payment_id"]),
        paid_on=parse_iso_date(f"row {row}: paid_on", cell["paid_on"]),
        amount=_amount(row, cell["amount"], currency),
    )
    return FileRow(row=row, payment=payment, status=_status(row, cell.get("status", "")))


def parse_repayment_file(
    source: str | Iterable[str], *, currency: str = DEFAULT_CURRENCY
) -> RepaymentFile:
    """The file's rows checked (module docstring): ``source`` is the whole text or its lines
    (as a file object yields them, line ends kept); ``currency`` is the book's. Blank lines are
    skipped (still numbered). The first bad row raises InvalidInput naming ``row N: <column>``."""
    Money.zero(currency)  # an unknown currency code: UnknownCurrency naming ``currency``
    lines = io.StringIO(source, newline="") if isinstance(source, str) else source
    records = csv.reader(lines, strict=True)
    rows: list[FileRow] = []
    first_row_of: dict[str, int] = {}
    number = 1  # the record being read, counted as a spreadsheet counts rows
    try:
        columns = _header(next(records, []))
        for number, cells in enumerate(records, start=2):  # bounded by ROWS_MAX below
            if not cells:
                continue
            if len(rows) == ROWS_MAX:
                raise InvalidInput(f"row {number}", "", f"more than {ROWS_MAX} rows a file")
            parsed = _row(number, cells, columns, currency)
            first = first_row_of.setdefault(parsed.payment.payment_id, number)
            if first != number:
                field = f"row {number}: payment_id"
                raise InvalidInput(field, parsed.payment.payment_id, f"repeats row {first}")
            rows.append(parsed)
    except csv.Error as error:  # the record after the last one read is the broken one
        raise InvalidInput(f"row {number + 1}", "", f"not valid CSV: {error}") from None
    return RepaymentFile(rows=tuple(rows), currency=currency)


def tally_import(
    file: RepaymentFile,
    known_loans: frozenset[str],
    results: Sequence[BatchResult],
    refused_apart: Mapping[str, tuple[RejectionCode, str]] | None = None,
) -> RepaymentImport:
    """The import's result from the file, the loan ids found stored, the batches run on the
    payments of those loans and the payments refused on their own (payment id -> code and
    detail: a batch raised for them) (pure: the counting half of
    :meth:`~loancore.app.Lender.import_repayments`)."""
    apart = {} if refused_apart is None else refused_apart
    applied = {event_id for result in results for event_id in result.applied}
    replayed = {event_id for result in results for event_id in result.replayed}
    refusals = {event_id: why for result in results for event_id, why in result.refused}
    done: list[Payment] = []
    refused: list[RefusedPayment] = []
    for row in file.rows:
        payment = row.payment
        if row.status is DebitStatus.FAILED:
            continue
        if payment.loan_id not in known_loans:
            detail = f"loan {payment.loan_id} not found"
            refused.append(RefusedPayment(row=row.row, payment=payment,
                                          code=RejectionCode.LOAN_UNKNOWN, detail=detail))  # fmt: skip
        elif payment.payment_id in apart:
            code, detail = apart[payment.payment_id]
            refused.append(RefusedPayment(row=row.row, payment=payment, code=code, detail=detail))
        elif payment.payment_id in refusals:
            why = refusals[payment.payment_id]
            refused.append(RefusedPayment(row=row.row, payment=payment, code=why.code,
                                          detail=why.detail))  # fmt: skip
        elif payment.payment_id in applied:
            done.append(payment)
        elif payment.payment_id not in replayed:
            raise InvariantViolation(f"payment {payment.payment_id} is in no batch's result")
    total = Money.zero(file.currency)
    for payment in done:  # bounded by ROWS_MAX
        total = total + payment.amount
    return RepaymentImport(
        applied=tuple(p.payment_id for p in done),
        replayed=tuple(p.payment_id for p in file.payments if p.payment_id in replayed),
        refused=tuple(refused),
        failed=file.failed,
        amount_applied=total,
        chunks=len(results),
    )


def refused_csv(result: RepaymentImport) -> str:
    """The refused debits as CSV text (header: row, loan_id, payment_id, paid_on, amount,
    currency, code, detail), for the operations team to resubmit or chase."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REFUSED_COLUMNS)
    for refused in result.refused:  # bounded by ROWS_MAX
        p = refused.payment
        writer.writerow((refused.row, p.loan_id, p.payment_id, p.paid_on.isoformat(),
                         p.amount.amount, p.amount.currency, refused.code.name, refused.detail))  # fmt: skip
    return out.getvalue()
