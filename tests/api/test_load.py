"""Locust against the real server: bounded (10 users, 15 s, loopback only), no failure allowed;
and the capacity finder's steps, on a generous and on an impossible SLO."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import TEST_KEY
from tests.conftest import REPO

LOCUSTFILE = REPO / "services" / "locust" / "locustfile.py"
CAPACITY = REPO / "services" / "locust" / "capacity.py"


def test_locust_mix_runs_without_a_failure(api, tmp_path: Path) -> None:
    prefix = tmp_path / "load"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            str(LOCUSTFILE),
            "--host",
            api.url,
            "--headless",
            "-u",
            "10",
            "-r",
            "5",
            "-t",
            "15s",
            "--only-summary",
            "--csv",
            str(prefix),
            "--exit-code-on-error",
            "1",
        ],
        env={**os.environ, "API_KEY": TEST_KEY},  # Locust's credential, as make load-test's
        capture_output=True,
        text=True,
        timeout=120,
    )
    with open(f"{prefix}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    print(
        f"\nlocust: {total['Request Count']} requests, {total['Failure Count']} failures, "
        f"{float(total['Requests/s']):.0f} req/s, median {total['Median Response Time']} ms, "
        f"p95 {total['95%']} ms"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(total["Failure Count"]) == 0
    assert int(total["Request Count"]) > 100
    assert {"/predict", "/predict/batch", "/model"} <= set(rows)


def capacity(api, tmp_path: Path, slo_ms: int) -> dict:
    report = tmp_path / f"capacity-{slo_ms}.json"
    env = {
        **os.environ,
        "CAPACITY_SLO_P95_MS": str(slo_ms),
        "CAPACITY_USERS": "2,4",
        "CAPACITY_STEP_SECONDS": "4",
        "CAPACITY_REPORT": str(report),
        "API_KEY": TEST_KEY,
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            f"{LOCUSTFILE},{CAPACITY}",
            "--host",
            api.url,
            "--headless",
            "--only-summary",
            "--html",
            str(tmp_path / "report.html"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "report.html").stat().st_size > 10_000
    result = json.loads(report.read_text())
    print(f"\ncapacity at SLO {slo_ms} ms: {result}")
    return result


def test_the_capacity_finder_reports_the_last_step_that_held(api, tmp_path: Path) -> None:
    result = capacity(api, tmp_path, slo_ms=10_000)
    assert result["broke"] is None
    held = result["held"]
    assert held["users"] == 4 and held["failures"] == 0 and held["requests"] > 10
    assert 0 < held["p50_ms"] <= held["p95_ms"] <= held["p99_ms"] and held["rps"] > 0


def test_the_capacity_finder_stops_at_the_first_step_over_the_slo(api, tmp_path: Path) -> None:
    result = capacity(api, tmp_path, slo_ms=0)
    assert result["held"] is None and result["broke"]["users"] == 2
    assert result["broke"]["p95_ms"] > 0
