"""What a settlement store keeps beside the core's values: line statuses, the inputs a run
reads, and the record of an imported channel file (frozen values, no I/O).

A store (:class:`loancore.ports.SettlementStore`) hands a run its :class:`SettlementInputs`
(the merchants' terms on a channel, their captures and deductions no batch has settled yet,
the carry-forward and the pending retries of failed payouts), keeps each batch with a
:class:`LineStatus` per line, and keeps every imported result file as a
:class:`ChannelFileRecord` keyed by its file id, so importing a file again is a replay.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.settlement.model import (
    Capture,
    CarryForward,
    Deduction,
    PaymentInstruction,
    Retry,
)
from loancore.settlement.reconcile import Mismatch
from loancore.settlement.terms import MerchantTerms

__all__ = ["ChannelFileRecord", "LineStatus", "SettlementInputs"]


class LineStatus(str, enum.Enum):
    """Where a batch line stands (persisted by value, never renumbered)."""

    NOTHING_TO_PAY = "nothing_to_pay"  # net at or below zero: no instruction was sent
    INSTRUCTED = "instructed"  # in the payout file, no result yet
    CONFIRMED = "confirmed"  # the channel paid it
    FAILED = "failed"  # the channel returned it; a Retry pays it in a later run


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SettlementInputs:
    """What a run of one channel reads from the store: every merchant's terms on the channel,
    the captures and deductions no batch has settled, the non-zero carry-forward and the
    retries no batch has paid yet (each sorted by its id)."""

    terms: tuple[MerchantTerms, ...] = attrs.field(converter=_tuple)
    captures: tuple[Capture, ...] = attrs.field(converter=_tuple)
    deductions: tuple[Deduction, ...] = attrs.field(converter=_tuple)
    carry_forward: tuple[CarryForward, ...] = attrs.field(converter=_tuple)
    retries: tuple[Retry, ...] = attrs.field(converter=_tuple)


def _id(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_id(attribute.name, value)


def _date(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_date(attribute.name, value)


@attrs.frozen(kw_only=True)
class ChannelFileRecord:
    """An imported result file: its id, the SHA-256 of its text, the day its entries were
    booked, the instructions it confirmed and failed, and the rows it could not book."""

    file_id: str = attrs.field(validator=_id)
    digest: str = attrs.field(validator=_id)
    booked_on: datetime.date = attrs.field(validator=_date)
    confirmed: tuple[PaymentInstruction, ...] = attrs.field(converter=_tuple)
    failed: tuple[PaymentInstruction, ...] = attrs.field(converter=_tuple)
    mismatches: tuple[Mismatch, ...] = attrs.field(converter=_tuple)
