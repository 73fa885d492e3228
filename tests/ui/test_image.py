"""The UI image: the ui extra only, and the app it runs is the one the tests run."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO

DOCKERFILE = REPO / "services" / "streamlit" / "Dockerfile"


def test_the_image_runs_the_tested_app_file() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY services/streamlit/readmission_ui/app.py /app/app.py" in text
    assert 'CMD ["streamlit", "run", "/app/app.py"' in text
    assert "IDS_MAPPING_PATH=/app/data/IDs_mapping.csv" in text
    # Streamlit reads the app's config from beside the script: the toolbar stays hidden.
    config = "services/streamlit/readmission_ui/.streamlit/config.toml"
    assert f"COPY {config} /app/.streamlit/config.toml" in text
    assert 'toolbarMode = "viewer"' in (REPO / config).read_text()


def test_the_ui_extra_has_streamlit_and_no_server_stack() -> None:
    uv = shutil.which("uv") or str(REPO / ".tools" / "uv-venv" / "bin" / "uv")
    done = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--extra", "ui", "--no-emit-project", "--no-hashes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    pins = {line.split("==")[0] for line in done.stdout.splitlines() if "==" in line}
    assert {"streamlit", "altair", "httpx"} <= pins
    assert not {"apache-airflow", "locust", "pytest", "schemathesis"} & pins  # uvicorn: via mlflow
