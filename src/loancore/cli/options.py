"""Option text -> loancore values, refusing bad text with loancore's typed errors.

Every command takes its values as text and converts them here, so that ``--rate abc`` or
``--start 2026-02-30`` is refused by the same :class:`~loancore.errors.InvalidInput` (naming the
field and the value) a library caller gets, and the command line shows it as one line.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from loancore.checks import parse_iso_date as parse_date
from loancore.errors import InvalidInput
from loancore.money import to_decimal

__all__ = ["choices", "parse_date", "parse_decimal", "parse_int", "parse_rate"]

INT_DIGITS_MAX = 9
"""Counts given on the command line have at most this many digits (no one has 10**9 periods)."""


def parse_decimal(field: str, text: str) -> Decimal:
    """``text`` as an exact Decimal (``"0.18"``, ``"12000"``); never through a float."""
    return to_decimal(text, field=field)


def parse_rate(field: str, text: str) -> Decimal:
    """``text`` as a rate fraction: ``"0.18"`` as is, or a percentage ``"18%"`` (0.18, exactly:
    the decimal point moves two places, no division rounds)."""
    stripped = text.strip()
    if stripped.endswith("%"):
        return to_decimal(stripped.removesuffix("%"), field=field).scaleb(-2)
    return to_decimal(stripped, field=field)


def parse_int(field: str, text: str) -> int:
    """``text`` as a whole number in decimal digits, optionally signed."""
    digits = text.strip().removeprefix("-").removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or len(digits) > INT_DIGITS_MAX:
        raise InvalidInput(
            field, text, f"expected a whole number of at most {INT_DIGITS_MAX} digits"
        )
    return int(text.strip())


def choices(members: type[enum.Enum]) -> str:
    """The values of an enum of strings, for help texts: ``"monthly, weekly, ..."``."""
    return ", ".join(str(member.value) for member in members)
