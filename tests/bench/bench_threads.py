"""Benchmark: two LightGBM trainings sharing the cores, with and without short OpenMP spinning.

One fit (70,000 rows x 150 columns, 300 trees, two threads: the size of a training on all
batches) alone, then two at once, in separate processes; first with libgomp's default wait
policy (a waiting thread spins 300,000 times before it sleeps), then with GOMP_SPINCOUNT=1000
(what `make test` sets: two test workers may train at once). Ratios are against the alone run
of the same configuration, in the same run. Last line: a JSON object.

    python -m tests.bench.bench_threads
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

FIT = """
import numpy as np
from lightgbm import LGBMClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(70_000, 150))
y = (X[:, 0] + rng.normal(size=70_000) > 1).astype(int)
LGBMClassifier(n_estimators=300, n_jobs=2, verbose=-1).fit(X, y)
"""


def seconds(processes: int, env: dict[str, str]) -> float:
    """Wall seconds until ``processes`` simultaneous fits have all finished."""
    started = time.perf_counter()
    running = [subprocess.Popen([sys.executable, "-c", FIT], env=env) for _ in range(processes)]
    if any(p.wait() != 0 for p in running):
        raise RuntimeError("a fit failed")
    return time.perf_counter() - started


def main() -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    result = {}
    for name, env in (("default", base), ("spincount_1000", {**base, "GOMP_SPINCOUNT": "1000"})):
        alone, shared = seconds(1, env), seconds(2, env)
        result[name] = {"alone_s": round(alone, 1), "two_at_once_s": round(shared, 1)}
        result[name]["slowdown"] = round(shared / alone, 2)  # 2.0: the cores shared fairly
        print(
            f"{name:15} alone {alone:5.1f} s   two at once {shared:5.1f} s   x{shared / alone:.2f}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
