"""Property-based requests generated from /openapi.json: no 5xx, no response off its schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHECKS = ",".join(
    (
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    )
)


def test_schemathesis_finds_no_server_error_and_no_schema_break(api, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "60",
            "--seed",
            "20261126",
            "--workers",
            "2",
            "--request-timeout",
            "60",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--continue-on-failure",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = done.stdout[-6000:]
    print(summary)
    assert done.returncode == 0, summary
    data = json.loads(report.read_text())
    generated, tested = data["test_cases"]["generated"], data["operations"]["tested"]
    print(f"schemathesis: {generated} generated requests over {tested} operations")
    assert data["failures"] == [] and data["errors"] == []
    assert data["test_cases"]["with_failures"] == 0
    assert generated >= 500 and tested == data["operations"]["total"] >= 13
