"""Per-prediction explanations: each input's contribution to the log-odds of readmission.

LightGBM gives exact per-feature contributions (``pred_contrib``, TreeSHAP); the logistic
baseline's are ``coefficient * transformed value``. Contributions of the encoded columns
(one-hot levels, target encodings) are summed back to the data set's original columns.

They explain the estimator's score before calibration: calibration is a monotone map of that
score, so the order and direction of every contribution hold for the served probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from readmission import contract, model

_BY_LENGTH = sorted(contract.FEATURE_NAMES, key=len, reverse=True)


def source_column(encoded: str) -> str:
    """The original column of an encoded feature name (``categories__race_Caucasian`` → race)."""
    name = encoded.split("__", 1)[-1]
    return next(c for c in _BY_LENGTH if name == c or name.startswith(c + "_"))


def explained(pipeline: Pipeline, frame: pd.DataFrame) -> tuple[float, pd.DataFrame, np.ndarray]:
    """(base log-odds, per-column contributions, each patient's log-odds before calibration).

    The log-odds come from the estimator's own ``predict_proba`` on the same encoded rows, so
    they are what the contributions must add up to — computed apart, from one preprocessing pass.
    """
    features = model.to_model_frame(frame)
    preprocess = pipeline.named_steps["preprocess"]
    estimator = model.base_estimator(pipeline)
    encoded = model.dense(preprocess.transform(features))
    names = preprocess.get_feature_names_out()
    if isinstance(estimator, LogisticRegression):
        values = encoded * estimator.coef_[0]
        base = float(estimator.intercept_[0])
    else:
        raw = estimator.booster_.predict(encoded, pred_contrib=True)
        values, base = raw[:, :-1], float(raw[0, -1])
    per_encoded = pd.DataFrame(values, columns=names, index=frame.index)
    grouped = per_encoded.T.groupby([source_column(n) for n in names]).sum().T
    proba = estimator.predict_proba(encoded)[:, 1]
    return base, grouped[list(contract.FEATURE_NAMES)], np.log(proba / (1 - proba))


def contributions(pipeline: Pipeline, frame: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """(base log-odds, one row per patient and original column of log-odds contributions)."""
    base, grouped, _ = explained(pipeline, frame)
    return base, grouped
