"""All of loancore's hypothesis strategies in one namespace, named in the plural like
``hypothesis.extra.*``: ``moneys()``, ``loan_terms()``, ``journal_entries()``, ...

- money: ``currencies()``, ``amounts()``, ``moneys()``, ``ratio_lists()``;
- rates and terms: ``annual_rates()``, ``principals()``, ``start_dates()``, ``loan_terms()``,
  ``cashflows()``;
- schedules: ``schedules()``, amortized :class:`~loancore.amortization.Schedule` values;
- dates: ``business_calendars()``, ``calendar_dates()``, ``day_count_conventions()``,
  ``roll_conventions()``;
- ledger: ``subjects()``, ``charts()``, ``dimension_sets()``, ``journal_entries(chart)``,
  ``unbalanced_entries(chart)``, ``posting_events()``, ``subject_mappings()``;
- allocation: ``outstanding_items()``, ``waterfall_payments()``, ``allocation_rules()``,
  ``allocation_policies()`` (also named ``waterfall_policies()``);
- quota: ``grants()``, ``minor_amounts()``;
- products and portfolios: ``loan_products()``, ``portfolios()``, ``behaviours()``.

The state machines are in :mod:`loancore.testing.machines`.

Requires hypothesis (the ``dev`` extra, or install it in your own test environment).
"""

from __future__ import annotations

from hypothesis import strategies as st

from loancore.amortization import Schedule, amortize
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
from loancore.testing.portfolio import behaviours, portfolios
from loancore.testing.postings import posting_events, subject_mappings
from loancore.testing.quota import grants, minor_amounts
from loancore.testing.servicing import loan_products
from loancore.testing.waterfall import (
    allocation_rules,
    outstanding_items,
    waterfall_payments,
    waterfall_policies,
)

__all__ = [
    "allocation_policies",
    "allocation_rules",
    "amounts",
    "annual_rates",
    "behaviours",
    "business_calendars",
    "calendar_dates",
    "cashflows",
    "charts",
    "currencies",
    "day_count_conventions",
    "dimension_sets",
    "grants",
    "journal_entries",
    "loan_products",
    "loan_terms",
    "minor_amounts",
    "moneys",
    "outstanding_items",
    "portfolios",
    "posting_events",
    "principals",
    "ratio_lists",
    "roll_conventions",
    "schedules",
    "start_dates",
    "subject_mappings",
    "subjects",
    "unbalanced_entries",
    "waterfall_payments",
    "waterfall_policies",
]


def schedules(**terms_options: object) -> st.SearchStrategy[Schedule]:
    """Amortized schedules of :func:`loan_terms` (``terms_options`` go to it: ``methods``,
    ``installments_max``, ``options``, ...); ``schedule.terms`` holds the terms drawn."""
    return loan_terms(**terms_options).map(amortize)  # type: ignore[arg-type]


allocation_policies = waterfall_policies
"""Allocation (waterfall) policies: a preset or a random valid one (:func:`waterfall_policies`)."""
