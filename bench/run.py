"""Run every benchmark in bench/ and write bench/results.json.

Each ``bench/bench_*.py`` module exposes ``run() -> dict[str, float]``: figure name -> value, the
unit last in the name (``..._per_s``, ``..._ms``, ``..._ratio``). Peers are measured side by side
in the same run. The file also records the machine and the date, because a figure without its
machine is not a figure. ``sources`` names the module behind each figure, so that re-running a
module replaces all of its figures (a key it no longer reports disappears); a module may also
name in ``RETIRED`` figures it wrote before ``sources`` existed, which are dropped when it runs.
No test asserts on these numbers.

    python bench/run.py                 # all benchmarks
    python bench/run.py ledger quota    # only bench_ledger.py and bench_quota.py
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
    }


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    wanted = set(argv)
    paths = sorted(HERE.glob("bench_*.py"))
    if wanted:
        paths = [p for p in paths if p.stem.removeprefix("bench_") in wanted]
    results_path = HERE / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.exists() else {}
    figures: dict[str, float] = dict(previous.get("figures", {}))
    sources: dict[str, str] = dict(previous.get("sources", {}))
    for path in paths:
        started = time.perf_counter()
        print(f"== {path.name}", flush=True)
        # A module's figures are replaced as a whole: a key it no longer reports (a PostgreSQL
        # figure in a run without a server, a renamed key) must not survive under a new date.
        for key in [k for k, source in sources.items() if source == path.stem]:
            figures.pop(key, None)
            del sources[key]
        module = load(path)
        for key in getattr(module, "RETIRED", ()):  # figures recorded before ``sources`` was
            figures.pop(key, None)
        for key, value in module.run().items():
            figures[key] = value
            sources[key] = path.stem
            print(f"{key:48s} {value:>16,.3f}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    document = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": dict(sorted(figures.items())),
        "sources": dict(sorted(sources.items())),
    }
    results_path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
