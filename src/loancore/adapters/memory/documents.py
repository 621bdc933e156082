"""What the loan and credit-line stores share, in memory and (the argument checks) on SQL: a
batch of ids checked, a page's ``after`` / ``limit`` checked, a product version kept once and
found by its reference. :mod:`loancore.adapters.memory.loans` and
:mod:`loancore.adapters.memory.lines` call these with their own names and bounds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from loancore.errors import IdempotencyConflict, InvalidInput, NotFound

__all__ = [
    "PAGE_LIMIT_MAX",
    "Versioned",
    "check_id_batch",
    "check_page",
    "find_product",
    "keep_product",
]

PAGE_LIMIT_MAX = 100_000
"""The most ids one page (``loan_ids``, ``line_ids``, ``standings`` ...) returns."""


def check_id_batch(field: str, ids: object, maximum: int, noun: str) -> tuple[str, ...]:
    """``ids`` (argument ``field``) as a tuple of str, at most ``maximum`` of them; ``noun``
    names one (``loan``, ``account``) in the refusal."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise InvalidInput(field, ids, f"expected a sequence of {noun} ids")
    if len(ids) > maximum:
        raise InvalidInput(field, len(ids), f"at most {maximum} ids")
    for index, one in enumerate(ids):
        if not isinstance(one, str):
            raise InvalidInput(f"{field}[{index}]", one, "expected a str")
    return tuple(ids)


def check_page(after: object, limit: object) -> None:
    """A page's arguments: ``after`` a str, ``limit`` an int from 1 to :data:`PAGE_LIMIT_MAX`."""
    if not isinstance(after, str):
        raise InvalidInput("after", after, "expected a str")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
        raise InvalidInput("limit", limit, f"expected an int from 1 to {PAGE_LIMIT_MAX}")


class Versioned(Protocol):
    """A product version: what the stores key it by."""

    @property
    def product_id(self) -> str: ...

    @property
    def version(self) -> int: ...


P = TypeVar("P", bound=Versioned)


def keep_product(stored: P | None, product: P, noun: str) -> P:
    """The product version to keep: ``product`` if none is ``stored``, the stored one if it is
    the same; another product under a stored version is IdempotencyConflict (``<noun> version
    changed``: a version never changes)."""
    if stored is None:
        return product
    if stored != product:
        raise IdempotencyConflict(
            f"{product.product_id}@{product.version}", f"{noun} version changed"
        )
    return stored


def find_product(found: P | None, product_id: str, version: int, noun: str) -> P:
    """``found``, or NotFound (``<noun>``, ``<id>@<version>``) when there is none."""
    if found is None:
        raise NotFound(noun, f"{product_id}@{version}")
    return found
