"""Test helpers for delinquency: a clinic loan left unpaid, a booking posted into a harness's
ledger, a loan as servicing will leave it after a write-off, and hypothesis strategies."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from loancore.delinquency import (
    CARD_2011,
    RISK_2023,
    Booking,
    BucketScheme,
    ClassificationRules,
    DelinquencyPolicy,
    Judgement,
    ProvisionRates,
    RiskClass,
)
from loancore.money import Money
from loancore.postings import Stage
from loancore.servicing import Accrue, Disburse, LateFee, Loan
from loancore.testing.servicing import Harness, clinic_product

__all__ = [
    "DISBURSED_ON",
    "FIRST_DUE",
    "bucket_schemes",
    "classification_rules",
    "delinquency_policies",
    "judgements",
    "post",
    "provision_rates",
    "unpaid_clinic_loan",
    "written_off_as_servicing_will",
]

DISBURSED_ON = datetime.date(2026, 1, 15)
FIRST_DUE = datetime.date(2026, 2, 15)


def unpaid_clinic_loan(
    accrued_to: datetime.date | None = None, *, grace_days: int = 3, late_fee: bool = False
) -> Harness:
    """The stories' 12,000.00 CNY clinic loan (12 x 1,100.16 at 18%, first due 2026-02-15),
    disbursed on 2026-01-15 and never paid; accrued to ``accrued_to`` if given. ``late_fee``
    charges 5% of what is unpaid, capped at 50.00, once per installment."""
    overrides: dict[str, Any] = {"grace_days": grace_days}
    if late_fee:
        overrides["late_fee"] = LateFee(rate=Decimal("0.05"), cap=Money(Decimal(50), "CNY"))
    harness = Harness.booked(clinic_product(**overrides))
    harness.apply(Disburse(event_id="pay", as_of=DISBURSED_ON))
    if accrued_to is not None:
        harness.apply(Accrue(event_id=f"accrue-{accrued_to:%Y%m%d}", as_of=accrued_to))
    return harness


def post(harness: Harness, booking: Booking) -> None:
    """``booking``'s entries and memo postings into ``harness``'s ledger (the ledger's posting
    rules check them: balanced, known subjects, no memo register below zero)."""
    if booking.entries:
        harness.store.post(booking.entries)
    if booking.memo_postings:
        harness.store.post_memo(booking.memo_postings)


def written_off_as_servicing_will(loan: Loan) -> Loan:
    """``loan`` with every receivable part and all principal written off and the contract
    interest not yet booked dropped, as servicing's write-off event will leave it (see
    docs/delinquency.md, "What servicing must do")."""
    installments = []
    for inst in loan.installments:
        booked = inst.interest.booked
        changed = attrs.evolve(
            inst, interest=attrs.evolve(inst.interest, due=booked), interest_accrued=booked
        )
        for name in ("principal", "interest", "fee", "penalty", "compound"):
            part = getattr(changed, name)
            changed = attrs.evolve(
                changed,
                **{name: attrs.evolve(part, written_off=part.written_off + part.receivable)},
            )
        installments.append(changed)
    return attrs.evolve(loan, installments=tuple(installments))


def bucket_schemes() -> st.SearchStrategy[BucketScheme]:
    """Schemes of 1 to 10 increasing bounds from 0."""
    steps = st.lists(st.integers(1, 60), min_size=0, max_size=9)
    return steps.map(lambda s: BucketScheme(tuple(sum(s[:k]) for k in range(len(s) + 1))))


def classification_rules() -> st.SearchStrategy[ClassificationRules]:
    return st.sampled_from([RISK_2023, CARD_2011])


def judgements() -> st.SearchStrategy[Judgement]:
    return st.builds(
        Judgement,
        assessed=st.sampled_from(list(RiskClass)),
        significant_increase=st.booleans(),
        credit_impaired=st.booleans(),
    )


def delinquency_policies() -> st.SearchStrategy[DelinquencyPolicy]:
    return st.builds(
        DelinquencyPolicy,
        grace_days=st.integers(0, 10),
        buckets=bucket_schemes(),
        rules=classification_rules(),
        non_accrual_days=st.integers(30, 180),
    )


def _rates(keys: list[Any]) -> st.SearchStrategy[dict[Any, Decimal]]:
    rate = st.integers(0, 10_000).map(lambda bp: Decimal(bp) / 10_000)
    return st.fixed_dictionaries({key: rate for key in keys})


def provision_rates() -> st.SearchStrategy[ProvisionRates]:
    """Rates by class or by stage, each a fraction with up to four decimals."""
    return st.one_of(
        _rates(list(RiskClass)).map(ProvisionRates.by_class),
        _rates(list(Stage)).map(ProvisionRates.by_stage),
    )
