"""The notebooks run top to bottom against the real services: the suite's PostgreSQL with the
cleaned batches, its MLflow with a trained champion, and a real API server serving it."""

from __future__ import annotations

import nbclient
import nbformat
import pytest
from readmission.settings import REPO_ROOT

from tests.api.conftest import TEST_KEY

NOTEBOOKS = REPO_ROOT / "notebooks"


def run(name: str, tmp_path) -> list[str]:
    """Execute a notebook (an error cell fails the test with its traceback); its outputs' text
    and mime types."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            data = output.get("data", {})
            shown = (data.get("text/plain", ""), data.get("text/html", ""), *data)  # + mime types
            texts.append(output.get("text", "") + "\n".join(shown))
    return texts


@pytest.fixture
def services_env(monkeypatch, champion, api, api_env) -> None:
    """What `make up` gives JupyterLab: the pipeline's settings, the API's URL and a key."""
    monkeypatch.setenv("DATA_DB_URL", champion.settings.DATA_DB_URL)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", api_env["MLFLOW_TRACKING_URI"])
    monkeypatch.setenv("MODEL_NAME", api_env["MODEL_NAME"])
    monkeypatch.setenv("API_URL", api.url)
    monkeypatch.setenv("API_KEY", TEST_KEY)


def test_the_data_notebook_runs_against_the_real_database(services_env, tmp_path) -> None:
    texts = "\n".join(run("01-data.ipynb", tmp_path))
    assert "cleaned" in texts  # the batches' status
    assert "label_rate" in texts and "missing share" in texts
    assert "profile of" in texts and "number_inpatient" in texts  # the profile, inline


def test_the_model_notebook_runs_against_the_registry_and_the_api(
    services_env, api_env, tmp_path
) -> None:
    texts = "\n".join(run("02-model.ipynb", tmp_path))
    assert f"model: {api_env['MODEL_NAME']}" in texts
    assert "challenger_test_roc_auc" in texts  # the promotion evidence
    assert "image/png" in texts  # the calibration curve
    assert "Caucasian" in texts  # the subgroup table
    assert "probability" in texts and "thresholds:" in texts
