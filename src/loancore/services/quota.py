"""Quota use cases over a :class:`~loancore.ports.QuotaStore`: the end-of-day batch.

:func:`run_end_of_day` moved here from ``loancore.quota.policy``: it drives a store, so it belongs
to the shell; the policy itself (:class:`~loancore.quota.DefaultLimitPolicy`) and the plan
(:func:`~loancore.quota.plan_end_of_day`) stay pure in the core.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from loancore.errors import Rejected
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

__all__ = ["run_end_of_day"]


def _apply(store: QuotaStore, command: Command, as_of: datetime.date) -> QuotaResult:
    """``store.apply``, with a refusal reported as a refused result so the batch goes on.

    The library raises refusals (:mod:`loancore.errors`); a batch over many lines must not stop
    at the first line the policy's command no longer fits, so it records the refusal's code in
    the command's place. A refused command is not recorded by the store: the next run retries it.
    """
    try:
        return store.apply(command, as_of=as_of)
    except Rejected as refusal:
        return QuotaResult(command.key, refusal.code)


def run_end_of_day(
    store: QuotaStore,
    records: Mapping[str, CreditRecord],
    policy: LimitPolicy,
    *,
    as_of: datetime.date,
    key: str,
) -> tuple[QuotaResult, ...]:
    """The end-of-day batch over a quota store: expire holds and ended temporary limits (keys
    ``{key}:expire-holds:{line}``, ``{key}:expire-temporary:{line}``), then apply the policy's
    commands. A policy command whose key was already applied is skipped, so a raise planned on
    several days happens once. Each command is atomic on its own; rerunning the batch is safe.

    Returns one result per command applied, in order: accepted ones with their events, refused
    ones (a :class:`~loancore.errors.Rejected` the store raised) with the refusal's code.
    """
    results: list[QuotaResult] = []
    for line_id in store.line_ids_with_expired_holds(as_of=as_of):
        expire_holds = ExpireHolds(f"{key}:expire-holds:{line_id}", line_id)
        results.append(_apply(store, expire_holds, as_of))
    for line in store.lines():
        if any(t.ends_on < as_of for t in line.temporary_limits):
            expire = ExpireTemporaryLimits(f"{key}:expire-temporary:{line.line_id}", line.line_id)
            results.append(_apply(store, expire, as_of))
    pairs = ((line, store.balance(line.line_id)) for line in store.lines())
    for command in plan_end_of_day(pairs, records, policy, as_of=as_of):
        if store.result(command.key) is None:
            results.append(_apply(store, command, as_of))
    return tuple(results)
