"""Hypothesis strategies for posting-template events and subject mappings (needs hypothesis).

:func:`posting_events` draws any valid event of any registered template (zeros included, one
currency per event); :func:`subject_mappings` draws a default mapping under either discount
treatment.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from loancore.money import Money
from loancore.postings import (
    TEMPLATES,
    Cancellation,
    CardDisbursement,
    Component,
    CreditApplied,
    DiscountTreatment,
    Event,
    FeeCharged,
    FeeKind,
    InterestAccrued,
    JointCollected,
    JointFunded,
    JointLoss,
    LoanSold,
    MerchantDisbursement,
    MerchantSettlement,
    ProvisionCharged,
    ProvisionReleased,
    RecoveredAfterWriteOff,
    RepaymentReceived,
    Stage,
    SubjectMapping,
    Waiver,
    WrittenOff,
)
from loancore.testing.money import currencies

__all__ = ["posting_events", "subject_mappings"]

_DIMENSIONS = {
    "loan": "L-1",
    "customer": "C-1",
    "merchant": "M-1",
    "partner": "P-1",
    "product": "med-aesthetic",
}
_REPAYMENT_PARTS = ("principal", "interest", "penalty", "compound", "fee", "partner_share")
_COMPONENT_PARTS = ("principal", "interest", "penalty", "compound", "fee")
_INTEREST_LIKE = [Component.INTEREST, Component.PENALTY, Component.COMPOUND]


def _amounts(draw: st.DrawFn, kind: type[Event], currency: str) -> dict[str, Any]:
    """The amount fields of a valid ``kind`` event (zeros included where allowed)."""

    def money(minor_min: int = 0) -> Money:
        return Money.from_minor(draw(st.integers(minor_min, 10**12)), currency)

    fields: dict[str, Any] = {}
    if kind in (MerchantDisbursement, CardDisbursement):
        fields["principal"] = money(1)
        if kind is MerchantDisbursement:
            limit = fields["principal"].minor_units
            fields["merchant_discount"] = Money.from_minor(draw(st.integers(0, limit)), currency)
    elif kind is MerchantSettlement:
        fields["payable"] = money(1)
        limit = fields["payable"].minor_units
        fields["service_fee"] = Money.from_minor(draw(st.integers(0, limit)), currency)
    elif kind is RepaymentReceived:
        parts = {name: money() for name in _REPAYMENT_PARTS}
        total = sum(parts.values(), money())
        fields.update(parts, received=total if total.is_positive() else money(1))
    elif kind in (WrittenOff, CreditApplied):
        fields.update({name: money() for name in _COMPONENT_PARTS})
    elif kind is LoanSold:
        fields.update({name: money() for name in (*_COMPONENT_PARTS, "price", "allowance")})
        fields["stage"] = draw(st.sampled_from(list(Stage)))
    elif kind is JointCollected:
        fields.update(principal=money(), income=money())
    elif kind is JointLoss:
        fields["principal"] = money()
    else:
        fields["amount"] = money(1 if kind in (RecoveredAfterWriteOff, JointFunded) else 0)
    if kind is InterestAccrued:
        fields["component"] = draw(st.sampled_from(_INTEREST_LIKE))
    elif kind is Waiver:
        fields["component"] = draw(st.sampled_from(list(Component)[1:]))
    elif kind is FeeCharged:
        fields["fee_kind"] = draw(st.sampled_from(list(FeeKind)))
    elif kind in (ProvisionCharged, ProvisionReleased):
        fields["stage"] = draw(st.sampled_from(list(Stage)))
    return fields


@st.composite
def posting_events(
    draw: st.DrawFn, accounting_date: date = date(2026, 10, 30), event_id_alphabet: str = "abc-0123"
) -> Event:
    """Any valid event of any template in ``TEMPLATES``, amounts in one currency, zeros included.

    A :class:`~loancore.postings.Cancellation` cancels a drawn event of another type.
    """
    currency = draw(currencies())
    kinds = sorted(TEMPLATES, key=lambda t: t.__name__)
    kind = draw(st.sampled_from(kinds))
    cancel = kind is Cancellation
    if cancel:
        kind = draw(st.sampled_from([k for k in kinds if k is not Cancellation]))
    event: Event = kind(
        event_id=draw(st.text(event_id_alphabet, min_size=1, max_size=12)),
        accounting_date=accounting_date,
        dimensions=_DIMENSIONS,
        **_amounts(draw, kind, currency),
    )
    return Cancellation.of(event, accounting_date) if cancel else event


def subject_mappings() -> st.SearchStrategy[SubjectMapping]:
    """The default mapping under either discount treatment."""
    return st.builds(SubjectMapping, discount_treatment=st.sampled_from(list(DiscountTreatment)))
