"""The quota state machine (loancore.testing.quota) against every store."""

from __future__ import annotations

from hypothesis import settings

from loancore.testing.quota import QuotaStateMachine


class MemoryQuotaMachine(QuotaStateMachine):
    pass


TestMemoryQuotaLifecycles = MemoryQuotaMachine.TestCase
TestMemoryQuotaLifecycles.settings = settings(stateful_step_count=40)
