"""Candidate model pipelines: preprocessing + estimator as ONE scikit-learn Pipeline.

Only scikit-learn and LightGBM classes (and, for the clinical features, plain lookup
tables) are used, so a logged model loads anywhere those are installed (no project code needed),
and the API can feed it raw, human-readable columns.

Unseen category values: the one-hot encoder maps them to the "infrequent" bucket learned at
training time (``handle_unknown="infrequent_if_exist"``), and the target encoder maps unseen
ICD-9 codes / specialties to the training prevalence. Missing values are a category of their own.

No leakage across patients: every cross-fitting inside the pipeline (the target encoder's folds,
the calibration folds) assigns folds by patient, so a patient's own labels never encode their
other encounters. Calibration (``calibration=``) wraps the estimator in scikit-learn's
``CalibratedClassifierCV`` with ``ensemble=False``: out-of-fold scores fit the calibrator, then
the estimator is refit on every row — the served probability is then a probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier, PredefinedSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)

from readmission import clinical, contract

MISSING_CATEGORY = "missing"
LOW_CARDINALITY = (*contract.CODE_FEATURES, *contract.CATEGORY_FEATURES)
FAMILIES = ("lightgbm", "logistic_regression")
CALIBRATION_METHODS = ("sigmoid", "isotonic")
ENCODER_FOLDS, CALIBRATION_FOLDS = 5, 3


def patient_folds(patients: np.ndarray | pd.Series, n_folds: int, seed: int) -> np.ndarray:
    """A fold id per row such that all rows of one patient share a fold (seeded shuffle)."""
    unique, inverse = np.unique(np.asarray(patients), return_inverse=True)
    folds = np.random.default_rng(seed).permutation(len(unique)) % n_folds
    return folds[inverse]


def to_model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the feature columns with the dtypes the pipelines expect.

    Counts and lookup codes are integers; categories and free text are strings (``None`` when
    missing), so a request body, a clean-table row and a CSV row all look alike to the model.
    """
    missing = [c for c in contract.FEATURE_NAMES if c not in frame.columns]
    if missing:
        raise KeyError(f"missing feature columns: {missing}")
    columns = {}
    for col in contract.FEATURES:
        values = frame[col.name]
        if col.kind in (contract.Kind.INTEGER, contract.Kind.CODE):
            columns[col.name] = values.astype("int64")
        else:
            columns[col.name] = pd.Series(_strings(values), index=frame.index, dtype=object)
    return pd.DataFrame(columns, index=frame.index)


def _strings(values: pd.Series) -> np.ndarray:
    """``values`` as ``str`` objects (``None`` when missing), one object per distinct value:
    1.6 million rows of a text column hold a few dozen strings, not 1.6 million of them."""
    codes, uniques = pd.factorize(values)  # missing → -1 → the None at the end
    return np.array([*(str(u) for u in uniques), None], dtype=object)[codes]


def input_schema():
    """The MLflow input schema, from the contract (nullable columns are optional)."""
    from mlflow.types import ColSpec, DataType, Schema

    return Schema(
        [
            ColSpec(
                DataType.long
                if c.kind in (contract.Kind.INTEGER, contract.Kind.CODE)
                else DataType.string,
                c.name,
                required=not c.nullable,
            )
            for c in contract.FEATURES
        ]
    )


def _missing_as_category() -> tuple[SimpleImputer, SimpleImputer]:
    """Turn both ``None`` and ``NaN`` into one "missing" category.

    A request body gives ``None``; MLflow's pyfunc schema enforcement turns it into ``NaN``.
    One imputer only recognises one marker, so two make every path encode a patient alike.
    """
    # NaN first: the None-marker imputer refuses NaN in its input.
    return tuple(
        SimpleImputer(
            missing_values=marker,
            strategy="constant",
            fill_value=MISSING_CATEGORY,
            keep_empty_features=True,
        )
        for marker in (np.nan, None)
    )


def _clinical(encoder_folds: np.ndarray) -> list[tuple[str, Any, list[str]]]:
    """CCS group (target-encoded), chapter (one-hot) and chronic flag of each diagnosis."""

    def lookup(table: str) -> tuple[Any, ...]:  # missing → the missing category → the table
        return (*_missing_as_category(), *clinical.lookup_steps(table, MISSING_CATEGORY))

    diagnoses = list(clinical.DIAGNOSES)
    return [
        (
            "ccs",
            make_pipeline(
                *lookup("ccs"),
                TargetEncoder(target_type="binary", cv=PredefinedSplit(encoder_folds)),
            ),
            diagnoses,
        ),
        (
            "chapter",
            make_pipeline(*lookup("chapter"), _onehot()),
            diagnoses,
        ),
        ("chronic", make_pipeline(*lookup("chronic")), diagnoses),
    ]


def _onehot() -> OneHotEncoder:
    # Sparse: ~150 indicator columns, one of them set per column and row. Dense, they were
    # most of the encoded matrix (and of a training run's peak memory).
    return OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=30)


def _preprocessor(
    *, scale: bool, encoder_folds: np.ndarray, features: str = "base"
) -> ColumnTransformer:
    numeric: Any = (
        make_pipeline(
            FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()
        )
        if scale
        else "passthrough"
    )
    age = OrdinalEncoder(
        categories=[list(contract.AGE_BRACKETS)],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
    )
    encoder = TargetEncoder(target_type="binary", cv=PredefinedSplit(encoder_folds))
    return ColumnTransformer(
        [
            ("numeric", numeric, list(contract.NUMERIC_FEATURES)),
            ("age_order", age, ["age"]),
            (
                "categories",
                make_pipeline(*_missing_as_category(), _onehot()),
                list(LOW_CARDINALITY),
            ),
            (
                "codes",
                make_pipeline(*_missing_as_category(), encoder),
                list(contract.TEXT_FEATURES),
            ),
            *(_clinical(encoder_folds) if clinical.check(features) == "clinical" else []),
        ],
        sparse_threshold=1.0,  # always CSR (see :func:`dense` where a dense array is needed)
        verbose_feature_names_out=True,
    )


def _estimator(family: str, params: dict[str, Any], seed: int, threads: int | None) -> Any:
    if family == "lightgbm":
        # Class imbalance through ``scale_pos_weight`` (a tuned parameter). OpenMP threads
        # that outnumber the cores left to them spin-wait: many times slower, not a bit.
        return LGBMClassifier(
            objective="binary", random_state=seed, n_jobs=threads, verbose=-1, **params
        )
    if family == "logistic_regression":
        # Newton-Cholesky: ~150 encoded columns and many rows, converges in a few steps (lbfgs
        # reaches the same fit ~9x slower).
        return LogisticRegression(
            class_weight="balanced",
            solver="newton-cholesky",
            max_iter=200,
            random_state=seed,
            **params,
        )
    raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")


def build(
    family: str,
    params: dict[str, Any],
    patients: np.ndarray | pd.Series,
    seed: int = 42,
    calibration: str | None = None,
    features: str = "base",
    threads: int | None = None,
) -> Pipeline:
    """An unfitted candidate for the rows of ``patients`` (one patient number per row to fit).

    LightGBM sees raw counts; the logistic baseline sees scaled ``log1p`` counts. The folds of
    the target encoder and of the calibration are drawn by patient from ``seed``. ``features``
    "clinical" adds the diagnoses' CCS groups, chapters and chronic flags (readmission.clinical).
    ``threads``: LightGBM's (None: the physical cores this process may use).
    """
    if calibration is not None and calibration not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {CALIBRATION_METHODS} or None")
    estimator = _estimator(family, params, seed, threads)
    if calibration is not None:
        folds = PredefinedSplit(patient_folds(patients, CALIBRATION_FOLDS, seed + 1))
        estimator = CalibratedClassifierCV(estimator, method=calibration, cv=folds, ensemble=False)
    preprocess = _preprocessor(
        scale=family == "logistic_regression",
        encoder_folds=patient_folds(patients, ENCODER_FOLDS, seed),
        features=features,
    )
    return Pipeline(
        [("preprocess", preprocess), ("classifier", FixedThresholdClassifier(estimator))]
    )


def dense(encoded: Any) -> np.ndarray:
    """Encoded rows as a dense float array (the preprocessing's output is a sparse matrix)."""
    return encoded.toarray() if sparse.issparse(encoded) else np.asarray(encoded, dtype=float)


def base_estimator(pipeline: Pipeline) -> Any:
    """The fitted LightGBM / logistic model inside the pipeline (under any calibration)."""
    fitted = pipeline.named_steps["classifier"].estimator_
    if isinstance(fitted, CalibratedClassifierCV):
        return fitted.calibrated_classifiers_[0].estimator
    return fitted


def uncalibrated_proba(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """What the estimator alone says, before calibration (for calibration reports)."""
    encoded = pipeline.named_steps["preprocess"].transform(frame)
    return base_estimator(pipeline).predict_proba(encoded)[:, 1]


def set_threshold(pipeline: Pipeline, threshold: float) -> None:
    """Make ``pipeline.predict`` label at ``threshold`` (``predict_proba`` is unchanged)."""
    pipeline.named_steps["classifier"].threshold = float(threshold)


def positive_proba(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probability of readmission within 30 days for each row."""
    return pipeline.predict_proba(frame)[:, 1]
