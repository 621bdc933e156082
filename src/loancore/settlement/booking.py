"""The journal entries of settlement, built by the existing posting templates.

| Step | Dr | Cr |
|---|---|---|
| payout instructed (run) | merchant payable (payment + fees) | clearing (payment); fee income (fees) |
| payout confirmed (channel file) | clearing | bank |
| payout failed (channel file) | clearing | merchant payable (back to payable, retried) |

``loancore.postings`` has no payout templates yet, so each step reuses the template with the
same shape under a mapping that points the roles at the right subjects (the template still
picks the sides and checks the balance: one copy of each posting rule): the instruction is
``merchant_settlement`` with its cash leg on clearing; confirmation and failure are
``clearing_settled`` (Dr one subject, Cr another). Entry ids and keys derive from the line id,
so a re-run or a re-imported file books nothing twice. When ``loancore.postings`` gains
dedicated templates, only this module changes.
"""

from __future__ import annotations

import datetime
import functools

import attrs

from loancore.ledger.entries import JournalEntry
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    ClearingSettled,
    MerchantSettlement,
    SubjectMapping,
    clearing_settled,
    merchant_settlement,
)
from loancore.settlement.model import SettlementLine

__all__ = ["confirmed_entries", "failed_entries", "instruction_entries"]

Entries = tuple[JournalEntry, ...]


@functools.lru_cache(maxsize=32)
def _shaped(mapping: SubjectMapping, **roles: str) -> SubjectMapping:
    """``mapping`` with some roles pointed elsewhere (cached: one per run, not one per line)."""
    return attrs.evolve(mapping, **roles)


def instruction_entries(
    line: SettlementLine, run_date: datetime.date, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """Dr merchant payable (payment + fees); Cr clearing (payment), Cr fee income (fees)."""
    payable = line.payment + line.fees
    if not payable.is_positive():
        return ()
    event = MerchantSettlement(
        event_id=f"payout:{line.line_id}",
        accounting_date=run_date,
        dimensions={"merchant": line.merchant_id},
        payable=payable,
        service_fee=line.fees,
    )
    to_clearing = _shaped(mapping, bank=mapping.clearing)
    entries = merchant_settlement(event, to_clearing)
    return tuple(attrs.evolve(e, memo="商户结算指令 payout instructed, fee kept") for e in entries)


def _move(
    step: str, line_id: str, merchant_id: str, day: datetime.date, amount: Money, *,
    debit: str, credit: str, memo: str, mapping: SubjectMapping,
) -> Entries:  # fmt: skip
    event = ClearingSettled(
        event_id=f"payout.{step}:{line_id}",
        accounting_date=day,
        dimensions={"merchant": merchant_id},
        amount=amount,
    )
    # clearing_settled books Dr bank, Cr clearing: point those roles at the step's subjects.
    shaped = _shaped(mapping, bank=debit, clearing=credit)
    return tuple(attrs.evolve(e, memo=memo) for e in clearing_settled(event, shaped))


def confirmed_entries(
    line_id: str, merchant_id: str, day: datetime.date, amount: Money,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Entries:  # fmt: skip
    """The channel paid the merchant: Dr clearing, Cr bank."""
    return _move(
        "confirmed", line_id, merchant_id, day, amount, debit=mapping.clearing,
        credit=mapping.bank, memo="商户结算到账 payout confirmed by the channel", mapping=mapping,
    )  # fmt: skip


def failed_entries(
    line_id: str, merchant_id: str, day: datetime.date, amount: Money,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Entries:  # fmt: skip
    """The payout failed: Dr clearing, Cr merchant payable (owed again, paid in the next run)."""
    return _move(
        "failed", line_id, merchant_id, day, amount, debit=mapping.clearing,
        credit=mapping.merchant_payable, memo="商户结算失败 payout failed, back to payable",
        mapping=mapping,
    )  # fmt: skip
