"""The candidate pipelines on small synthetic data: missing values, unseen values, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from readmission import contract, explain, model


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rows = [contract.default_patient() for _ in range(400)]
    rng = np.random.default_rng(0)
    for i, row in enumerate(rows):
        row["race"] = None if i % 3 == 0 else ("Caucasian", "AfricanAmerican")[i % 2]
        row["diag_3"] = None if i % 5 == 0 else str(rng.integers(240, 260))
        row["number_inpatient"] = int(rng.integers(0, 6))
    y = np.array([int(r["number_inpatient"] > 2) ^ int(i % 7 == 0) for i, r in enumerate(rows)])
    return model.to_model_frame(pd.DataFrame(rows)), y


def build(family: str):
    """A small, fast candidate of either family."""
    if family == "logistic":
        return model.build_logistic({"C": 1.0})
    return model.build_lightgbm({"n_estimators": 30, "min_child_samples": 5})


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_none_and_nan_are_the_same_missing_category(frame, family) -> None:
    X, y = frame
    pipeline = build(family).fit(X, y)
    as_nan = X.copy()
    for column in ("race", "diag_3"):
        as_nan[column] = [np.nan if v is None else v for v in as_nan[column]]
    assert np.allclose(pipeline.predict_proba(X), pipeline.predict_proba(as_nan))


def test_unseen_values_are_scored(frame) -> None:
    X, y = frame
    pipeline = model.build_logistic({"C": 1.0}).fit(X, y)
    odd = X.head(3).assign(diag_1="E999", medical_specialty="Unheard-of", race="Other")
    assert np.isfinite(model.positive_proba(pipeline, odd)).all()


def test_threshold_sets_the_label_not_the_probability(frame) -> None:
    X, y = frame
    pipeline = model.build_logistic({"C": 1.0}).fit(X, y)
    proba = model.positive_proba(pipeline, X)
    model.set_threshold(pipeline, 0.9)
    assert (pipeline.predict(X) == (proba >= 0.9)).all()
    assert np.allclose(model.positive_proba(pipeline, X), proba)


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_contributions_add_up_to_the_log_odds(frame, family) -> None:
    X, y = frame
    pipeline = build(family).fit(X, y)
    base, contributions = explain.contributions(pipeline, X.head(10))
    assert list(contributions.columns) == list(contract.FEATURE_NAMES)
    proba = model.positive_proba(pipeline, X.head(10))
    logit = np.log(proba / (1 - proba))
    assert np.allclose(base + contributions.sum(axis=1).to_numpy(), logit, atol=1e-6)


def test_source_column_prefers_the_longest_name() -> None:
    assert explain.source_column("categories__metformin-rosiglitazone_Steady") == (
        "metformin-rosiglitazone"
    )
    assert explain.source_column("categories__metformin_Up") == "metformin"
    assert explain.source_column("numeric__time_in_hospital") == "time_in_hospital"
