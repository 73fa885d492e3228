"""Capacity finder: step the users of locustfile.py up until p95 passes the SLO or a request
fails; report the last step that held.

Loaded beside the scenario (``locust -f locustfile.py,capacity.py``; `make load-test`). Each
step runs ``CAPACITY_STEP_SECONDS`` with ``CAPACITY_USERS[i]`` users and is judged on its own
requests (p50/p95/p99, requests/s, failures). The result is written as one JSON line to
``CAPACITY_REPORT`` (default reports/capacity.json) after every step.

Settings (environment): CAPACITY_SLO_P95_MS (200), CAPACITY_USERS ("5,10,20,40,80,160,320"),
CAPACITY_STEP_SECONDS (20).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from locust import LoadTestShape
from locust.stats import calculate_response_time_percentile

SLO_MS = float(os.environ.get("CAPACITY_SLO_P95_MS", "200"))
USERS = [int(u) for u in os.environ.get("CAPACITY_USERS", "5,10,20,40,80,160,320").split(",")]
STEP_SECONDS = float(os.environ.get("CAPACITY_STEP_SECONDS", "20"))
REPORT = Path(os.environ.get("CAPACITY_REPORT", "reports/capacity.json"))


class CapacityFinder(LoadTestShape):
    """Steps through USERS; stops after the first step that breaks the SLO or fails."""

    def __init__(self) -> None:
        super().__init__()
        self.step = -1
        self.mark: tuple[dict[int, int], int, int] = ({}, 0, 0)
        self.held: dict | None = None
        self.broke: dict | None = None

    def _snapshot(self) -> tuple[dict[int, int], int, int]:
        total = self.runner.stats.total
        return dict(total.response_times), total.num_requests, total.num_failures

    def _judge(self, users: int) -> dict:
        """The figures of the step that just ended (its own requests only)."""
        (times0, n0, f0), (times1, n1, f1) = self.mark, self._snapshot()
        times = {k: v - times0.get(k, 0) for k, v in times1.items() if v - times0.get(k, 0)}
        n = n1 - n0

        def pct(p: float) -> int:
            return calculate_response_time_percentile(times, n, p) if n else 0

        return {
            "users": users,
            "rps": round(n / STEP_SECONDS, 1),
            "p50_ms": pct(0.5),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "requests": n,
            "failures": f1 - f0,
        }

    def _report(self) -> None:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        result = {"slo_p95_ms": SLO_MS, "held": self.held, "broke": self.broke}
        REPORT.write_text(json.dumps(result) + "\n")

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // STEP_SECONDS)
        if step != self.step:
            if self.step >= 0:
                figures = self._judge(USERS[self.step])
                ok = figures["requests"] > 0 and not figures["failures"]
                if ok and figures["p95_ms"] <= SLO_MS:
                    self.held = figures
                else:
                    self.broke = figures
                self._report()
                if self.broke is not None:
                    return None
            if step >= len(USERS):
                return None
            self.step, self.mark = step, self._snapshot()
        return USERS[self.step], float(USERS[self.step])
