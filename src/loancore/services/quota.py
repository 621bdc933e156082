"""Quota use cases over a :class:`~loancore.ports.QuotaStore`: the end-of-day batch.

:func:`run_end_of_day` moved here from ``loancore.quota.policy``: it drives a store, so it belongs
to the shell; the policy itself (:class:`~loancore.quota.DefaultLimitPolicy`) and the plan
(:func:`~loancore.quota.plan_end_of_day`) stay pure in the core.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import attrs

from loancore.errors import Rejected, RejectionCode
from loancore.ports import QuotaStore
from loancore.quota import (
    Command,
    CreditRecord,
    ExpireHolds,
    ExpireTemporaryLimits,
    LimitPolicy,
    QuotaResult,
    plan_end_of_day,
)

__all__ = ["EndOfDayReport", "Refusal", "run_end_of_day"]


@attrs.frozen
class Refusal:
    """A command of a batch that the store refused: its key, the stable code and the detail."""

    key: str
    code: RejectionCode
    detail: str


@attrs.frozen
class EndOfDayReport:
    """What the quota end-of-day batch did: the commands applied (with their events), in order,
    and the ones refused. A refused command was not recorded, so the next run retries it."""

    applied: tuple[QuotaResult, ...]
    refused: tuple[Refusal, ...]


def _apply(
    store: QuotaStore,
    command: Command,
    as_of: datetime.date,
    applied: list[QuotaResult],
    refused: list[Refusal],
) -> None:
    """``store.apply``, a refusal noted so the batch goes on.

    The library raises refusals (:mod:`loancore.errors`); a batch over many lines must not stop
    at the first line the policy's command no longer fits.
    """
    try:
        applied.append(store.apply(command, as_of=as_of))
    except Rejected as refusal:
        refused.append(Refusal(command.key, refusal.code, refusal.detail))


def run_end_of_day(
    store: QuotaStore,
    records: Mapping[str, CreditRecord],
    policy: LimitPolicy,
    *,
    as_of: datetime.date,
    key: str,
) -> EndOfDayReport:
    """The end-of-day batch over a quota store: expire holds and ended temporary limits (keys
    ``{key}:expire-holds:{line}``, ``{key}:expire-temporary:{line}``), then apply the policy's
    commands. A policy command whose key was already applied is skipped, so a raise planned on
    several days happens once. Each command is atomic on its own; rerunning the batch is safe.
    """
    applied: list[QuotaResult] = []
    refused: list[Refusal] = []
    for line_id in store.line_ids_with_expired_holds(as_of=as_of):
        expire_holds = ExpireHolds(key=f"{key}:expire-holds:{line_id}", line_id=line_id)
        _apply(store, expire_holds, as_of, applied, refused)
    for line in store.lines():
        if any(t.ends_on < as_of for t in line.temporary_limits):
            expire = ExpireTemporaryLimits(
                key=f"{key}:expire-temporary:{line.line_id}", line_id=line.line_id
            )
            _apply(store, expire, as_of, applied, refused)
    pairs = ((line, store.balance(line.line_id)) for line in store.lines())
    for command in plan_end_of_day(pairs, records, policy, as_of=as_of):
        if store.result(command.key) is None:
            _apply(store, command, as_of, applied, refused)
    return EndOfDayReport(tuple(applied), tuple(refused))
