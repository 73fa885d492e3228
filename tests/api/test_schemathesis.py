"""Property-based requests generated from /openapi.json: no 5xx, no response off its schema."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from tests.api.conftest import ADMIN_TOKEN

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
    with api.client(credential=None) as client:  # a key of its own: its own rate-limit buckets
        made = client.post(
            "/admin/keys",
            json={"name": f"schemathesis-{uuid.uuid4().hex[:6]}", "scopes": ["predict", "read"]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert made.status_code == 201, made.text
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{api.url}/openapi.json",
            "--header",  # predict + read: the admin routes answer 403, as documented
            f"X-API-Key: {made.json()['key']}",
            "--checks",
            CHECKS,
            "--max-examples",
            "60",
            "--seed",
            "20261126",
            # One worker: with two threads, CPython 3.11.7 (this machine's) may fail hypothesis
            # with "SystemError: AST constructor recursion depth mismatch" (gh-106905, fixed in
            # 3.11.8), seen once in a full run.
            "--workers",
            "1",
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
