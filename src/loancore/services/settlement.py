"""Settlement use cases: each call is ONE unit of work over the settlement store and the ledger.

- :func:`save_merchant_terms`, :func:`record_capture`, :func:`record_deduction`: store a merchant's
  terms, a captured order (or many), a refund or chargeback, pending until a batch settles them.
  The disbursement (Dr loan, Cr merchant payable) and the refund (its cancellation) are
  servicing's entries; a caller that books them here passes them as ``entries`` and they are
  posted in the same unit of work.
- :func:`run_settlement`: gather what the store holds pending for the channel, run the pure core
  (:func:`loancore.settlement.run_settlement`), store the batch and the carry-forward, post the
  payout-instructed entries. One run per channel and date: running a date again returns the
  stored batch (``replayed``) and posts nothing.
- :func:`export_batch_csv`: the payout file of a stored batch.
- :func:`import_channel_file`: parse the channel's result file (a malformed file raises
  :class:`~loancore.settlement.ChannelFileError` before anything is read or written),
  reconcile each batch it names, post confirmed and failed lines, store the outcome under the
  file id (the text's SHA-256 unless given): importing the same file again is a replay.
- :func:`merchant_statement`: a merchant's statement from the stored batches and line statuses.
- :func:`payable_matches_ledger`: the store's merchant payable equals the ledger's, merchant by
  merchant, and the trial balance balances.
- :func:`servicing_hook`: what settlement does inside servicing's units of work (called by
  :mod:`loancore.services.servicing`): a loan disbursed to a merchant with terms becomes a
  pending capture, a merchant refund a pending deduction, a joint loan's collections are
  split among its funders and a platform's commission on the loan follows its history.
- :func:`assign_commission`: the platform that brought a loan earns its commission (助贷).
- :func:`fund_joint_loan`, :func:`record_joint_write_off`: a loan funded by partners
  (联合贷款), and its write-off's losses shared among them; :func:`joint_recovery_entries` and
  :func:`joint_sale_entries` share a recovery after write-off and a sale in the shares of the
  loss (called by :mod:`loancore.services.end_of_day`); :func:`pay_partner` pays a
  partner what was collected for it, :func:`partner_statement` lists a period's movements.

Lock order: the settlement store is written first, the ledger last (:data:`loancore.ports.LOCK_ORDER`).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence

import attrs

from loancore.calendar import BusinessCalendar
from loancore.checks import DATE_MAX, require_date, require_id
from loancore.errors import IdempotencyConflict, InvalidInput, InvariantViolation, NotFound
from loancore.ledger.entries import JournalEntry, MemoPosting
from loancore.ledger.reports import GeneralLedger
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import (
    ALLOWANCE_ROLE,
    DEFAULT_MAPPING,
    LoanSold,
    RecoveredAfterWriteOff,
    Stage,
    SubjectMapping,
    WrittenOff,
)
from loancore.servicing import Loan, Outcome
from loancore.servicing.loan import Payee, TransactionKind
from loancore.settlement import (
    CHANNEL_LENGTH_MAX,
    RECOVERIES_MAX,
    Capture,
    CommissionState,
    CommissionTerms,
    Deduction,
    DeductionKind,
    FundingShare,
    JointLoan,
    JointSplit,
    MerchantStatement,
    MerchantTerms,
    Mismatch,
    MismatchKind,
    PaymentInstruction,
    Reconciliation,
    ResultRow,
    SettlementBatch,
    ShareRule,
    accrue_commissions,
    commission_accrual_entries,
    funding_entries,
    loan_activities,
    parse_result_csv,
    partner_payout_entries,
    payout_csv,
    reconcile,
    recovery_entries,
    recovery_split,
    replay_splits,
    sale_splits,
    split_entries,
    write_off_split,
    written_off_of,
)
from loancore.settlement import merchant_statement as statement_of
from loancore.settlement import run_settlement as run_core
from loancore.settlement.model import check_id
from loancore.settlement.records import ChannelFileRecord, LineStatus

__all__ = [
    "ChannelFileImport",
    "JointWriteOff",
    "PartnerStatement",
    "SettlementResult",
    "assign_commission",
    "export_batch_csv",
    "fund_joint_loan",
    "import_channel_file",
    "joint_recovery_entries",
    "joint_sale_entries",
    "joint_write_off_losses",
    "merchant_statement",
    "partner_statement",
    "pay_partner",
    "payable_matches_ledger",
    "record_capture",
    "record_deduction",
    "record_joint_write_off",
    "run_settlement",
    "save_merchant_terms",
    "servicing_hook",
]


@attrs.frozen(kw_only=True)
class SettlementResult:
    """A run: the batch (stored), the entries posted now (none on a replay), ``replayed``."""

    batch: SettlementBatch
    entries: tuple[JournalEntry, ...]
    replayed: bool


@attrs.frozen(kw_only=True)
class ChannelFileImport:
    """An imported result file: what it confirmed, failed and could not book, the entries
    posted now (none on a replay), and ``replayed`` (the file id was imported before)."""

    record: ChannelFileRecord
    entries: tuple[JournalEntry, ...]
    replayed: bool

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        return self.record.mismatches


def _post(uow: UnitOfWork, entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise InvalidInput("entries", entries, "expected a sequence of JournalEntry")
    return uow.ledger.post(list(entries)) if entries else ()


def save_merchant_terms(uow: UnitOfWork, channel: str, terms: MerchantTerms) -> None:
    """Store the merchant's terms with the channel that pays it (replacing earlier terms)."""
    with uow:
        uow.settlement.save_terms(channel, terms)
        uow.commit()


def record_capture(
    uow: UnitOfWork, captures: Capture | Sequence[Capture], *,
    entries: Sequence[JournalEntry] = (),
) -> None:  # fmt: skip
    """Store captured orders (one or many), pending settlement, and post ``entries`` (their
    disbursement, if the caller books it here) in the same unit of work."""
    items = [captures] if isinstance(captures, Capture) else captures
    with uow:
        uow.settlement.add_captures(items)
        _post(uow, entries)
        uow.commit()


def record_deduction(
    uow: UnitOfWork, deductions: Deduction | Sequence[Deduction], *,
    entries: Sequence[JournalEntry] = (),
) -> None:  # fmt: skip
    """Store refunds or chargebacks, netted by the run on or after their settlement date, and
    post ``entries`` (the refund's cancellation, if the caller books it here) with them."""
    items = [deductions] if isinstance(deductions, Deduction) else deductions
    with uow:
        uow.settlement.add_deductions(items)
        _post(uow, entries)
        uow.commit()


def run_settlement(
    uow: UnitOfWork, channel: str, run_date: datetime.date, calendar: BusinessCalendar, *,
    currency: str = "CNY", mapping: SubjectMapping = DEFAULT_MAPPING,
) -> SettlementResult:  # fmt: skip
    """Settle ``channel`` for ``run_date`` (module docstring): the batch is stored, the
    carry-forward updated, the payout-instructed entries posted, all in one unit of work."""
    check_id("channel", channel, CHANNEL_LENGTH_MAX)
    require_date("run_date", run_date)
    with uow:
        stored = uow.settlement.batch(f"{channel}:{run_date.isoformat()}")
        if stored is not None:
            return SettlementResult(batch=stored, entries=(), replayed=True)
        inputs = uow.settlement.pending(channel)
        run = run_core(
            run_date, channel=channel, calendar=calendar,
            terms={t.merchant_id: t for t in inputs.terms}, captures=inputs.captures,
            deductions=inputs.deductions, carry_forward=inputs.carry_forward,
            retries=inputs.retries, currency=currency, mapping=mapping,
        )  # fmt: skip
        uow.settlement.save_batch(run.batch)
        posted = _post(uow, run.entries)
        uow.commit()
    return SettlementResult(batch=run.batch, entries=posted, replayed=False)


def export_batch_csv(uow: UnitOfWork, channel: str, run_date: datetime.date) -> str:
    """The payout file (:func:`loancore.settlement.payout_csv`) of the stored batch of
    ``channel`` on ``run_date``; InvalidInput naming ``run_date`` if there is none."""
    require_date("run_date", run_date)
    with uow:
        batch = uow.settlement.batch(f"{channel}:{run_date.isoformat()}")
    if batch is None:
        raise InvalidInput("run_date", run_date, f"no settlement batch of channel {channel!r}")
    return payout_csv(batch)


def _reconcile_file(
    uow: UnitOfWork, rows: Sequence[ResultRow], booked_on: datetime.date,
    mapping: SubjectMapping,
) -> tuple[list[Reconciliation], list[Mismatch]]:  # fmt: skip
    """Each batch the file names reconciled with its rows; rows of unknown batches refused."""
    by_batch: dict[str, list[ResultRow]] = {}
    for row in rows:  # bounded by the parsed file (RESULT_ROWS_MAX)
        by_batch.setdefault(row.batch_id, []).append(row)
    outcomes: list[Reconciliation] = []
    unknown: list[Mismatch] = []
    for batch_id, batch_rows in by_batch.items():
        batch = uow.settlement.batch(batch_id)
        if batch is None:
            unknown += [
                Mismatch(kind=MismatchKind.WRONG_BATCH, line_number=row.line_number,
                         line_id=row.line_id, detail=f"no stored batch {batch_id!r}")
                for row in batch_rows
            ]  # fmt: skip
            continue
        statuses = uow.settlement.line_statuses(batch_id)
        done = [k for k, s in statuses.items() if s in (LineStatus.CONFIRMED, LineStatus.FAILED)]
        outcome = reconcile(batch, batch_rows, booked_on=booked_on, settled=done, mapping=mapping)
        outcomes.append(outcome)
    return outcomes, unknown


def import_channel_file(
    uow: UnitOfWork, text: str, *, booked_on: datetime.date, file_id: str | None = None,
    currency: str = "CNY", mapping: SubjectMapping = DEFAULT_MAPPING,
) -> ChannelFileImport:  # fmt: skip
    """Import the channel's result file ``text`` (module docstring): confirmed lines post Dr
    clearing / Cr bank, failed lines Dr clearing / Cr merchant payable and a retry for the next
    run; mismatches are reported and book nothing. ``booked_on`` dates the entries."""
    require_date("booked_on", booked_on)
    rows = parse_result_csv(text, currency=currency)  # a malformed file raises here
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    key = f"sha256:{digest}" if file_id is None else require_id("file_id", file_id)
    with uow:
        stored = uow.settlement.file(key)
        if stored is not None:
            if stored.digest != digest:
                raise IdempotencyConflict(key, "a different file was imported with this id")
            return ChannelFileImport(record=stored, entries=(), replayed=True)
        outcomes, unknown = _reconcile_file(uow, rows, booked_on, mapping)
        by_line = {m.line_number: m for o in outcomes for m in o.mismatches}
        by_line.update({m.line_number: m for m in unknown})
        record = ChannelFileRecord(
            file_id=key, digest=digest, booked_on=booked_on,
            confirmed=_sorted(i for o in outcomes for i in o.confirmed),
            failed=_sorted(i for o in outcomes for i in o.failed),
            mismatches=[by_line[n] for n in sorted(by_line)],
        )  # fmt: skip
        uow.settlement.save_file(record)
        posted = _post(uow, [e for o in outcomes for e in o.entries])
        uow.commit()
    return ChannelFileImport(record=record, entries=posted, replayed=False)


def _sorted(instructions: object) -> tuple[PaymentInstruction, ...]:
    return tuple(sorted(instructions, key=lambda i: i.line_id))  # type: ignore[call-overload]


def merchant_statement(
    uow: UnitOfWork, merchant_id: str, period_start: datetime.date,
    period_end: datetime.date, *, currency: str = "CNY",
) -> MerchantStatement:  # fmt: skip
    """The merchant's statement (:func:`loancore.settlement.merchant_statement`) over the
    stored batches run in the period, their lines' confirmed and failed payouts included."""
    require_id("merchant_id", merchant_id)
    with uow:
        batches = uow.settlement.merchant_batches(merchant_id, period_start, period_end)
        outcomes = [
            _outcome(batch, uow.settlement.line_statuses(batch.batch_id)) for batch in batches
        ]
    return statement_of(
        merchant_id, period_start, period_end, batches=batches, reconciliations=outcomes,
        currency=currency,
    )  # fmt: skip


def _outcome(batch: SettlementBatch, statuses: Mapping[str, LineStatus]) -> Reconciliation:
    """The batch's stored line statuses as a reconciliation (what a statement reads)."""

    def having(status: LineStatus) -> tuple[PaymentInstruction, ...]:
        return tuple(i for i in batch.instructions if statuses.get(i.line_id) is status)

    return Reconciliation(
        batch_id=batch.batch_id, confirmed=having(LineStatus.CONFIRMED),
        failed=having(LineStatus.FAILED), mismatches=(),
        outstanding=having(LineStatus.INSTRUCTED), entries=(), retries=(),
    )  # fmt: skip


def payable_matches_ledger(
    uow: UnitOfWork, merchant_ids: Sequence[str], *, as_of: datetime.date,
    currency: str = "CNY", mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[str, ...]:  # fmt: skip
    """The problems found (empty when all is well): an unbalanced trial balance, and each
    merchant whose payable by the store differs from its merchant-payable balance in the
    ledger (legs carrying its ``merchant`` dimension)."""
    problems: list[str] = []
    with uow:
        if not uow.ledger.trial_balance(as_of=as_of).is_balanced():
            problems.append(f"the trial balance as of {as_of} does not balance")
        for merchant_id in merchant_ids:  # bounded by the caller's list
            store = uow.settlement.merchant_payable(merchant_id, currency)
            ledger: Money = uow.ledger.balance(
                mapping.merchant_payable, currency, as_of=as_of,
                dimensions={"merchant": merchant_id},
            )  # fmt: skip
            if store != ledger:
                problems.append(f"merchant {merchant_id}: store {store}, ledger {ledger}")
    return tuple(problems)


# -- servicing's outcomes: captures, refunds, joint splits ---------------------------------------

_ANY_SHARES = ShareRule(applies_to=frozenset())
"""Rebuilding a stored joint loan checks no minimum: its shares were checked when funded."""


def _merchant_of(loan: Loan) -> str | None:
    return dict(loan.dimensions).get("merchant") if loan.payee is Payee.MERCHANT else None


def _at_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0, 0))


def _capture_of(outcome: Outcome, captured_at: datetime.datetime | None) -> Capture | None:
    """The order a merchant disbursement of ``outcome`` captured, or None."""
    loan = outcome.loan
    merchant = _merchant_of(loan)
    txn = loan.history[-1] if loan.history else None
    if merchant is None or txn is None or txn.kind is not TransactionKind.DISBURSED:
        return None
    if not any(e.entry_id == f"disbursement.merchant:{txn.event_id}" for e in outcome.entries):
        return None
    return Capture(
        order_id=loan.history[0].event_id, merchant_id=merchant,
        amount=loan.money(loan.principal_disbursed - loan.merchant_discount),
        captured_at=_at_midnight(txn.as_of) if captured_at is None else captured_at,
    )  # fmt: skip


def _deduction_of(outcome: Outcome) -> Deduction | None:
    """The refund the merchant owes back for a merchant refund of ``outcome``, or None."""
    loan, clawback = outcome.loan, outcome.merchant_clawback
    merchant = _merchant_of(loan)
    txn = loan.history[-1] if loan.history else None
    if merchant is None or clawback is None or not clawback.is_positive() or txn is None:
        return None
    if txn.kind is not TransactionKind.MERCHANT_REFUND:
        return None
    return Deduction(
        deduction_id=txn.event_id, kind=DeductionKind.REFUND, merchant_id=merchant,
        order_id=loan.history[0].event_id, amount=clawback, occurred_at=_at_midnight(txn.as_of),
    )  # fmt: skip


def _joint_entries(uow: UnitOfWork, loans: Mapping[str, Loan]) -> tuple[JournalEntry, ...]:
    """Every split of each joint loan's history, as entries (the ledger books each once)."""
    shares = uow.settlement.joint_shares(sorted(loans)) if loans else {}
    entries: list[JournalEntry] = []
    for loan_id, funders in sorted(shares.items()):  # bounded by the loans given
        loan = loans[loan_id]
        mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
        joint = _disbursed(loan, funders)
        splits, _after = replay_splits(joint, loan.history)
        dimensions = dict(loan.dimensions)
        entries += [e for split in splits for e in split_entries(joint, split, dimensions, mapping)]
    return tuple(entries)


def _disbursed(loan: Loan, funders: Sequence[FundingShare]) -> JointLoan:
    principal = loan.money(loan.principal_disbursed)
    return JointLoan.disburse(loan.loan_id, principal, funders, rule=_ANY_SHARES)


def servicing_hook(
    uow: UnitOfWork, outcomes: Sequence[Outcome], *,
    captured_at: datetime.datetime | None = None,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """Settlement's part of a servicing unit of work (``uow`` is open; nothing is committed
    here). Writes the settlement store (the lock order: after the loans, before quota and the
    ledger) and returns entries for the caller to post with its own:

    - a loan disbursed to a merchant whose terms are stored: its order becomes a pending
      :class:`Capture` (id: the booking event's, the order id; amount: principal less merchant
      discount, what servicing credited to the merchant payable; ``captured_at``, or the
      disbursement date at 00:00, before any cut-off). A merchant without terms is settled
      outside loancore: nothing is recorded for it;
    - a merchant refund (``merchant_clawback``) of such a merchant: a pending refund
      :class:`Deduction` of the clawback (id: the refund event's), netted by the next run;
    - a joint loan (funders stored by :func:`fund_joint_loan`): the entries of every split of
      its history (:func:`loancore.settlement.replay_splits`), each booked once by the ledger.
    """
    channels: dict[str, str | None] = {}
    captures: list[Capture] = []
    deductions: list[Deduction] = []
    latest: dict[str, Loan] = {}
    for outcome in outcomes:  # bounded by the caller's batch
        latest[outcome.loan.loan_id] = outcome.loan
        for item in (_capture_of(outcome, captured_at), _deduction_of(outcome)):
            if item is None:
                continue
            if item.merchant_id not in channels:
                channels[item.merchant_id] = uow.settlement.merchant_channel(item.merchant_id)
            if channels[item.merchant_id] is None:
                continue
            (captures if isinstance(item, Capture) else deductions).append(item)  # type: ignore[arg-type]
    if captures:
        uow.settlement.add_captures(captures)
    if deductions:
        uow.settlement.add_deductions(deductions)
    return _joint_entries(uow, latest) + _commission_entries(uow, latest)


def _commission_entries(uow: UnitOfWork, loans: Mapping[str, Loan]) -> tuple[JournalEntry, ...]:
    """Every commission accrual of each loan a platform brought, as entries (booked once)."""
    found = uow.settlement.loan_commissions(sorted(loans)) if loans else {}
    entries: list[JournalEntry] = []
    for loan_id, terms in sorted(found.items()):  # bounded by the loans given
        loan = loans[loan_id]
        mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
        accruals, _state = accrue_commissions(terms, loan_activities(loan), CommissionState())
        entries += [e for accrual in accruals for e in commission_accrual_entries(accrual, mapping)]
    return tuple(entries)


def assign_commission(
    uow: UnitOfWork, loan_id: str, terms: CommissionTerms
) -> tuple[JournalEntry, ...]:
    """The platform of ``terms`` brought loan ``loan_id`` (助贷), in one unit of work: the terms
    stored with the loan and the commission its history earned so far posted (Dr 6421, Cr
    2241.03 by default). From then on servicing's events accrue it (:func:`servicing_hook`):
    on the principal disbursed or a fixed fee at disbursement, on the interest collected net
    of reversed payments; a refund that cancels the loan claws it all back. The same terms
    again: a replay; others: IdempotencyConflict. Returns the entries posted."""
    require_id("loan_id", loan_id)
    with uow:
        loan = uow.loans.load(loan_id)
        uow.settlement.save_loan_commission(loan_id, terms)
        posted = _post(uow, _commission_entries(uow, {loan_id: loan}))
        uow.commit()
    return posted


def fund_joint_loan(
    uow: UnitOfWork, loan_id: str, shares: Sequence[FundingShare], *, on: datetime.date,
    rule: ShareRule | None = None,
) -> JointLoan:  # fmt: skip
    """Loan ``loan_id`` (disbursed) is funded by ``shares`` (联合贷款), in one unit of work:
    the share rule checked (``rule``, 30% per partner by default:
    ``JOINT_SHARE_BELOW_MINIMUM``), the funders stored, each partner's part of the principal
    booked as received on ``on`` (Dr bank, Cr partner funding) and the splits of what was
    already collected posted. The same funding again is a replay; other shares for a funded
    loan raise IdempotencyConflict. Returns the joint loan after its history."""
    require_date("on", on)
    with uow:
        loan = uow.loans.load(loan_id)
        if loan.principal_disbursed <= 0:
            raise InvalidInput("loan_id", loan_id, "the loan is not disbursed")
        joint = JointLoan.disburse(loan_id, loan.money(loan.principal_disbursed), shares, rule=rule)
        uow.settlement.save_joint(loan_id, joint.shares)
        mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
        entries = list(funding_entries(joint, on, dict(loan.dimensions), mapping))
        entries += _joint_entries(uow, {loan_id: loan})
        _post(uow, entries)
        uow.commit()
    _splits, after = replay_splits(joint, loan.history)
    return after


@attrs.frozen(kw_only=True)
class JointWriteOff:
    """A joint loan's write-off shared: the funders' parts, the entries posted now, the joint
    loan after it."""

    split: JointSplit
    entries: tuple[JournalEntry, ...]
    joint: JointLoan


def record_joint_write_off(
    uow: UnitOfWork, loan_id: str, written_off: WrittenOff, *,
    interest_off_books: Money | None = None, entries: Sequence[JournalEntry] = (),
    memo_postings: Sequence[MemoPosting] = (),
) -> JointWriteOff:  # fmt: skip
    """Share the write-off of joint loan ``loan_id`` among its funders in one unit of work:
    :func:`loancore.settlement.write_off_split` on the loan's history (``written_off`` is the
    ``WrittenOff`` event of :func:`loancore.delinquency.write_off`, ``interest_off_books`` the
    interest it moved to 已核销贷款), each partner's part of the principal booked (Dr partner
    funding, Cr credit impairment loss), posted with ``entries`` and ``memo_postings`` (the
    write-off's own, when the caller books it here). InvalidInput if the loan has no funders."""
    with uow:
        loan = uow.loans.load(loan_id)
        shared = joint_write_off_losses(
            uow, loan, written_off, interest_off_books=interest_off_books
        )
        if shared is None:
            raise InvalidInput("loan_id", loan_id, "not a joint loan: no funders stored")
        posted = _post(uow, [*entries, *shared.entries])
        if memo_postings:
            uow.ledger.post_memo(list(memo_postings))
        uow.commit()
    return attrs.evolve(shared, entries=posted)


def joint_write_off_losses(
    uow: UnitOfWork, loan: Loan, written_off: WrittenOff, *,
    interest_off_books: Money | None = None,
) -> JointWriteOff | None:  # fmt: skip
    """The partners' losses on ``loan``'s write-off, inside the caller's unit of work and not
    posted (``entries`` are the loss entries to post); None when the loan has no funders stored.
    :func:`loancore.services.write_off_loan` books them with the write-off itself."""
    funders = uow.settlement.joint_shares([loan.loan_id]).get(loan.loan_id)
    if funders is None:
        return None
    mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
    joint = _disbursed(loan, funders)
    _splits, joint = replay_splits(joint, loan.history)
    split, joint = write_off_split(joint, written_off, interest_off_books=interest_off_books)
    losses = split_entries(joint, split, dict(loan.dimensions), mapping)
    return JointWriteOff(split=split, entries=tuple(losses), joint=joint)


def _recovered_before(uow: UnitOfWork, loan: Loan, mapping: SubjectMapping) -> list[Money]:
    """The recoveries already booked on ``loan`` (``recovery:`` credits of its stage-3
    allowance), in accounting-date then posting order."""
    start = loan.history[0].as_of if loan.history else loan.last_date
    ledger = uow.ledger.general_ledger(
        mapping.code(ALLOWANCE_ROLE[Stage.THREE]), loan.currency, start=start,
        end=DATE_MAX, dimensions={"loan": loan.loan_id},
    )  # fmt: skip
    found = [
        line.amount
        for line in ledger.lines  # bounded by the loan's allowance movements
        if line.entry_id.startswith("recovery:") and line.side is Side.CREDIT
    ]
    if len(found) >= RECOVERIES_MAX:
        raise InvalidInput("loan_id", loan.loan_id, f"{RECOVERIES_MAX} recoveries or more")
    return found


def joint_recovery_entries(
    uow: UnitOfWork, loan: Loan, recovery: RecoveredAfterWriteOff, *, written_off: Money
) -> tuple[JournalEntry, ...]:
    """The partners' parts of ``recovery`` (核销后收回) on the written-off joint ``loan``, inside
    the caller's unit of work and not posted (``joint.recovered``: Dr 6702, Cr 2241.02); none
    for a loan with no funders stored. ``written_off`` is what 已核销贷款 holds for the loan
    before this recovery. The write-off is rebuilt from the loan and the register
    (:func:`loancore.settlement.written_off_of`), the recoveries booked before are replayed in
    date then posting order, and this one is split last, so each recovery's parts continue the
    cumulative stream of the earlier ones: :func:`loancore.services.recover_loan` posts them
    with the recovery (a replayed recovery posts nothing)."""
    funders = uow.settlement.joint_shares([loan.loan_id]).get(loan.loan_id)
    if funders is None:
        return ()
    mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
    earlier = _recovered_before(uow, loan, mapping)
    registered = sum(earlier, written_off)
    written, interest = written_off_of(loan, registered)
    joint = _disbursed(loan, funders)
    _splits, joint = replay_splits(joint, loan.history)
    _lost, joint = write_off_split(joint, written, interest_off_books=interest)
    for amount in earlier:  # bounded by RECOVERIES_MAX
        _parts, joint = joint.recover(amount)
    split, joint = recovery_split(
        joint, recovery.event_id, recovery.accounting_date, recovery.amount
    )
    return recovery_entries(joint, split, dict(loan.dimensions), mapping)


def joint_sale_entries(
    uow: UnitOfWork, loan: Loan, sold: LoanSold, *, interest_off_books: Money
) -> tuple[JournalEntry, ...]:
    """The partners' parts of joint ``loan``'s sale (不良资产转让), inside the caller's unit of
    work and not posted: everything it carried lost (``joint.loss``: Dr 2241.04, Cr 6702 for
    each partner's principal) and the price recovered in the shares of that loss
    (``joint.recovered``: Dr 6702, Cr 2241.02), by :func:`loancore.settlement.sale_splits`;
    none for a loan with no funders stored. ``interest_off_books`` is the off-balance interest
    the buyer took. :func:`loancore.services.sell_loan` posts them with the sale."""
    funders = uow.settlement.joint_shares([loan.loan_id]).get(loan.loan_id)
    if funders is None:
        return ()
    mapping = uow.loans.product(loan.product_id, loan.product_version).mapping
    _splits, joint = replay_splits(_disbursed(loan, funders), loan.history)
    lost, recovered, joint = sale_splits(joint, sold, interest_off_books=interest_off_books)
    dimensions = dict(loan.dimensions)
    return split_entries(joint, lost, dimensions, mapping) + recovery_entries(
        joint, recovered, dimensions, mapping
    )


# -- a joint-lending partner's payouts and statement -----------------------------------------------


def pay_partner(
    uow: UnitOfWork, partner_id: str, on: datetime.date, *, currency: str = "CNY",
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> tuple[JournalEntry, ...]:  # fmt: skip
    """The partner settlement run for ``on``: everything collected for ``partner_id`` and not
    yet paid (its partner-payable balance as of ``on``) paid over in one unit of work (Dr
    partner payable, Cr bank; id ``partner.paid:partner:<partner>:<date>``). Nothing when there
    is nothing to pay; the same day again returns the payout booked (one payout a day)."""
    require_id("partner_id", partner_id)
    require_date("on", on)
    payout_id = f"partner:{partner_id}:{on.isoformat()}"
    with uow:
        try:
            return (uow.ledger.get_entry(f"partner.paid:{payout_id}"),)
        except NotFound:
            pass
        owed: Money = uow.ledger.balance(
            mapping.partner_payable, currency, as_of=on, dimensions={"partner": partner_id}
        )
        if not owed.is_positive():
            return ()
        posted = _post(uow, partner_payout_entries(payout_id, partner_id, owed, on, mapping))
        uow.commit()
    return posted


@attrs.frozen(kw_only=True)
class PartnerStatement:
    """A joint-lending partner's period (both ends included), from the ledger: principal it
    funded, its parts collected (principal; interest, penalty, compound and fees), net of
    reversals, its part of principal written off, its part of what was recovered on losses
    (after write-off, or a sale's price), what it was paid, and its payable at the start and
    the end (``payable_closing == payable_opening + principal_collected + income_collected +
    recovered - paid``) and the principal still funded at the end."""

    partner_id: str
    period_start: datetime.date
    period_end: datetime.date
    funded: Money
    principal_collected: Money
    income_collected: Money
    principal_lost: Money
    recovered: Money
    paid: Money
    payable_opening: Money
    payable_closing: Money
    funding_closing: Money

    def __attrs_post_init__(self) -> None:
        moved = self.principal_collected + self.income_collected + self.recovered - self.paid
        if self.payable_opening + moved != self.payable_closing:
            raise InvariantViolation(f"partner {self.partner_id}: statement does not add up")


def _turnover(ledger: GeneralLedger, template: str) -> Money:
    """The lines booked by ``template``: debits less credits."""
    total = Money.zero(ledger.currency)
    for line in ledger.lines:  # bounded by the period's lines
        if line.entry_id.startswith(f"{template}:"):
            total = total + line.amount if line.side is Side.DEBIT else total - line.amount
    return total


def partner_statement(
    uow: UnitOfWork, partner_id: str, period_start: datetime.date, period_end: datetime.date,
    *, currency: str = "CNY", mapping: SubjectMapping = DEFAULT_MAPPING,
) -> PartnerStatement:  # fmt: skip
    """The partner's :class:`PartnerStatement` for the period, read from the general ledger of
    its partner funding, partner payable and funding cost (legs with its ``partner``)."""
    require_id("partner_id", partner_id)
    start, end = require_date("period_start", period_start), require_date("period_end", period_end)
    if end < start:
        raise InvalidInput("period_end", period_end, f"must be on or after {period_start}")
    dims = {"partner": partner_id}
    with uow:

        def ledger(code: str) -> GeneralLedger:
            return uow.ledger.general_ledger(code, currency, start=start, end=end, dimensions=dims)

        funding, payable, cost = (
            ledger(mapping.partner_funding), ledger(mapping.partner_payable),
            ledger(mapping.partner_funding_cost),
        )  # fmt: skip
    return PartnerStatement(
        partner_id=partner_id, period_start=start, period_end=end,
        funded=-_turnover(funding, "joint.funded"),
        principal_collected=_turnover(funding, "joint.collected"),
        income_collected=_turnover(cost, "joint.collected"),
        principal_lost=_turnover(funding, "joint.loss"),
        recovered=-_turnover(payable, "joint.recovered"),
        paid=_turnover(payable, "partner.paid"),
        payable_opening=payable.opening, payable_closing=payable.closing,
        funding_closing=funding.closing,
    )  # fmt: skip
