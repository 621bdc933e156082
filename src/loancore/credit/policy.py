"""The credit-decision port and the reference policy (see the package docstring).

The reference policy's rules, in order (the first that applies decides):

1. blacklisted customer: declined (reason ``blacklist``);
2. white-listed customer: approved at the requested limit, capped by ``whitelist_limit_max``
   (reason ``whitelist``);
3. score below ``review_min``: declined (``score < review_min``);
4. score below ``approve_min``: manual review (``review_min <= score < approve_min``);
5. otherwise approved at the requested limit, capped by the limit band of the score (the highest
   band whose ``score_min`` the score reaches).

A decision's limit is in the application's currency; a limit capped below ``limit_min`` sends
the application to manual review instead (too small a line is not worth opening blindly).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

import attrs

from loancore.checks import require_date, require_id, require_text
from loancore.errors import InvalidInput
from loancore.money import Money

__all__ = [
    "SCORE_MAX",
    "CreditApplication",
    "CreditDecision",
    "Decision",
    "LimitBand",
    "Outcome",
    "ReferencePolicy",
    "manual_decision",
]

SCORE_MAX = 1000
"""Scores run from 0 to SCORE_MAX (a bureau's 300-850 fits; so does an in-house 0-1000)."""

BANDS_MAX = 20
LIST_MAX = 1_000_000
REASON_LENGTH_MAX = 200


class Outcome(str, enum.Enum):
    """What was decided; persisted by value."""

    APPROVED = "approved"
    DECLINED = "declined"
    REVIEW = "review"  # waiting in the manual-review queue


def _id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_id(attribute.name, value)


def _score(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not int or not 0 <= value <= SCORE_MAX:
        raise InvalidInput(attribute.name, value, f"expected an int from 0 to {SCORE_MAX}")


def _positive_money(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money) or not value.is_positive():
        raise InvalidInput(attribute.name, value, "expected a positive Money")


def _day(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    require_date(attribute.name, value)


@attrs.frozen(kw_only=True)
class CreditApplication:
    """A customer asks for a credit line of ``requested_limit`` on ``applied_on``; ``score`` is
    the score the application's risk data gave (0 .. SCORE_MAX, higher is better)."""

    application_id: str = attrs.field(validator=_id)
    customer_id: str = attrs.field(validator=_id)
    requested_limit: Money = attrs.field(validator=_positive_money)
    score: int = attrs.field(validator=_score)
    applied_on: date = attrs.field(validator=_day)


def _reasons(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInput("reasons", value, "expected a sequence of strings")
    reasons = tuple(value)
    for reason in reasons:
        require_text("reasons", reason, length_max=REASON_LENGTH_MAX)
    return reasons


@attrs.frozen(kw_only=True)
class Decision:
    """The decision on an application: ``limit`` is the line granted when approved (None
    otherwise); ``reasons`` say which rule decided; ``decided_by`` names the policy or reviewer."""

    outcome: Outcome = attrs.field(converter=Outcome)
    limit: Money | None
    reasons: tuple[str, ...] = attrs.field(converter=_reasons)
    decided_by: str = attrs.field(validator=_id)

    def __attrs_post_init__(self) -> None:
        approved = self.outcome is Outcome.APPROVED
        if approved and (self.limit is None or not self.limit.is_positive()):
            raise InvalidInput("limit", self.limit, "an approval needs a positive limit")
        if not approved and self.limit is not None:
            raise InvalidInput("limit", self.limit, f"a {self.outcome.value} decision has none")


class CreditDecision(Protocol):
    """The port: a risk engine deciding an application. Pure: the same application gives the
    same decision (the facade stores it; a replayed application returns the stored one)."""

    def decide(self, application: CreditApplication) -> Decision: ...


@attrs.frozen
class LimitBand:
    """Scores from ``score_min`` up get at most ``limit_max`` (in minor units of any currency)."""

    score_min: int = attrs.field(validator=_score)
    limit_max_minor: int = attrs.field()

    @limit_max_minor.validator
    def _check(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if type(value) is not int or value <= 0:
            raise InvalidInput("limit_max_minor", value, "expected a positive int")


def _ids(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise InvalidInput("customer ids", value, "expected a collection of ids, not a string")
    ids = frozenset(value)
    if len(ids) > LIST_MAX:
        raise InvalidInput("customer ids", f"<{len(ids)} ids>", f"at most {LIST_MAX}")
    for customer_id in ids:
        require_id("customer id", customer_id)
    return ids


def _bands(value: Iterable[LimitBand]) -> tuple[LimitBand, ...]:
    bands = tuple(sorted(value, key=lambda band: band.score_min))
    if not 1 <= len(bands) <= BANDS_MAX:
        raise InvalidInput("bands", len(bands), f"expected 1 to {BANDS_MAX} limit bands")
    if any(not isinstance(band, LimitBand) for band in bands):
        raise InvalidInput("bands", value, "expected LimitBand values")
    return bands


DEFAULT_BANDS = (
    LimitBand(600, 1_000_000),  # 10,000.00
    LimitBand(700, 3_000_000),  # 30,000.00
    LimitBand(800, 5_000_000),  # 50,000.00
)


@attrs.frozen(kw_only=True)
class ReferencePolicy:
    """The reference policy (module docstring). Cut-offs: ``review_min <= approve_min``."""

    name: str = attrs.field(default="reference-policy", validator=_id)
    blacklist: frozenset[str] = attrs.field(factory=frozenset, converter=_ids)
    whitelist: frozenset[str] = attrs.field(factory=frozenset, converter=_ids)
    whitelist_limit_max_minor: int = 5_000_000
    review_min: int = attrs.field(default=550, validator=_score)
    approve_min: int = attrs.field(default=600, validator=_score)
    bands: tuple[LimitBand, ...] = attrs.field(default=DEFAULT_BANDS, converter=_bands)
    limit_min_minor: int = 100_000  # 1,000.00

    def __attrs_post_init__(self) -> None:
        if self.review_min > self.approve_min:
            reason = f"must not exceed approve_min {self.approve_min}"
            raise InvalidInput("review_min", self.review_min, reason)
        for field in ("whitelist_limit_max_minor", "limit_min_minor"):
            value = getattr(self, field)
            if type(value) is not int or value <= 0:
                raise InvalidInput(field, value, "expected a positive int")
        if self.blacklist & self.whitelist:
            both = sorted(self.blacklist & self.whitelist)[:3]
            raise InvalidInput("whitelist", both, "customers on both the blacklist and whitelist")

    def _band_max(self, score: int) -> int:
        allowed = 0
        for band in self.bands:  # bounded by BANDS_MAX, sorted by score_min
            if score >= band.score_min:
                allowed = band.limit_max_minor
        return allowed

    def _approve(self, application: CreditApplication, cap_minor: int, why: str) -> Decision:
        requested = application.requested_limit
        granted = min(requested.minor_units, cap_minor)
        if granted < self.limit_min_minor:
            reason = f"{why}; limit {granted} below limit_min {self.limit_min_minor} (minor units)"
            return Decision(
                outcome=Outcome.REVIEW, limit=None, reasons=(reason,), decided_by=self.name
            )
        limit = Money.from_minor(granted, requested.currency)
        capped = "" if granted == requested.minor_units else f", capped at {limit}"
        return Decision(
            outcome=Outcome.APPROVED, limit=limit, reasons=(f"{why}{capped}",), decided_by=self.name
        )

    def decide(self, application: CreditApplication) -> Decision:
        """The decision on ``application`` (the module docstring's rules, first match wins)."""
        if not isinstance(application, CreditApplication):
            raise InvalidInput("application", application, "expected a CreditApplication")
        customer, score = application.customer_id, application.score
        if customer in self.blacklist:
            return Decision(
                outcome=Outcome.DECLINED, limit=None, reasons=("blacklist",), decided_by=self.name
            )
        if customer in self.whitelist:
            return self._approve(application, self.whitelist_limit_max_minor, "whitelist")
        if score < self.review_min:
            reason = f"score {score} < review_min {self.review_min}"
            return Decision(
                outcome=Outcome.DECLINED, limit=None, reasons=(reason,), decided_by=self.name
            )
        if score < self.approve_min:
            reason = (
                f"review_min {self.review_min} <= score {score} < approve_min {self.approve_min}"
            )
            return Decision(
                outcome=Outcome.REVIEW, limit=None, reasons=(reason,), decided_by=self.name
            )
        reason = f"score {score} >= approve_min {self.approve_min}"
        return self._approve(application, self._band_max(score), reason)


def manual_decision(
    application: CreditApplication, *, approve: bool, reviewer: str, limit: Money | None = None,
    note: str = "",
) -> Decision:  # fmt: skip
    """A reviewer's decision on an application from the review queue: approved at ``limit``
    (default: the requested limit) or declined. ``note`` is kept as the reason."""
    require_id("reviewer", reviewer)
    require_text("note", note, length_max=REASON_LENGTH_MAX)
    if type(approve) is not bool:
        raise InvalidInput("approve", approve, "expected a bool")
    reasons = (note,) if note else (f"manual review by {reviewer}",)
    if not approve:
        if limit is not None:
            raise InvalidInput("limit", limit, "a declined application gets no limit")
        return Decision(outcome=Outcome.DECLINED, limit=None, reasons=reasons, decided_by=reviewer)
    granted = application.requested_limit if limit is None else limit
    if not isinstance(granted, Money) or granted.currency != application.requested_limit.currency:
        raise InvalidInput(
            "limit", limit, f"expected Money in {application.requested_limit.currency}"
        )
    return Decision(outcome=Outcome.APPROVED, limit=granted, reasons=reasons, decided_by=reviewer)
