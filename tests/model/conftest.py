"""A champion trained on the real data, registered in a real MLflow (once per session)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from readmission import stages
from readmission.settings import Settings

from tests.conftest import make_settings


@dataclass(frozen=True)
class Trained:
    settings: Settings
    trained: dict[str, Any]
    decision: dict[str, Any]


@pytest.fixture(scope="session")
def champion(postgres, cleaned_template, mlflow_server) -> Trained:
    url = postgres.url("model_tests")
    postgres.psql(f'CREATE DATABASE model_tests TEMPLATE "{cleaned_template}"')
    settings = make_settings(
        DATA_DB_URL=url,
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        MODEL_NAME=f"readmission-test-{uuid.uuid4().hex[:6]}",
        MLFLOW_EXPERIMENT="model-tests",
    )
    trained = stages.train(settings)
    return Trained(settings, trained, stages.promote(settings, trained))
