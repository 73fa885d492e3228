"""The candidate pipelines on small synthetic data: missing values, unseen values, thresholds."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io
from readmission import clinical, contract, explain, model
from scipy import sparse


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


PATIENTS = np.arange(400) // 2  # two encounters per patient


def build(family: str, calibration: str | None = None, features: str = "base"):
    """A small, fast candidate of either family."""
    if family == "logistic":
        params: dict = {"C": 1.0}
        family = "logistic_regression"
    else:
        params = {"n_estimators": 30, "min_child_samples": 5}
    return model.build(family, params, PATIENTS, calibration=calibration, features=features)


@pytest.mark.parametrize("features", clinical.FEATURE_SETS)
@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_none_and_nan_are_the_same_missing_category(frame, family, features) -> None:
    X, y = frame
    pipeline = build(family, features=features).fit(X, y)
    as_nan = X.copy()
    for column in ("race", "diag_3"):
        as_nan[column] = [np.nan if v is None else v for v in as_nan[column]]
    assert np.allclose(pipeline.predict_proba(X), pipeline.predict_proba(as_nan))


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_the_encoded_rows_are_sparse_and_fit_as_dense_ones_do(frame, family) -> None:
    """The one-hot columns stay sparse (a training run's memory); the estimator fitted on
    them is the one a dense matrix gives."""
    X, y = frame
    encoded = build(family).named_steps["preprocess"].fit_transform(X, y)
    assert sparse.issparse(encoded)
    assert encoded.nnz <= len(X) * len(contract.FEATURE_NAMES)  # a value per input, at most
    as_sparse = build(family).named_steps["classifier"].fit(encoded, y)
    as_dense = build(family).named_steps["classifier"].fit(model.dense(encoded), y)
    assert np.allclose(
        as_sparse.predict_proba(encoded), as_dense.predict_proba(model.dense(encoded)), atol=1e-6
    )


def test_unseen_values_are_scored(frame) -> None:
    X, y = frame
    pipeline = build("logistic").fit(X, y)
    odd = X.head(3).assign(diag_1="E999", medical_specialty="Unheard-of", race="Other")
    assert np.isfinite(model.positive_proba(pipeline, odd)).all()


def test_threshold_sets_the_label_not_the_probability(frame) -> None:
    X, y = frame
    pipeline = build("logistic", calibration="sigmoid").fit(X, y)
    proba = model.positive_proba(pipeline, X)
    model.set_threshold(pipeline, 0.9)
    assert (pipeline.predict(X) == (proba >= 0.9)).all()
    assert np.allclose(model.positive_proba(pipeline, X), proba)


@pytest.mark.parametrize(
    ("calibration", "features"),
    [(None, "base"), ("sigmoid", "base"), ("isotonic", "base"), ("sigmoid", "clinical")],
)
@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_contributions_add_up_to_the_estimators_log_odds(
    frame, family, calibration, features
) -> None:
    X, y = frame
    pipeline = build(family, calibration, features).fit(X, y)
    base, contributions = explain.contributions(pipeline, X.head(10))
    assert list(contributions.columns) == list(contract.FEATURE_NAMES)
    # Contributions explain the estimator's score; calibration maps it afterwards.
    raw = model.uncalibrated_proba(pipeline, X.head(10))
    logit = np.log(raw / (1 - raw))
    assert np.allclose(base + contributions.sum(axis=1).to_numpy(), logit, atol=1e-6)
    if calibration is None:
        assert np.allclose(raw, model.positive_proba(pipeline, X.head(10)))


def test_calibration_is_inside_the_pipeline_and_keeps_the_ranking(frame) -> None:
    X, y = frame
    pipeline = build("logistic", "sigmoid").fit(X, y)
    calibrated, raw = model.positive_proba(pipeline, X), model.uncalibrated_proba(pipeline, X)
    assert not np.allclose(calibrated, raw)  # class_weight="balanced" inflates the raw score
    assert abs(calibrated.mean() - y.mean()) < abs(raw.mean() - y.mean())
    # sigmoid calibration is monotone: the order of patients is the estimator's
    assert (np.argsort(calibrated, kind="stable") == np.argsort(raw, kind="stable")).all()


def test_encoder_and_calibration_folds_never_split_a_patient(frame) -> None:
    X, y = frame
    pipeline = build("lightgbm", "isotonic").fit(X, y)
    encoder = pipeline.named_steps["preprocess"].named_transformers_["codes"][-1]
    calibrator = pipeline.named_steps["classifier"].estimator
    for cv in (encoder.cv, calibrator.cv):
        splits = list(cv.split(X, y))
        assert len(splits) >= 3
        for fitting, held_out in splits:
            assert set(PATIENTS[held_out]).isdisjoint(PATIENTS[fitting])


def test_patient_folds_follow_the_seed() -> None:
    patients = np.repeat(np.arange(1000), 3)
    a, b = model.patient_folds(patients, 5, 1), model.patient_folds(patients, 5, 2)
    assert (a == model.patient_folds(patients, 5, 1)).all()
    assert (a != b).any()
    assert all(len(set(a[patients == p])) == 1 for p in range(0, 1000, 37))
    assert np.bincount(a).min() >= 190  # balanced: 200 patients per fold, give or take


def test_every_seed_comes_from_the_setting() -> None:
    pipeline = model.build("lightgbm", {"n_estimators": 5}, PATIENTS, seed=7, calibration="sigmoid")
    calibrated = pipeline.named_steps["classifier"].estimator
    assert calibrated.estimator.random_state == 7
    lr = model.build("logistic_regression", {"C": 1.0}, PATIENTS, seed=11)
    assert lr.named_steps["classifier"].estimator.random_state == 11


def test_an_unknown_family_or_calibration_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model family"):
        model.build("xgboost", {}, PATIENTS)
    with pytest.raises(ValueError, match="calibration must be one of"):
        model.build("lightgbm", {}, PATIENTS, calibration="platt")


def test_source_column_prefers_the_longest_name() -> None:
    assert explain.source_column("categories__metformin-rosiglitazone_Steady") == (
        "metformin-rosiglitazone"
    )
    assert explain.source_column("categories__metformin_Up") == "metformin"
    assert explain.source_column("numeric__time_in_hospital") == "time_in_hospital"


def test_clinical_features_group_the_diagnoses(frame) -> None:
    X, y = frame
    preprocess = build("logistic", features="clinical").fit(X, y).named_steps["preprocess"]
    row = X.head(1).assign(diag_1="428", diag_2="250.83", diag_3="hello")
    encoded = model.dense(preprocess.transform(row))
    encoded = pd.DataFrame(encoded, columns=preprocess.get_feature_names_out())
    # 428 (heart failure) and 250.83 (diabetes) are chronic; "hello" is no code: not counted.
    chronic = encoded[[f"chronic__{d}" for d in clinical.DIAGNOSES]].iloc[0].tolist()
    assert chronic == [1.0, 1.0, 0.0]
    lookup = preprocess.named_transformers_["ccs"][:-1]  # the steps before the target encoder
    ccs = lookup.transform(row[list(clinical.DIAGNOSES)])
    # CCS 108: heart failure; 50: diabetes with complications; "hello" has no group.
    assert ccs[0].tolist() == ["108", "50", ""]
    missing = lookup.transform(row.assign(diag_3=None, diag_2=np.nan)[list(clinical.DIAGNOSES)])
    # Missing stays missing (the encoders' own category), not "no group".
    assert missing[0].tolist() == ["108", model.MISSING_CATEGORY, model.MISSING_CATEGORY]
    assert {explain.source_column(n) for n in encoded.columns} <= set(contract.FEATURE_NAMES)


def test_a_clinical_pipeline_loads_without_this_project(frame, tmp_path) -> None:
    X, y = frame
    pipeline = build("lightgbm", features="clinical").fit(X, y)
    path = tmp_path / "model.skops"  # the format models are logged in (tracking.py)
    path.write_bytes(skops.io.dumps(pipeline))
    # The lookup tables are saved as arrays, not as ~20k JSON nodes each (that was ~136 MB of
    # JSON per model: minutes to save, upload and load).
    with zipfile.ZipFile(path) as saved:
        assert saved.getinfo("schema.json").file_size < 2_000_000
    expected = model.positive_proba(pipeline, X.head(5))
    X.head(5).to_pickle(tmp_path / "rows.pkl")
    # ``readmission`` made unimportable: the model must hold only library objects and tables.
    script = (
        "import sys, pandas as pd, skops.io as sio; sys.modules['readmission'] = None; "
        f"data = open({str(path)!r}, 'rb').read(); "
        "m = sio.loads(data, trusted=sio.get_untrusted_types(data=data)); "
        f"print(list(m.predict_proba(pd.read_pickle({str(tmp_path / 'rows.pkl')!r}))[:, 1]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.allclose(eval(done.stdout), expected)
