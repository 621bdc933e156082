"""The input rules every part of loancore shares: business dates, identifiers and free text.

One copy of each rule, so that the ledger, the quota, servicing and settlement refuse the same
values with the same typed error on every store (memory, SQLite, PostgreSQL), instead of one
store accepting what another's driver chokes on.

Dates
    A business or accounting date is a :class:`datetime.date`, never a ``datetime`` (a subclass
    that would carry a time and compare unequal to the date) and never a string. It lies within
    :data:`DATE_MIN` .. :data:`DATE_MAX`: wide enough for any loan's life, narrow enough that a
    30-year schedule, a month-end or a T+N step from any accepted date stays a valid ``date``
    (``date.max`` plus one day is an ``OverflowError``).

Text
    Identifiers (entry ids, idempotency keys, line ids, dimension values) and free text (memos)
    are ``str`` that encode to UTF-8 (no lone surrogates) and contain no NUL character:
    PostgreSQL's text type cannot hold NUL, and a lone surrogate cannot be stored as UTF-8 by any
    driver. Identifiers are non-empty and at most :data:`ID_LENGTH_MAX` characters; free text at
    most :data:`TEXT_LENGTH_MAX`.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from loancore.errors import InvalidInput

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "ID_LENGTH_MAX",
    "TEXT_LENGTH_MAX",
    "parse_iso_date",
    "require_date",
    "require_id",
    "require_ids",
    "require_text",
]

DATE_MIN = datetime.date(1900, 1, 1)
DATE_MAX = datetime.date(2999, 12, 31)
ID_LENGTH_MAX = 200
TEXT_LENGTH_MAX = 2_000


def require_date(field: str, value: object) -> datetime.date:
    """``value`` if it is a ``datetime.date`` (not a datetime) in DATE_MIN..DATE_MAX; else
    :class:`~loancore.errors.InvalidInput` naming ``field``."""
    if type(value) is not datetime.date:
        raise InvalidInput(field, value, "expected a datetime.date (not a datetime or a string)")
    if not DATE_MIN <= value <= DATE_MAX:
        raise InvalidInput(field, value, f"expected a date from {DATE_MIN} to {DATE_MAX}")
    return value


def parse_iso_date(field: str, text: str) -> datetime.date:
    """``text`` (surrounding spaces aside) as an ISO calendar date ``YYYY-MM-DD`` in
    DATE_MIN..DATE_MAX: ASCII digits only (``date.fromisoformat`` also takes ``20260402`` and
    week dates such as ``2026-W14-4``); else InvalidInput naming ``field``."""
    stripped = text.strip() if isinstance(text, str) else ""
    digits = stripped[:4] + stripped[5:7] + stripped[8:]
    shaped = len(stripped) == 10 and stripped[4] == "-" and stripped[7] == "-"
    if not (shaped and digits.isascii() and digits.isdigit()):
        raise InvalidInput(field, text, "expected an ISO date YYYY-MM-DD")
    try:
        day = datetime.date.fromisoformat(stripped)
    except ValueError:
        raise InvalidInput(field, text, "expected an ISO date YYYY-MM-DD") from None
    try:
        return require_date(field, day)
    except InvalidInput as error:  # the message shows the text given, not the date made of it
        raise InvalidInput(field, text, error.reason) from None


def require_text(field: str, value: object, *, length_max: int = TEXT_LENGTH_MAX) -> str:
    """``value`` if it is a ``str`` of at most ``length_max`` characters that every store can
    keep (no NUL, no lone surrogate); else InvalidInput naming ``field``. May be empty."""
    if type(value) is not str:
        raise InvalidInput(field, value, "expected a string")
    if len(value) > length_max:
        raise InvalidInput(field, value, f"expected at most {length_max} characters")
    if "\x00" in value:
        raise InvalidInput(field, value, "a NUL character cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, value, "a lone surrogate cannot be stored as UTF-8") from None
    return value


def require_id(field: str, value: object) -> str:
    """``value`` if it is a non-empty identifier of at most ID_LENGTH_MAX characters that every
    store can keep (see :func:`require_text`); else InvalidInput naming ``field``."""
    text = require_text(field, value, length_max=ID_LENGTH_MAX)
    if not text:
        raise InvalidInput(field, value, "expected a non-empty identifier")
    return text


def require_ids(field: str, values: object, *, count_max: int) -> tuple[str, ...]:
    """``values`` as a tuple of identifiers (each as :func:`require_id` says, named
    ``field[i]``), at most ``count_max`` of them; else InvalidInput naming ``field``."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidInput(field, values, "expected a sequence of identifiers")
    if len(values) > count_max:
        raise InvalidInput(field, len(values), f"at most {count_max} identifiers")
    return tuple([require_id(f"{field}[{index}]", value) for index, value in enumerate(values)])
