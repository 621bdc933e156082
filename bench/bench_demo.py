"""``loancore demo`` with its defaults, as ``make demo`` runs it (issue 14: under two minutes).

    demo_s             the whole command, wall clock: the simulated portfolio (2,000 customers,
                       50 clinics, 18 months, the end-of-day batch every Sunday), its reports,
                       the beancount export and beancount's check of it
    demo_simulated_s   the simulation part of it, as the command prints it

The command runs in a child process (a fresh interpreter, like ``make demo``) on a temporary
SQLite file. Run alone with ``python bench/bench_demo.py``; no test asserts these figures.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time

_SIMULATED = re.compile(r"simulated in ([0-9.]+) s")


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "loancore", "demo", "--db", f"{directory}/demo.sqlite"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        demo_s = time.perf_counter() - started
    found = _SIMULATED.search(done.stdout)
    if found is None:
        raise RuntimeError(f"no simulation time in the demo's output: {done.stdout[-500:]}")
    print(f"   loancore demo: {demo_s:.1f} s, simulated in {found.group(1)} s", flush=True)
    return {"demo_s": demo_s, "demo_simulated_s": float(found.group(1))}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value:>14,.3f}")
