"""Candidates made to order for the lifecycle tests, trained and logged like the real ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from readmission import contract, db, model, stages, tracking, train
from readmission.lineage import Lineage
from readmission.settings import Settings


def clean_frame(settings: Settings) -> pd.DataFrame:
    with stages.data_engine(settings) as engine:
        return train.load_dataset(engine, settings).frame


def log_trained(
    settings: Settings,
    frame: pd.DataFrame,
    family: str,
    params: dict[str, Any],
    label: str,
    seed: int = 42,
) -> dict[str, Any]:
    """Tune one configuration on ``frame`` and log it as a training run would; returns the
    ``trained`` summary that ``stages.promote`` takes. ``label`` names its (fake) lineage."""
    data = train.Dataset(frame, Lineage((0,), label, label))
    candidate = train.tune(family, [params], data, seed)
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    mlflow.set_experiment(settings.MLFLOW_EXPERIMENT)
    with mlflow.start_run(run_name=f"test-{label}"):
        tracking.log_candidate(candidate, data, settings)
    return {
        "family": family,
        "run_id": candidate.run_id,
        "model_uri": candidate.model_uri,
        "threshold": candidate.val["threshold"],
        "test": candidate.test,
        "tags": {"family": family, "run_id": candidate.run_id, **data.lineage.tags},
    }


@pytest.fixture(scope="session")
def make_candidate(champion) -> Callable[..., dict[str, Any]]:
    """``make_candidate(label, family, params, rows=..., seed=...)`` on the champion's data."""
    frame = clean_frame(champion.settings)

    def make(
        label: str,
        family: str = "lightgbm",
        params: dict[str, Any] | None = None,
        rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f,
        seed: int = 42,
    ) -> dict[str, Any]:
        chosen = params if params is not None else dict(train.LIGHTGBM_DEFAULT)
        return log_trained(champion.settings, rows(frame), family, chosen, label, seed)

    return make


@pytest.fixture(scope="session")
def weak(make_candidate) -> dict[str, Any]:
    """Trained on the first batch only, with a small model: clearly worse than the champion."""
    small = {**train.LIGHTGBM_DEFAULT, "n_estimators": 60}
    return make_candidate("weak", params=small, rows=lambda f: f[f["batch_id"] == 1])


@pytest.fixture(scope="session")
def twin(make_candidate, champion) -> dict[str, Any]:
    """The champion's own configuration on the same rows with another seed: equal plus noise."""
    assert champion.trained["family"] == "lightgbm", champion.trained["candidates"]
    return make_candidate("twin", seed=7)


@pytest.fixture(scope="session")
def shuffled(make_candidate) -> dict[str, Any]:
    """A logistic model trained on shuffled labels: no better than chance."""

    def shuffle(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[frame["batch_id"] <= 2].copy()
        fit = frame["split"] != "test"
        rng = np.random.default_rng(0)
        frame.loc[fit, contract.LABEL] = rng.permutation(frame.loc[fit, contract.LABEL].to_numpy())
        return frame

    return make_candidate("shuffled", "logistic_regression", {"C": 0.05}, rows=shuffle)


def request_rows(frame: pd.DataFrame) -> list[dict]:
    """Clean rows as request bodies: the model's columns, missing values as null."""
    features = model.to_model_frame(frame)
    return features.astype(object).where(features.notna(), None).to_dict("records")


def log_predictions(url: str, version: str, pipeline, frame: pd.DataFrame) -> None:
    """Rows as the API logs them: the request's features (JSON) and the served probability."""
    features = model.to_model_frame(frame)
    proba = model.positive_proba(pipeline, features)
    records = request_rows(frame)
    rows = [
        {"created_at": datetime.now(UTC), "model_name": "m", "model_version": version,
         "run_id": "r", "features": r, "probability": float(p), "label": int(p > 0.5),
         "latency_ms": 1.0, "endpoint": "/predict"}
        for r, p in zip(records, proba, strict=True)
    ]  # fmt: skip
    engine = db.make_engine(url)
    db.create_schema(engine, tables=[db.predictions])
    with engine.begin() as conn:
        conn.execute(db.predictions.insert(), rows)
    engine.dispose()
