"""All of loancore's hypothesis strategies in one namespace, named in the plural like
``hypothesis.extra.*``: ``moneys()``, ``loan_terms()``, ``journal_entries()``, ...

Requires hypothesis (the ``dev`` extra, or install it in your own test environment).
"""

from __future__ import annotations

from loancore.testing.calculators import (
    annual_rates,
    cashflows,
    loan_terms,
    principals,
    start_dates,
)
from loancore.testing.calendars import (
    business_calendars,
    calendar_dates,
    day_count_conventions,
    roll_conventions,
)
from loancore.testing.ledger import (
    charts,
    dimension_sets,
    journal_entries,
    subjects,
    unbalanced_entries,
)
from loancore.testing.money import amounts, currencies, moneys, ratio_lists
from loancore.testing.postings import posting_events, subject_mappings
from loancore.testing.quota import grants, minor_amounts
from loancore.testing.waterfall import (
    allocation_rules,
    outstanding_items,
    waterfall_payments,
    waterfall_policies,
)

__all__ = [
    "allocation_rules",
    "amounts",
    "annual_rates",
    "business_calendars",
    "calendar_dates",
    "cashflows",
    "charts",
    "currencies",
    "day_count_conventions",
    "dimension_sets",
    "grants",
    "journal_entries",
    "loan_terms",
    "minor_amounts",
    "moneys",
    "outstanding_items",
    "posting_events",
    "principals",
    "ratio_lists",
    "roll_conventions",
    "start_dates",
    "subject_mappings",
    "subjects",
    "unbalanced_entries",
    "waterfall_payments",
    "waterfall_policies",
]
