"""Accounting subjects (会计科目) and the chart of accounts that holds them.

A :class:`Subject` is one account of the chart: a code (``"1303"``, sub-accounts dotted:
``"1303.01"``), a Chinese and an English name, a :class:`SubjectKind`, the :class:`Side` on which
its balance normally sits, an optional parent and the dates between which postings are allowed.

A :class:`Chart` is an immutable set of subjects with lookups and roll-ups. Its tree is walked
with an explicit stack (no recursion over user data) and every walk is bounded by the number of
subjects, so a malformed chart (a parent cycle) is refused at construction instead of looping.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any, TypeVar

import attrs

from loancore.checks import ID_LENGTH_MAX, require_date, require_id, require_text
from loancore.errors import InvalidInput, NotFound

__all__ = [
    "CHART_DEPTH_MAX",
    "CHART_SUBJECTS_MAX",
    "Chart",
    "Side",
    "Subject",
    "SubjectKind",
    "enum_value",
]

CHART_DEPTH_MAX = 16
"""The most levels a chart may have (a root subject is level 1): real charts have three or four;
the bound keeps every walk up a subject's ancestors short."""

CHART_SUBJECTS_MAX = 100_000
"""The most subjects a chart may hold."""

# Digits or ASCII letters, dot-separated: "1303", "1303.01", "6702.S1". Dots mark sub-accounts.
_CODE = re.compile(r"[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*")

E = TypeVar("E", bound=enum.Enum)


def enum_value(kind: type[E], field: str, value: object) -> E:
    """``value`` as a member of the str enum ``kind``: the member itself or its exact value
    string; anything else is :class:`~loancore.errors.InvalidInput` naming ``field``."""
    if type(value) is kind:
        return value
    if type(value) is str:
        for member in kind:
            if member.value == value:
                return member
    raise InvalidInput(field, value, f"expected one of {[m.value for m in kind]}")


class SubjectKind(str, enum.Enum):
    """The six classes of the Chinese financial-enterprise chart (persisted by value).

    ``COMMON`` is 共同类 (clearing accounts such as 3001 清算资金往来), whose balance may sit on
    either side.
    """

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"
    COMMON = "common"


class Side(str, enum.Enum):
    """Debit (借) or credit (贷); persisted by value."""

    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


_NORMAL_SIDE: dict[SubjectKind, Side] = {
    SubjectKind.ASSET: Side.DEBIT,
    SubjectKind.EXPENSE: Side.DEBIT,
    SubjectKind.COMMON: Side.DEBIT,
    SubjectKind.LIABILITY: Side.CREDIT,
    SubjectKind.EQUITY: Side.CREDIT,
    SubjectKind.INCOME: Side.CREDIT,
}


def _default_normal_side(subject: Subject) -> Side:
    return _NORMAL_SIDE[subject.kind]


def _kind(value: object) -> SubjectKind:
    return enum_value(SubjectKind, "kind", value)


def _normal_side(value: object) -> Side:
    return enum_value(Side, "normal_side", value)


def _check_code(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not _CODE.fullmatch(require_id(attribute.name, value)):
        raise InvalidInput(attribute.name, value, "expected a code like '1303' or '1303.01'")


def _check_optional_code(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _check_code(instance, attribute, value)


def _check_name(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not require_text(attribute.name, value, length_max=ID_LENGTH_MAX).strip():
        raise InvalidInput(attribute.name, value, "expected a non-empty name")


def _check_optional_date(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        require_date(attribute.name, value)


@attrs.frozen
class Subject:
    """One accounting subject (会计科目).

    ``normal_side`` defaults from ``kind`` (assets, expenses and common subjects debit;
    liabilities, equity and income credit); contra accounts such as 1231 坏账准备 or
    1304 贷款损失准备 are assets with a credit normal side and say so explicitly. ``open_date``
    and ``close_date`` bound the accounting dates on which the subject may be posted, both
    inclusive; ``None`` means unbounded.
    """

    code: str = attrs.field(validator=_check_code)
    name_zh: str = attrs.field(validator=_check_name)
    name_en: str = attrs.field(validator=_check_name)
    kind: SubjectKind = attrs.field(converter=_kind)
    normal_side: Side = attrs.field(
        default=attrs.Factory(_default_normal_side, takes_self=True), converter=_normal_side
    )
    parent_code: str | None = attrs.field(default=None, validator=_check_optional_code)
    open_date: date | None = attrs.field(default=None, validator=_check_optional_date)
    close_date: date | None = attrs.field(default=None, validator=_check_optional_date)

    def __attrs_post_init__(self) -> None:
        if self.parent_code == self.code:
            raise InvalidInput("parent_code", self.parent_code, "cannot be the subject itself")
        if self.open_date and self.close_date and self.close_date < self.open_date:
            reason = f"is before open_date {self.open_date}"
            raise InvalidInput("close_date", self.close_date, reason)

    def is_open_on(self, day: date) -> bool:
        """Whether postings dated ``day`` are allowed (open_date <= day <= close_date)."""
        if self.open_date is not None and day < self.open_date:
            return False
        return self.close_date is None or day <= self.close_date


def _subjects_converter(subjects: Iterable[Subject]) -> tuple[Subject, ...]:
    if isinstance(subjects, Subject) or not isinstance(subjects, Iterable):
        raise InvalidInput("subjects", subjects, "expected an iterable of Subject values")
    items: list[Subject] = []
    for i, subject in enumerate(subjects):
        if i >= CHART_SUBJECTS_MAX:
            reason = f"a chart holds at most {CHART_SUBJECTS_MAX} subjects"
            raise InvalidInput("subjects", f"<more than {CHART_SUBJECTS_MAX}>", reason)
        if not isinstance(subject, Subject):
            raise InvalidInput(f"subjects[{i}]", subject, "expected a Subject")
        items.append(subject)
    return tuple(sorted(items, key=lambda s: s.code))


@attrs.frozen
class Chart:
    """An immutable chart of accounts: subjects sorted by code, with lookups and roll-ups.

    Checked at construction, in time linear in the number of subjects: codes are unique, every
    parent exists, a child has its parent's kind, the parent links form a forest (no cycle), at
    most :data:`CHART_DEPTH_MAX` levels and :data:`CHART_SUBJECTS_MAX` subjects.
    """

    subjects: tuple[Subject, ...] = attrs.field(converter=_subjects_converter)
    _by_code: dict[str, Subject] = attrs.field(init=False, repr=False, eq=False)
    _children: dict[str, tuple[str, ...]] = attrs.field(init=False, repr=False, eq=False)
    _leaves: dict[str, Subject] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_code: dict[str, Subject] = {}
        for subject in self.subjects:
            if subject.code in by_code:
                raise InvalidInput("subjects", subject.code, "duplicate subject code")
            by_code[subject.code] = subject
        children: dict[str, list[str]] = {}
        for subject in self.subjects:  # in code order, so each list of children is sorted
            if subject.parent_code is None:
                continue
            parent = by_code.get(subject.parent_code)
            if parent is None:
                field = f"{subject.code}.parent_code"
                raise InvalidInput(field, subject.parent_code, "unknown parent")
            if parent.kind is not subject.kind:
                reason = f"differs from parent {parent.code}"
                raise InvalidInput(f"{subject.code}.kind", subject.kind.value, reason)
            children.setdefault(parent.code, []).append(subject.code)
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_children", {k: tuple(v) for k, v in children.items()})
        leaves = {code: subject for code, subject in by_code.items() if code not in children}
        object.__setattr__(self, "_leaves", leaves)
        _check_levels(by_code)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_subjects(cls, subjects: Iterable[Subject]) -> Chart:
        return cls(subjects)

    def with_subjects(self, *subjects: Subject) -> Chart:
        """A new chart with ``subjects`` added, or replacing those with the same code."""
        replaced = {s.code: s for s in self.subjects}
        replaced.update({s.code: s for s in subjects})
        return Chart(replaced.values())

    # -- lookups --------------------------------------------------------------------------------

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Subject]:
        return iter(self.subjects)

    def __len__(self) -> int:
        return len(self.subjects)

    @property
    def by_code(self) -> Mapping[str, Subject]:
        """Code -> subject (read-only by contract; the hot path of the posting rules uses it)."""
        return self._by_code

    @property
    def leaves(self) -> Mapping[str, Subject]:
        """Code -> subject of the subjects without sub-accounts, the ones entries post to
        (read-only by contract; the posting rules' hot path uses it)."""
        return self._leaves

    def find(self, code: str) -> Subject | None:
        """The subject with ``code``, or None."""
        return self._by_code.get(code)

    def get(self, code: str) -> Subject:
        """The subject with ``code``; :class:`~loancore.errors.NotFound` if there is none."""
        subject = self._by_code.get(code)
        if subject is None:
            raise NotFound("subject", code)
        return subject

    def children(self, code: str) -> tuple[Subject, ...]:
        """The direct sub-accounts of ``code``, sorted by code."""
        self.get(code)
        return tuple(self._by_code[c] for c in self._children.get(code, ()))

    def is_leaf(self, code: str) -> bool:
        """Whether ``code`` is in the chart and has no sub-accounts (only leaves are posted to)."""
        return code in self._by_code and code not in self._children

    def subtree_codes(self, code: str) -> tuple[str, ...]:
        """``code`` and every subject below it, in code order; walked with an explicit stack."""
        self.get(code)
        found: list[str] = []
        stack = [code]
        for _ in range(len(self.subjects)):  # bound: each subject is visited at most once
            if not stack:
                break
            current = stack.pop()
            found.append(current)
            stack.extend(self._children.get(current, ()))
        return tuple(sorted(found))

    def roots(self) -> tuple[Subject, ...]:
        return tuple(s for s in self.subjects if s.parent_code is None)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Parent, grandparent, ... of ``code`` (nearest first); at most CHART_DEPTH_MAX - 1."""
        out: list[str] = []
        current = self.get(code)
        for _ in range(CHART_DEPTH_MAX):  # the chart's depth is checked at construction
            if current.parent_code is None:
                break
            out.append(current.parent_code)
            current = self._by_code[current.parent_code]
        return tuple(out)


def _check_levels(by_code: Mapping[str, Subject]) -> None:
    """Refuse parent links that form a cycle or a chain deeper than CHART_DEPTH_MAX.

    Linear: each subject's level is computed once, by walking up from it (an explicit path, at
    most CHART_DEPTH_MAX + 1 steps) to the first subject whose level is known or to a root, then
    filling in the levels along the path.
    """
    level: dict[str, int] = {}
    for code in by_code:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = code
        for _ in range(CHART_DEPTH_MAX + 1):
            if current is None or current in level:
                break
            if current in on_path:
                raise InvalidInput("subjects", current, "parent links form a cycle")
            path.append(current)
            on_path.add(current)
            current = by_code[current].parent_code
        else:
            reason = f"more than {CHART_DEPTH_MAX} levels of sub-accounts"
            raise InvalidInput(f"{code}.parent_code", by_code[code].parent_code, reason)
        above = 0 if current is None else level[current]
        for depth, name in enumerate(reversed(path), start=above + 1):
            if depth > CHART_DEPTH_MAX:
                reason = f"more than {CHART_DEPTH_MAX} levels of sub-accounts"
                raise InvalidInput(f"{name}.parent_code", by_code[name].parent_code, reason)
            level[name] = depth
