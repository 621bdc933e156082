"""Credit decisions (授信审批), the pure core: an application in, a decision out.

- :class:`CreditApplication`: who asks, for how much, with which bureau or in-house score;
- :class:`CreditDecision`: the port a lender's risk engine implements (``decide``);
- :class:`Decision`: approved (with the limit granted), declined, or sent to manual review;
- :class:`ReferencePolicy`: a small rule-based reference policy (blacklist, white-list auto
  approval, score cut-offs and limit bands, the manual-review band).

Real risk engines (bureau calls, models, anti-fraud) stay in the application: they implement
:class:`CreditDecision` and the lender facade (:mod:`loancore.app`) stores what they decide.
"""

from loancore.credit.policy import (
    CreditApplication,
    CreditDecision,
    Decision,
    LimitBand,
    Outcome,
    ReferencePolicy,
    manual_decision,
)

__all__ = [
    "CreditApplication",
    "CreditDecision",
    "Decision",
    "LimitBand",
    "Outcome",
    "ReferencePolicy",
    "manual_decision",
]
