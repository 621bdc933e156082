"""Five-level risk classification (五级分类), IFRS 9 / CAS 22 stages, non-accrual, and each
loan's history of changes as values.

**Classes.** 正常 normal, 关注 special mention, 次级 substandard, 可疑 doubtful, 损失 loss. A
:class:`ClassificationRules` holds DPD floors: a loan more than ``dpd`` days past due is at least
that class. The lender's own judgement (``Judgement.assessed``) may make it worse, never better.

- :data:`RISK_2023` (default): 《商业银行金融资产风险分类办法》(原银保监会、中国人民银行令 2023 年第
  1 号, in force 2023-07-01): any overdue principal or interest: at least 关注; more than 90
  days: at least 次级; more than 270: at least 可疑; more than 360: 损失.
- :data:`CARD_2011`: 《商业银行信用卡业务监督管理办法》(2011) 第九十二条: overdue 1-90 days 关注,
  91-120 次级, 121-180 可疑, more than 180 损失.

**Stages** (CAS 22 / IFRS 9 expected credit loss): stage 2 when credit risk increased
significantly (the flag) or more than 30 days past due (the rebuttable presumption of IFRS 9
5.5.11); stage 3 when credit-impaired (the flag), more than 90 days past due (the default
presumption of B5.5.37) or classified 次级 or worse (a non-performing loan is credit-impaired in
Chinese practice; set ``stage_3_from`` to None to keep the two apart).

**Non-accrual** (停止计息入账): more than ``non_accrual_days`` (90) past due.

:func:`classify_day` records a day's classification in a :class:`ClassificationHistory`: a
change (class, stage, bucket or non-accrual) is appended with its date and reason; the same day
classified again gives the same history (idempotent), and a day before the last one classified
is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.delinquency.aging import DEFAULT_BUCKETS, BucketScheme, dpd, require_grace_days
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.postings import Stage
from loancore.servicing.loan import Loan

__all__ = [
    "CARD_2011",
    "CHANGES_MAX",
    "IFRS9_BACKSTOPS",
    "RISK_2023",
    "Classification",
    "ClassificationChange",
    "ClassificationHistory",
    "ClassificationRules",
    "DelinquencyPolicy",
    "Judgement",
    "RiskClass",
    "StageRules",
    "classify",
    "classify_day",
    "classify_dpd",
    "record_day",
]

CHANGES_MAX = 10_000
"""The most changes one loan's history keeps."""


class RiskClass(enum.IntEnum):
    """五级分类, worse is higher; persisted by value."""

    NORMAL = 1  # 正常
    SPECIAL_MENTION = 2  # 关注
    SUBSTANDARD = 3  # 次级
    DOUBTFUL = 4  # 可疑
    LOSS = 5  # 损失

    @property
    def name_zh(self) -> str:
        return _NAMES_ZH[self]

    @property
    def nonperforming(self) -> bool:
        """次级, 可疑 and 损失 are non-performing (不良)."""
        return self >= RiskClass.SUBSTANDARD


_NAMES_ZH = {
    RiskClass.NORMAL: "正常",
    RiskClass.SPECIAL_MENTION: "关注",
    RiskClass.SUBSTANDARD: "次级",
    RiskClass.DOUBTFUL: "可疑",
    RiskClass.LOSS: "损失",
}


def _floors(value: Any) -> tuple[tuple[int, RiskClass], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("floors", value, "expected (dpd, RiskClass) pairs")
    floors = tuple(value)
    if not 1 <= len(floors) <= len(RiskClass):
        raise InvalidInput("floors", value, f"expected 1 to {len(RiskClass)} floors")
    previous_days, previous_class = -1, RiskClass.NORMAL
    for pair in floors:
        if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[1], RiskClass):
            raise InvalidInput("floors", value, "expected (dpd, RiskClass) pairs")
        days, floor = pair
        if type(days) is not int or days <= previous_days or floor <= previous_class:
            raise InvalidInput("floors", value, "DPD and classes both increasing")
        previous_days, previous_class = days, floor
    return floors


@attrs.frozen
class ClassificationRules:
    """DPD floors: ``(days, class)`` pairs, increasing; more than ``days`` past due is at least
    ``class``. ``name`` says which rules they are."""

    name: str = attrs.field(validator=lambda _i, _a, v: require_id("name", v))
    floors: tuple[tuple[int, RiskClass], ...] = attrs.field(converter=_floors)

    def floor(self, days: int) -> tuple[RiskClass, int | None]:
        """The class DPD ``days`` is at least, and the bound it passed (None: no floor)."""
        result: tuple[RiskClass, int | None] = (RiskClass.NORMAL, None)
        for bound, floor in self.floors:  # bounded by len(RiskClass)
            if days > bound:
                result = (floor, bound)
        return result


RISK_2023 = ClassificationRules(
    "商业银行金融资产风险分类办法 (2023)",
    (
        (0, RiskClass.SPECIAL_MENTION),
        (90, RiskClass.SUBSTANDARD),
        (270, RiskClass.DOUBTFUL),
        (360, RiskClass.LOSS),
    ),
)
CARD_2011 = ClassificationRules(
    "商业银行信用卡业务监督管理办法 (2011) 第九十二条",
    (
        (0, RiskClass.SPECIAL_MENTION),
        (90, RiskClass.SUBSTANDARD),
        (120, RiskClass.DOUBTFUL),
        (180, RiskClass.LOSS),
    ),
)


def _days(field: str) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if type(value) is not int or value < 0:
            raise InvalidInput(field, value, "expected an int >= 0")

    return check


def _class_or_none(value: object) -> RiskClass | None:
    if value is None or isinstance(value, RiskClass):
        return value
    raise InvalidInput("stage_3_from", value, "expected a RiskClass or None")


@attrs.frozen(kw_only=True)
class StageRules:
    """Stage backstops: more than ``stage_2_dpd`` days past due is at least stage 2, more than
    ``stage_3_dpd`` stage 3, and a class at or worse than ``stage_3_from`` stage 3."""

    stage_2_dpd: int = attrs.field(default=30, validator=_days("stage_2_dpd"))
    stage_3_dpd: int = attrs.field(default=90, validator=_days("stage_3_dpd"))
    stage_3_from: RiskClass | None = attrs.field(
        default=RiskClass.SUBSTANDARD, converter=_class_or_none
    )

    def __attrs_post_init__(self) -> None:
        if self.stage_3_dpd < self.stage_2_dpd:
            raise InvalidInput("stage_3_dpd", self.stage_3_dpd, "at least stage_2_dpd")


IFRS9_BACKSTOPS = StageRules()
"""30 and 90 days, and 次级 or worse in stage 3."""


@attrs.frozen(kw_only=True)
class DelinquencyPolicy:
    """A product's delinquency settings: grace days, buckets, class floors, stage rules and the
    non-accrual threshold (more than ``non_accrual_days`` past due)."""

    grace_days: int = attrs.field(default=0, validator=lambda _i, _a, v: require_grace_days(v))
    buckets: BucketScheme = DEFAULT_BUCKETS
    rules: ClassificationRules = RISK_2023
    stages: StageRules = IFRS9_BACKSTOPS
    non_accrual_days: int = attrs.field(default=90, validator=_days("non_accrual_days"))


@attrs.frozen(kw_only=True)
class Judgement:
    """What the lender knows beyond DPD: its own class (never better than the DPD floor), a
    significant increase in credit risk (stage 2), credit impairment (stage 3)."""

    assessed: RiskClass = RiskClass.NORMAL
    significant_increase: bool = False
    credit_impaired: bool = False


def _texts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Classification:
    """A loan's standing on ``as_of``; ``reasons`` say which rule set each figure."""

    as_of: date
    dpd: int
    bucket: str
    risk_class: RiskClass
    stage: Stage
    non_accrual: bool
    reasons: tuple[str, ...] = attrs.field(default=(), eq=False, converter=_texts)

    def key(self) -> tuple[str, RiskClass, Stage, bool]:
        """What a change is: bucket, class, stage or non-accrual."""
        return (self.bucket, self.risk_class, self.stage, self.non_accrual)


def _stage(days: int, risk_class: RiskClass, rules: StageRules, judgement: Judgement) -> Stage:
    three = (
        judgement.credit_impaired
        or days > rules.stage_3_dpd
        or (rules.stage_3_from is not None and risk_class >= rules.stage_3_from)
    )
    if three:
        return Stage.THREE
    if judgement.significant_increase or days > rules.stage_2_dpd:
        return Stage.TWO
    return Stage.ONE


def classify(
    loan: Loan, as_of: date, policy: DelinquencyPolicy, judgement: Judgement = Judgement()
) -> Classification:
    """``loan``'s DPD, bucket, class, stage and non-accrual on ``as_of`` under ``policy``."""
    return classify_dpd(dpd(loan, as_of, policy.grace_days), as_of, policy, judgement)


def classify_dpd(
    days: int, as_of: date, policy: DelinquencyPolicy, judgement: Judgement = Judgement()
) -> Classification:
    """THE classification rule (:func:`classify` of a loan; a credit line's close of day):
    bucket, class, stage and non-accrual of ``days`` past due on ``as_of`` under ``policy``."""
    floor, bound = policy.rules.floor(days)
    risk_class = max(floor, judgement.assessed)
    reasons = [f"dpd {days}"]
    if bound is not None:
        reasons.append(f"dpd {days} > {bound}: at least {floor.name_zh}")
    if judgement.assessed > floor:
        reasons.append(f"assessed {judgement.assessed.name_zh}")
    stage = _stage(days, risk_class, policy.stages, judgement)
    non_accrual = days > policy.non_accrual_days
    if non_accrual:
        reasons.append(f"dpd {days} > {policy.non_accrual_days}: non-accrual")
    return Classification(
        as_of=as_of,
        dpd=days,
        bucket=policy.buckets.bucket_of(days).label,
        risk_class=risk_class,
        stage=stage,
        non_accrual=non_accrual,
        reasons=tuple(reasons),
    )


@attrs.frozen(kw_only=True)
class ClassificationChange:
    """The loan's standing changed on ``classification.as_of``; ``reason`` says what and why."""

    classification: Classification
    reason: str

    @property
    def as_of(self) -> date:
        return self.classification.as_of


def _changes(value: Any) -> tuple[ClassificationChange, ...]:
    changes = tuple(value)
    if len(changes) > CHANGES_MAX:
        raise InvalidInput("changes", f"<{len(changes)} changes>", f"at most {CHANGES_MAX}")
    return changes


@attrs.frozen(kw_only=True)
class ClassificationHistory:
    """One loan's changes of standing, oldest first, and the last day classified (``through``).

    Before any change the loan is 正常, stage 1, M0 and accruing (:meth:`current` is None).
    """

    loan_id: str = attrs.field(validator=lambda _i, _a, v: require_id("loan_id", v))
    changes: tuple[ClassificationChange, ...] = attrs.field(default=(), converter=_changes)
    through: date | None = None

    @property
    def current(self) -> Classification | None:
        return self.changes[-1].classification if self.changes else None

    def on(self, day: date) -> Classification | None:
        """The standing in force on ``day`` (the last change on or before it)."""
        result = None
        for change in self.changes:  # bounded by CHANGES_MAX
            if change.as_of > day:
                break
            result = change.classification
        return result


def _describe(before: Classification | None, after: Classification) -> str:
    old = _UNCLASSIFIED if before is None else before.key()
    parts = []
    if old[0] != after.bucket:
        parts.append(f"bucket {old[0]} -> {after.bucket}")
    if old[1] != after.risk_class:
        parts.append(f"class {old[1].name_zh} -> {after.risk_class.name_zh}")
    if old[2] != after.stage:
        parts.append(f"stage {int(old[2])} -> {int(after.stage)}")
    if old[3] != after.non_accrual:
        parts.append("non-accrual" if after.non_accrual else "accrual resumed")
    return f"{', '.join(parts)} ({'; '.join(after.reasons)})"


def classify_day(
    history: ClassificationHistory,
    loan: Loan,
    as_of: date,
    policy: DelinquencyPolicy,
    judgement: Judgement = Judgement(),
) -> ClassificationHistory:
    """``history`` with ``loan`` classified on ``as_of`` (see the module docstring).

    A day after ``history.through`` appends a change if the standing differs. The same day again
    replaces that day's change if the loan changed in between (a payment later that day), else
    returns ``history`` as it was. A day before ``through`` is refused
    (``CLASSIFICATION_BEFORE_LAST``): a history is built forward only.
    """
    require_date("as_of", as_of)
    if history.loan_id != loan.loan_id:
        raise InvalidInput("loan", loan.loan_id, f"the history's loan {history.loan_id}")
    _require_not_before(history, as_of)
    return record_day(history, classify(loan, as_of, policy, judgement))


def _require_not_before(history: ClassificationHistory, as_of: date) -> None:
    if history.through is not None and as_of < history.through:
        detail = f"{as_of} is before {history.through}, the last day classified"
        raise DelinquencyRejected(RejectionCode.CLASSIFICATION_BEFORE_LAST, detail)


def record_day(history: ClassificationHistory, today: Classification) -> ClassificationHistory:
    """``history`` with ``today`` (a :func:`classify` result for the history's loan) recorded as
    :func:`classify_day` records it; a day before ``history.through`` is refused
    (``CLASSIFICATION_BEFORE_LAST``). For a caller that already classified the day."""
    as_of = today.as_of
    _require_not_before(history, as_of)
    changes = history.changes
    if changes and changes[-1].as_of == as_of:
        changes = changes[:-1]  # classified again the same day: the day's change is decided afresh
    before = changes[-1].classification if changes else None
    unchanged = before.key() if before is not None else _UNCLASSIFIED
    if today.key() != unchanged:
        change = ClassificationChange(classification=today, reason=_describe(before, today))
        changes = (*changes, change)
    if changes is history.changes and history.through == as_of:
        return history  # the same day again, nothing changed in between
    result = attrs.evolve(history, changes=changes, through=as_of)
    return history if result == history else result


_UNCLASSIFIED = ("M0", RiskClass.NORMAL, Stage.ONE, False)
"""The key of a loan with no change yet: 正常, stage 1, M0, accruing."""
