"""Behavioural checks of the champion (Made-With-ML style): invariance, direction, robustness."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from tests.model.test_training import raw_rows


@pytest.fixture(scope="module")
def pipeline(champion):
    return mlflow.sklearn.load_model(f"models:/{champion.settings.MODEL_NAME}@champion")


def risk(pipeline, frame) -> np.ndarray:
    return pipeline.predict_proba(frame)[:, 1]


def test_more_prior_inpatient_visits_raise_the_risk(pipeline) -> None:
    rows = raw_rows(300, seed=1)
    low, high = rows.assign(number_inpatient=0), rows.assign(number_inpatient=6)
    assert (risk(pipeline, high) > risk(pipeline, low)).mean() > 0.9


def test_identifiers_are_not_features(pipeline) -> None:
    rows = raw_rows(50, seed=2)
    with_ids = rows.assign(encounter_id=1, patient_nbr=2)
    assert np.allclose(risk(pipeline, rows), risk(pipeline, with_ids))


def test_unseen_categories_and_missing_values_are_handled(pipeline) -> None:
    rows = raw_rows(20, seed=3)
    odd = rows.assign(
        diag_1="999.99", medical_specialty="Astrobiology", payer_code=None, race=None, weight=None
    )
    proba = risk(pipeline, odd)
    assert np.isfinite(proba).all() and ((proba > 0) & (proba < 1)).all()


def test_predict_labels_at_the_tuned_threshold(pipeline, champion) -> None:
    rows = raw_rows(500, seed=4)
    threshold = champion.trained["threshold"]
    assert (pipeline.predict(rows) == (risk(pipeline, rows) >= threshold)).all()
