"""Hypothesis strategies and state machines for users' own test suites (needs hypothesis).

- :mod:`loancore.testing.strategies`: every strategy in one namespace (``moneys()``,
  ``loan_terms()``, ``schedules()``, ``journal_entries(chart)``, ``allocation_policies()``,
  ``loan_products()``, ``portfolios()``, ...);
- :mod:`loancore.testing.machines`: state machines built for your store, product, policy or unit
  of work (``ledger_machine``, ``quota_machine``, ``servicing_machine``,
  ``loan_lifecycle_machine``), each checking its invariants after every step;
- :mod:`loancore.testing.portfolio`: small portfolios with borrower behaviours, played through
  the services by ``run_portfolio``;
- per area: :mod:`~loancore.testing.money`, :mod:`~loancore.testing.calculators`,
  :mod:`~loancore.testing.calendars`, :mod:`~loancore.testing.ledger`,
  :mod:`~loancore.testing.postings`, :mod:`~loancore.testing.waterfall`,
  :mod:`~loancore.testing.quota`, :mod:`~loancore.testing.servicing`,
  :mod:`~loancore.testing.settlement`, :mod:`~loancore.testing.delinquency`.

docs/testing.md shows how to run them against your own products and policies.
"""
