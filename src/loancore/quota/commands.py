"""The quota operations, one frozen value each, validated when built.

Every command carries ``key``, its idempotency key: applying a command whose key was seen returns
the first result and changes nothing; the same key with a different command raises
:class:`~loancore.errors.IdempotencyConflict`. The business date is not part of a command (it is
passed as ``as_of`` when applying), so a retry that crosses midnight is still the same request.

Bad arguments raise :class:`~loancore.errors.InvalidInput` (a ``ValueError``) naming the field, or
:class:`~loancore.errors.FloatNotAllowed` for a float; dates must pass
:func:`loancore.checks.require_date` and identifiers :func:`loancore.checks.require_id`. Every
field is keyword-only (``Hold(key=..., line_id=..., amount=..., expires_on=...)``), so two dates
or two ids can never swap silently. A business refusal is raised when the command is applied
(:class:`~loancore.errors.QuotaRejected`), never returned.
"""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import attrs

from loancore.checks import ID_LENGTH_MAX, require_date, require_id, require_text
from loancore.errors import InvalidInput
from loancore.money import Money
from loancore.quota.model import RefundReason

__all__ = [
    "FINGERPRINT_VERSION",
    "AddTemporaryLimit",
    "AdjustLimit",
    "Capture",
    "Close",
    "Command",
    "Draw",
    "ExpireHolds",
    "ExpireTemporaryLimits",
    "Freeze",
    "Grant",
    "Hold",
    "RepaymentParts",
    "RestoreRefunded",
    "RestoreRepaid",
    "Unfreeze",
    "Void",
    "command_fingerprint",
]


def _identifier(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    require_id(attribute.name, value)


def _day(
    _instance: object, attribute: attrs.Attribute[datetime.date], value: datetime.date
) -> None:
    require_date(attribute.name, value)


def _money(value: object, field: str, *, positive: bool) -> None:
    if not isinstance(value, Money):
        raise InvalidInput(field, value, "expected a loancore.money.Money")
    amount = value.amount
    if amount < 0 or (positive and not amount):
        raise InvalidInput(field, value, "must be positive" if positive else "must not be negative")


def _positive(_instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    _money(value, attribute.name, positive=True)


def _not_negative(_instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    _money(value, attribute.name, positive=False)


def _optional_positive(
    _instance: object, attribute: attrs.Attribute[Money | None], value: Money | None
) -> None:
    if value is not None:
        _money(value, attribute.name, positive=True)


def _product(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    require_text(attribute.name, value, length_max=ID_LENGTH_MAX)


@attrs.frozen(kw_only=True)
class Grant:
    """Open a line: a master line (``master_id`` None) or a product sub-line of ``master_id``.

    ``limit`` is the permanent limit; the line can be used from ``starts_on`` to ``expires_on``
    inclusive. A sub-line must be in its master's currency and belong to the same borrower; its
    limit may exceed the master's (sub-lines may add up to more than the master; the master binds).
    """

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    borrower_id: str = attrs.field(validator=_identifier)
    limit: Money = attrs.field(validator=_positive)
    starts_on: datetime.date = attrs.field(validator=_day)
    expires_on: datetime.date = attrs.field(validator=_day)
    product: str = attrs.field(default="", validator=_product)
    master_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_identifier)
    )

    def __attrs_post_init__(self) -> None:
        if self.expires_on < self.starts_on:
            reason = f"must not be before starts_on {self.starts_on}"
            raise InvalidInput("expires_on", self.expires_on, reason)
        if self.master_id == self.line_id:
            raise InvalidInput("master_id", self.master_id, "a line cannot be its own master")


@attrs.frozen(kw_only=True)
class AdjustLimit:
    """Set the permanent limit to ``limit`` (up or down). Down below used leaves available at 0;
    nothing is forced to be repaid."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    limit: Money = attrs.field(validator=_not_negative)


@attrs.frozen(kw_only=True)
class Hold:
    """Authorize ``amount`` on a line (and its master) until ``expires_on`` inclusive.

    The hold's id is this command's ``key``: capture and void name it.
    """

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    amount: Money = attrs.field(validator=_positive)
    expires_on: datetime.date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class Capture:
    """Turn hold ``hold_id`` into use: all of it (``amount`` None) or ``amount`` of it, releasing
    the rest."""

    key: str = attrs.field(validator=_identifier)
    hold_id: str = attrs.field(validator=_identifier)
    amount: Money | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen(kw_only=True)
class Void:
    """Release open hold ``hold_id`` entirely."""

    key: str = attrs.field(validator=_identifier)
    hold_id: str = attrs.field(validator=_identifier)


@attrs.frozen(kw_only=True)
class ExpireHolds:
    """Release every open hold on ``line_id`` whose ``expires_on`` is before ``as_of``."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)


@attrs.frozen(kw_only=True)
class Draw:
    """Use ``amount`` directly, without a hold (a cash loan disbursed at once)."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    amount: Money = attrs.field(validator=_positive)


@attrs.frozen
class RepaymentParts:
    """How a repayment was allocated. Only ``principal`` ever restores quota.

    :class:`RestoreRepaid` takes this value, not an amount, so the repaid total (with interest,
    fees and penalties in it) cannot be passed by mistake: the caller states each part, and the
    quota takes the principal. All parts are in one currency and >= 0.
    """

    principal: Money = attrs.field(validator=_not_negative)
    interest: Money | None = attrs.field(default=None)
    fees: Money | None = attrs.field(default=None)
    penalties: Money | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        zero = Money.zero(self.principal.currency)
        for name in ("interest", "fees", "penalties"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, zero)
                continue
            _money(value, name, positive=False)
            if value.currency != self.principal.currency:
                reason = f"must be in {self.principal.currency} like principal"
                raise InvalidInput(name, value, reason)

    @property
    def total(self) -> Money:
        """Everything repaid; for the borrower's receipt, never for the quota."""
        return self.principal + self.interest + self.fees + self.penalties  # type: ignore[operator]


def _repayment(
    _instance: object, attribute: attrs.Attribute[RepaymentParts], value: RepaymentParts
) -> None:
    if not isinstance(value, RepaymentParts):
        raise InvalidInput(
            attribute.name,
            value,
            "expected RepaymentParts(principal=..., interest=..., ...): only the principal part "
            "of a repayment restores quota",
        )


@attrs.frozen(kw_only=True)
class RestoreRepaid:
    """Restore quota as principal is repaid: used goes down by ``repaid.principal`` exactly.

    Interest, fees and penalties never restore quota; they travel in ``repaid`` only so the
    caller's allocation is stated whole.
    """

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    repaid: RepaymentParts = attrs.field(validator=_repayment)


def _refund_reason(value: Any) -> RefundReason:
    try:
        return RefundReason(value)
    except ValueError:
        names = ", ".join(RefundReason.__members__)
        raise InvalidInput("reason", value, f"expected a RefundReason ({names})") from None


@attrs.frozen(kw_only=True)
class RestoreRefunded:
    """Restore the ``principal`` of a refunded order or cancelled loan (``reason``)."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    principal: Money = attrs.field(validator=_positive)
    reason: RefundReason = attrs.field(converter=_refund_reason)


@attrs.frozen(kw_only=True)
class Freeze:
    """Freeze the whole line (``amount`` None) or an amount of it. Freezing a master binds every
    sub-line; an amount may exceed what is available (available then stays at 0), but the frozen
    total may not exceed the line's effective limit (``QUOTA_FREEZE_EXCEEDS_LIMIT``)."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    amount: Money | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen(kw_only=True)
class Unfreeze:
    """Lift a whole-line freeze (``amount`` None) or unfreeze an amount."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    amount: Money | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen(kw_only=True)
class AddTemporaryLimit:
    """Add ``amount`` to the line's limit from ``starts_on`` to ``ends_on`` inclusive
    (临时额度). Its id is this command's ``key``."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)
    amount: Money = attrs.field(validator=_positive)
    starts_on: datetime.date = attrs.field(validator=_day)
    ends_on: datetime.date = attrs.field(validator=_day)

    def __attrs_post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            reason = f"must not be before starts_on {self.starts_on}"
            raise InvalidInput("ends_on", self.ends_on, reason)


@attrs.frozen(kw_only=True)
class ExpireTemporaryLimits:
    """Remove the line's temporary limits that ended before ``as_of`` (one event each)."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)


@attrs.frozen(kw_only=True)
class Close:
    """Close the line for good: no new holds or draws; repayments still restore used. Closing a
    master closes every sub-line through the master binding."""

    key: str = attrs.field(validator=_identifier)
    line_id: str = attrs.field(validator=_identifier)


Command = (
    Grant
    | AdjustLimit
    | Hold
    | Capture
    | Void
    | ExpireHolds
    | Draw
    | RestoreRepaid
    | RestoreRefunded
    | Freeze
    | Unfreeze
    | AddTemporaryLimit
    | ExpireTemporaryLimits
    | Close
)
"""Any quota operation."""

COMMAND_TYPES: tuple[type, ...] = (
    Grant, AdjustLimit, Hold, Capture, Void, ExpireHolds, Draw, RestoreRepaid, RestoreRefunded,
    Freeze, Unfreeze, AddTemporaryLimit, ExpireTemporaryLimits, Close,
)  # fmt: skip
HOLD_COMMANDS: tuple[type, ...] = (Capture, Void)


FINGERPRINT_VERSION = 1
"""The format of :func:`command_fingerprint`; a store keeps fingerprints, so a new format gets a
new number and stores keep accepting the old one."""


def command_fingerprint(command: Command) -> str:
    """``command``'s content as canonical text: what a replay of its key must match in a store that
    keeps commands as text (the SQL store; the memory store compares the values themselves).

    JSON with sorted keys: the format version, the command's type name, and its fields, with money
    as ``[minor units, currency]`` (so equal amounts written at different Decimal exponents agree),
    dates in ISO form, enums by value, nested values (``RepaymentParts``) the same way. A field
    that holds its default is left out, so a field added to a command later, with a default, does
    not change the fingerprint of the commands stored before it. Equal commands give equal text
    and, for every command type, different field values give different text (property-tested).
    """
    document = {
        "v": FINGERPRINT_VERSION,
        "command": type(command).__name__,
        "fields": _canonical_fields(command),
    }
    return _FINGERPRINT_ENCODER.encode(document)


_FINGERPRINT_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
"""The encoder of :func:`command_fingerprint`, built once (``json.dumps`` with these options
builds one a call): the same text."""


_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {}
"""Each attrs class's (field name, default) pairs, read from ``attrs.fields`` once."""


def _canonical_fields(value: Any) -> dict[str, Any]:
    kind = type(value)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple((f.name, f.default) for f in attrs.fields(kind))
    out: dict[str, Any] = {}
    for name, default in fields:
        item = getattr(value, name)
        if default is not attrs.NOTHING and item == default:
            continue
        out[name] = _canonical(item)
    return out


def _canonical(value: Any) -> Any:
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, Money):
        return [value.minor_units, value.currency]
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return _canonical_fields(value)
    if isinstance(value, str):  # a str subclass: its text
        return str(value)
    raise InvalidInput("command", value, "holds a value with no canonical form")
