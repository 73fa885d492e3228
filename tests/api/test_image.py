"""The image runs what the tests run, with only what serving needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from tests.conftest import REPO

DOCKERFILE = REPO / "services" / "inference-api" / "Dockerfile"


def test_the_image_command_is_the_one_the_tests_start() -> None:
    cmd = re.search(r"^CMD (.+)$", DOCKERFILE.read_text(), re.MULTILINE).group(1)
    assert json.loads(cmd) == ["python", "-m", "readmission_api"]
    assert (
        '[sys.executable, "-m", "readmission_api"]' in (REPO / "tests/api/conftest.py").read_text()
    )


def test_the_api_extra_has_serving_and_nothing_else() -> None:
    uv = shutil.which("uv") or str(REPO / ".tools" / "uv-venv" / "bin" / "uv")
    done = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--extra",
            "api",
            "--no-emit-project",
            "--no-hashes",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    pins = {line.split("==")[0] for line in done.stdout.splitlines() if "==" in line}
    assert {"fastapi", "uvicorn", "prometheus-fastapi-instrumentator", "mlflow", "lightgbm"} <= pins
    assert not {"apache-airflow", "streamlit", "locust", "pytest"} & pins
