"""How servicing names its components to the posting templates.

Every servicing entry is booked by a posting template (:mod:`loancore.postings`): the credit
balance applied is :class:`~loancore.postings.CreditApplied`, a prepayment fee is
:class:`~loancore.postings.FeeCharged` with ``FeeKind.PREPAYMENT``, and a movement that never
happened as booked (a merchant refund takes back its disbursement) is a
:class:`~loancore.postings.Cancellation` of the event that booked it.
"""

from __future__ import annotations

from loancore.postings import Component as PostingComponent
from loancore.waterfall import Component

__all__ = ["posting_component"]


def posting_component(component: Component) -> PostingComponent:
    """The postings' component of the waterfall's (same values)."""
    return PostingComponent(component.value)
