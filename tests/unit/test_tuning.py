"""The tuning search's shortcuts give exactly what the long way gives, on small synthetic data:
one preprocessing fit per feature set for every configuration, calibration on encoded rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from readmission import calibration, contract, model, train
from readmission.lineage import Lineage

SEED = 42
SMALL = {"n_estimators": 25, "min_child_samples": 5}


@pytest.fixture(scope="module")
def data() -> train.Dataset:
    rng = np.random.default_rng(1)
    rows = [contract.default_patient() for _ in range(900)]
    for row in rows:
        row["number_inpatient"] = int(rng.integers(0, 6))
        row["diag_1"] = str(rng.integers(240, 260))
        row["race"] = (None, "Caucasian", "AfricanAmerican")[int(rng.integers(0, 3))]
    frame = pd.DataFrame(rows)
    frame["patient_nbr"] = np.arange(len(frame)) // 3
    frame["split"] = np.array(["train", "val", "test"])[frame["patient_nbr"] % 3]
    noise = rng.random(len(frame)) < 0.2
    frame[contract.LABEL] = (frame["number_inpatient"] > 2).astype(int) ^ noise
    return train.Dataset(frame, Lineage((0,), "synthetic", "synthetic"))


@pytest.mark.parametrize(
    ("family", "space"),
    [
        ("lightgbm", [SMALL, {**SMALL, "num_leaves": 7}]),
        ("logistic_regression", [{"C": 0.05}, {"C": 0.5}]),
    ],
)
def test_shared_preprocessing_scores_like_fitting_each_pipeline(data, family, space) -> None:
    trials, configs, fitted, encoded = train._trials(family, space, data, SEED, ("base",))
    X_train, y_train = data.part("train")
    X_val, _ = data.part("val")
    assert len(trials) == len(space) and set(encoded) == {"base"}
    for (features, params), pipeline in zip(configs, fitted, strict=True):
        alone = model.build(family, params, data.patients("train"), SEED, features=features)
        alone.fit(X_train, y_train)
        expected = model.positive_proba(alone, X_val)
        np.testing.assert_allclose(model.positive_proba(pipeline, X_val), expected, rtol=1e-12)


def test_calibration_on_encoded_rows_chooses_like_the_whole_pipeline(data) -> None:
    _, _, fitted, encoded = train._trials("lightgbm", [SMALL], data, SEED, ("base",))
    X_val, y_val = data.part("val")
    patients = data.patients("val")
    whole = calibration.choose(fitted[0], X_val, y_val, patients, SEED)
    step = calibration.choose(fitted[0].named_steps["classifier"], encoded["base"].val, y_val,
                              patients, SEED)  # fmt: skip
    assert step.method == whole.method
    np.testing.assert_allclose(step.val_proba, whole.val_proba, rtol=1e-12)
    assert step.val_brier == pytest.approx(whole.val_brier, rel=1e-12)


def test_the_model_frame_of_a_split_is_built_once(data) -> None:
    assert data.part("val")[0] is data.part("val")[0]


def test_the_refit_rows_are_train_then_val_without_a_copy(data) -> None:
    (X_train, y_train), (X_val, y_val) = data.part("train"), data.part("val")
    X_fit, y_fit = data.part("train", "val")
    pd.testing.assert_frame_equal(X_fit, pd.concat([X_train, X_val]))
    np.testing.assert_array_equal(y_fit, np.concatenate([y_train, y_val]))
    assert np.shares_memory(
        X_fit["number_inpatient"].to_numpy(), X_val["number_inpatient"].to_numpy()
    )
    # Each split's rows are the frame's rows of that split, in its order.
    assert list(X_val.index) == list(data.rows("val").index)
    with pytest.raises(ValueError, match="not consecutive"):
        data.part("train", "test")
