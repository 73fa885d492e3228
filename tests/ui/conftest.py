"""The UI tests talk to the same real API server as tests/api (a real model, real MLflow)."""

import pytest
from readmission import stages

from tests.api.conftest import (  # noqa: F401
    TEST_KEY,
    api,
    api_env,
    idp,
    patients,
    registered,
    start_api,
)
from tests.conftest import REPO, make_settings

APP = REPO / "services" / "streamlit" / "readmission_ui" / "app.py"


@pytest.fixture(autouse=True)
def app_credential(monkeypatch) -> None:
    """The app's own service credential, as make up and the chart give it (API_KEY)."""
    monkeypatch.setenv("API_KEY", TEST_KEY)


@pytest.fixture(scope="session")
def drift_checked(api, api_env, registered) -> list[dict]:  # noqa: F811
    """Two diabetes_monitor checks of the shared API's inference log (traffic sent first), the
    second with a threshold low enough to record a retrain request: a Monitoring tab with data."""
    with api.client() as client:  # 600 rows: past the API's DRIFT_MIN_ROWS (500), in any order
        for seed in (21, 22):
            body = {"patients": patients(300, seed=seed)}
            client.post("/predict/batch", json=body).raise_for_status()
    settings = make_settings(
        DATA_DB_URL=api_env["DATA_DB_URL"],
        MLFLOW_TRACKING_URI=api_env["MLFLOW_TRACKING_URI"],
        MODEL_NAME=registered.name,
        DRIFT_MIN_ROWS=100,
    )
    first = stages.monitor(settings)
    second = stages.monitor(settings.model_copy(update={"DRIFT_RETRAIN_PSI": 1e-6}))
    assert second["retrain"], second
    return [first, second]
