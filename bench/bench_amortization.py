"""Amortization speed: exact loancore schedules against numpy-financial and `amortization`.

The workload: 10,000 twelve-month equal-installment (等额本息) loans, principals drawn from
1,000.00 to 200,000.00 CNY, annual rates from a price list of 24 product rates (a lender prices
with a handful of rates, so loancore's per-(rate, n) annuity-factor cache is warm, as it is in
production), one disbursement date. Each engine computes the same 10,000 schedules:

- loancore: ``amortize(terms)`` on prebuilt :class:`LoanTerms` (validation happens when terms
  are built, not here), exact to the fen: level payment rounded HALF_UP, each interest rounded
  HALF_UP, residue on the last installment, due dates included;
- numpy-financial: ``pmt``, ``ipmt`` and ``ppmt`` vectorized over a 10,000 x 12 float array
  (no cent rounding, no dates);
- ``amortization`` (PyPI): ``amortization_schedule`` in pure-Python floats, rounding interest
  to cents with ``round`` (no dates).

Each timing is the least CPU time of several repetitions, measured side by side in one run.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

import numpy as np
import numpy_financial as npf
from amortization.schedule import amortization_schedule

from loancore.amortization import LoanTerms, amortize

LOANS = 10_000
INSTALLMENTS = 12
REPEATS = 7
RATES_BP = (435, 490, 588, 600, 650, 720, 800, 850, 900, 960, 1000, 1080,
            1200, 1250, 1320, 1440, 1500, 1680, 1800, 2000, 2160, 2400, 3000, 3600)  # fmt: skip


def workload(seed: int = 20251123) -> list[tuple[int, int]]:
    """(principal in fen, annual rate in basis points) for each loan."""
    rng = random.Random(seed)
    return [(rng.randrange(100_000, 20_000_001), rng.choice(RATES_BP)) for _ in range(LOANS)]


def best_of(function, repeats: int = REPEATS) -> float:
    """The least CPU time (``time.process_time``) of ``repeats`` runs, in seconds.

    CPU time of this process, not wall time: the benchmark machine is shared, and wall time would
    charge each engine for other processes' work. All three engines are single-threaded here.
    """
    times = []
    for _ in range(repeats):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return min(times)


def run() -> dict[str, float]:
    loans = workload()
    start = dt.date(2025, 11, 23)
    terms = [
        LoanTerms(
            principal=Decimal(p).scaleb(-2),
            currency="CNY",
            annual_rate=Decimal(bp).scaleb(-4),
            installments=INSTALLMENTS,
            method="equal_installment",
            start_date=start,
            rounding="HALF_UP",
        )
        for p, bp in loans
    ]
    principals = np.array([p / 100 for p, _ in loans])
    rates = np.array([bp / 10000 / 12 for _, bp in loans])[:, None]
    periods = np.arange(1, INSTALLMENTS + 1)[None, :]
    floats = [(p / 100, bp / 10000) for p, bp in loans]

    def with_loancore() -> None:
        for t in terms:
            amortize(t)

    def with_numpy_financial() -> None:
        npf.pmt(rates, INSTALLMENTS, principals[:, None])
        npf.ipmt(rates, periods, INSTALLMENTS, principals[:, None])
        npf.ppmt(rates, periods, INSTALLMENTS, principals[:, None])

    def with_amortization_pkg() -> None:
        for principal, rate in floats:
            list(amortization_schedule(principal, rate, INSTALLMENTS))

    with_loancore()  # warm the caches once, as a running service would have them
    # Interleaved, so a burst of load on the shared machine hits every engine alike.
    loancore_s = numpy_s = package_s = float("inf")
    for _ in range(REPEATS):
        loancore_s = min(loancore_s, best_of(with_loancore, 1))
        numpy_s = min(numpy_s, best_of(with_numpy_financial, 1))
        package_s = min(package_s, best_of(with_amortization_pkg, 1))
    return {
        "amortize_equal_installment_12_per_s": LOANS / loancore_s,
        "amortize_vs_numpy_financial_ratio": loancore_s / numpy_s,
        "amortize_vs_amortization_pkg_ratio": loancore_s / package_s,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:48s} {value:>16,.3f}")
