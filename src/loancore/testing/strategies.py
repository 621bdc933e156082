"""All of loancore's hypothesis strategies in one namespace, named in the plural like
``hypothesis.extra.*``: ``moneys()``, ``loan_terms()``, ``journal_entries()``, ...

Requires hypothesis (the ``dev`` extra, or install it in your own test environment).
"""

from __future__ import annotations

from loancore.testing.money import amounts, currencies, moneys, ratio_lists

__all__ = ["amounts", "currencies", "moneys", "ratio_lists"]
