"""Candidate model pipelines: preprocessing + estimator as ONE scikit-learn Pipeline.

Only scikit-learn and LightGBM classes are used, so a logged model loads anywhere those two are
installed (no project code needed), and the API can feed it raw, human-readable columns.

Unseen category values: the one-hot encoder maps them to the "infrequent" bucket learned at
training time (``handle_unknown="infrequent_if_exist"``), and the target encoder maps unseen
ICD-9 codes / specialties to the training prevalence. Missing values are a category of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)

from readmission import contract

MISSING_CATEGORY = "missing"
LOW_CARDINALITY = (*contract.CODE_FEATURES, *contract.CATEGORY_FEATURES)


def to_model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the feature columns with the dtypes the pipelines expect.

    Counts and lookup codes are integers; categories and free text are strings (``None`` when
    missing), so a request body, a clean-table row and a CSV row all look alike to the model.
    """
    missing = [c for c in contract.FEATURE_NAMES if c not in frame.columns]
    if missing:
        raise KeyError(f"missing feature columns: {missing}")
    out = pd.DataFrame(index=frame.index)
    for col in contract.FEATURES:
        values = frame[col.name]
        if col.kind in (contract.Kind.INTEGER, contract.Kind.CODE):
            out[col.name] = values.astype("int64")
        else:
            out[col.name] = pd.Series(
                [None if pd.isna(v) else str(v) for v in values], index=frame.index, dtype=object
            )
    return out


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


def _preprocessor(*, scale: bool) -> ColumnTransformer:
    onehot = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=30, sparse_output=False
    )
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
    return ColumnTransformer(
        [
            ("numeric", numeric, list(contract.NUMERIC_FEATURES)),
            ("age_order", age, ["age"]),
            ("categories", make_pipeline(*_missing_as_category(), onehot), list(LOW_CARDINALITY)),
            (
                "codes",
                make_pipeline(
                    *_missing_as_category(),
                    TargetEncoder(target_type="binary", cv=KFold(5, shuffle=True, random_state=0)),
                ),
                list(contract.TEXT_FEATURES),
            ),
        ],
        verbose_feature_names_out=True,
    )


def build_lightgbm(params: dict[str, Any], seed: int = 42) -> Pipeline:
    """LightGBM on the shared preprocessing; class imbalance through ``scale_pos_weight``."""
    estimator = LGBMClassifier(
        objective="binary", random_state=seed, n_jobs=2, verbose=-1, **params
    )
    return Pipeline(
        [
            ("preprocess", _preprocessor(scale=False)),
            ("classifier", FixedThresholdClassifier(estimator)),
        ]
    )


def build_logistic(params: dict[str, Any], seed: int = 42) -> Pipeline:
    """The scikit-learn baseline: balanced logistic regression on scaled, one-hot features."""
    estimator = LogisticRegression(
        class_weight="balanced", max_iter=2000, random_state=seed, **params
    )
    return Pipeline(
        [
            ("preprocess", _preprocessor(scale=True)),
            ("classifier", FixedThresholdClassifier(estimator)),
        ]
    )


def set_threshold(pipeline: Pipeline, threshold: float) -> None:
    """Make ``pipeline.predict`` label at ``threshold`` (``predict_proba`` is unchanged)."""
    pipeline.named_steps["classifier"].threshold = float(threshold)


def positive_proba(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probability of readmission within 30 days for each row."""
    return pipeline.predict_proba(frame)[:, 1]
