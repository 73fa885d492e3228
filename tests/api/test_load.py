"""Locust against the real server: bounded (10 users, 15 s, loopback only), no failure allowed."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LOCUSTFILE = REPO / "services" / "locust" / "locustfile.py"


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
