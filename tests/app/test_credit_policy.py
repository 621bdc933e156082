"""The reference credit policy: first matching rule decides; an approval never grants more than
was asked nor more than the score's band allows."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.credit import CreditApplication, LimitBand, Outcome, ReferencePolicy, manual_decision
from loancore.errors import InvalidInput
from loancore.money import Money

POLICY = ReferencePolicy(blacklist={"B"}, whitelist={"W"})


def asking(customer: str, score: int, minor: int) -> CreditApplication:
    return CreditApplication(
        application_id=f"A-{customer}", customer_id=customer,
        requested_limit=Money.from_minor(minor, "CNY"), score=score, applied_on=date(2026, 1, 5),
    )  # fmt: skip


@given(score=st.integers(0, 1000), minor=st.integers(1, 10**9))
def test_an_approval_never_exceeds_the_request_nor_the_band(score: int, minor: int) -> None:
    decision = POLICY.decide(asking("C", score, minor))
    if decision.outcome is Outcome.APPROVED:
        assert decision.limit is not None
        granted = decision.limit.minor_units
        band = max(b.limit_max_minor for b in POLICY.bands if score >= b.score_min)
        assert POLICY.limit_min_minor <= granted <= min(minor, band)
        assert score >= POLICY.approve_min
    elif score >= POLICY.approve_min:
        assert decision.outcome is Outcome.REVIEW  # only a limit below limit_min goes back
        assert min(minor, 5_000_000) < POLICY.limit_min_minor


def test_the_lists_come_before_the_score() -> None:
    assert POLICY.decide(asking("B", 999, 100_000_00)).outcome is Outcome.DECLINED
    white = POLICY.decide(asking("W", 0, 9_000_000))
    assert white.outcome is Outcome.APPROVED and white.limit == Money("50000.00", "CNY")


def test_the_cut_offs_split_declined_review_and_approved() -> None:
    outcomes = [POLICY.decide(asking("C", s, 500_000)).outcome for s in (549, 550, 599, 600)]
    assert outcomes == [Outcome.DECLINED, Outcome.REVIEW, Outcome.REVIEW, Outcome.APPROVED]


def test_a_policy_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(InvalidInput, match="review_min"):
        ReferencePolicy(review_min=700, approve_min=600)
    with pytest.raises(InvalidInput, match="whitelist"):
        ReferencePolicy(blacklist={"X"}, whitelist={"X"})
    with pytest.raises(InvalidInput, match="limit_max_minor"):
        LimitBand(600, 0)


def test_a_manual_decision_approves_at_the_limit_given_or_declines() -> None:
    application = asking("C", 570, 800_000)
    assert manual_decision(application, approve=True, reviewer="r").limit == Money("8000.00", "CNY")
    declined = manual_decision(application, approve=False, reviewer="r", note="thin file")
    assert declined.outcome is Outcome.DECLINED and declined.reasons == ("thin file",)
    with pytest.raises(InvalidInput, match="limit"):
        manual_decision(application, approve=True, reviewer="r", limit=Money("1.00", "USD"))
