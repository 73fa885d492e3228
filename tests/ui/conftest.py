"""The UI tests talk to the same real API server as tests/api (a real model, real MLflow)."""

from tests.api.conftest import api, api_env, registered, start_api  # noqa: F401
from tests.conftest import REPO

APP = REPO / "services" / "streamlit" / "readmission_ui" / "app.py"
