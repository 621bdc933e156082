"""Range functions that fail on purpose, for the distributed tests: each runs THE range task
(:func:`~loancore.services.partition.close_range`, ``CHUNK`` loans a unit of work) except where
it fails.

Dask pickles a function by reference (its module's name), and the workers cannot import this
test module by name: the test registers it with ``cloudpickle.register_pickle_by_value`` so these
travel whole. Each is a :data:`~loancore.services.partition.RangeFunction`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs

from loancore.ports import UnitOfWork
from loancore.services.partition import LoanRange, RangeReport, close_range, range_loan_ids

CHUNK = 20


class InjectedFailure(RuntimeError):
    """The failure these functions raise."""


class FailsOnceMidway:
    """Range ``index``: the first attempt (no ``marker`` file yet) creates the marker, closes and
    commits the first half of the range's loans (chunks of ``CHUNK``) and raises; later attempts
    run the whole range. Every other range runs normally."""

    def __init__(self, index: int, marker: Path) -> None:
        self.index = index
        self.marker = marker

    def __call__(self, uow: UnitOfWork, business_date: date, loan_range: LoanRange) -> RangeReport:
        if loan_range.index == self.index and not self.marker.exists():
            self.marker.write_text("failed once\n")
            with uow:
                half = range_loan_ids(uow.loans, loan_range, limit=max(1, loan_range.count // 2))
            first_half = attrs.evolve(loan_range, through=half[-1])
            close_range(uow, business_date, first_half, chunk_size=CHUNK)
            raise InjectedFailure(f"{loan_range.describe()} fails once, after its first half")
        return close_range(uow, business_date, loan_range, chunk_size=CHUNK)


class AlwaysFails:
    """Range ``index`` raises on every attempt (counted in files under ``directory``); every other
    range runs normally."""

    def __init__(self, index: int, directory: Path) -> None:
        self.index = index
        self.directory = directory

    def __call__(self, uow: UnitOfWork, business_date: date, loan_range: LoanRange) -> RangeReport:
        if loan_range.index == self.index:
            attempt = len(list(self.directory.iterdir())) + 1
            (self.directory / f"attempt-{attempt}").write_text("")
            raise InjectedFailure(f"{loan_range.describe()} always fails")
        return close_range(uow, business_date, loan_range, chunk_size=CHUNK)
