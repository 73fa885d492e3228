"""Calibration: choose the method on val, measure it (slope, intercept, curve) on test.

The method is chosen by cross-fitting each calibrator on val (folds by patient) on top of the
train-only model and keeping the one with the lower out-of-fold Brier score. Those out-of-fold
probabilities are also what the decision threshold is chosen on, so the threshold lives on the
same (calibrated) scale as the probabilities that are served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from readmission import model

EPS = 1e-6


@dataclass(frozen=True)
class Choice:
    """The calibration method kept, and the out-of-fold val probabilities under it."""

    method: str
    val_proba: np.ndarray
    val_brier: dict[str, float]  # per method, and "none" for the uncalibrated model


def cross_calibrated(
    fitted: Any,
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    patients: np.ndarray,
    method: str,
    seed: int,
) -> np.ndarray:
    """Out-of-fold probabilities of ``fitted`` calibrated by ``method`` on the other folds."""
    folds = model.patient_folds(patients, model.CALIBRATION_FOLDS, seed)
    out = np.empty(len(y))
    for k in np.unique(folds):
        fit, held = folds != k, folds == k
        calibrator = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
        calibrator.fit(X[fit], y[fit])
        out[held] = calibrator.predict_proba(X[held])[:, 1]
    return out


def choose(
    fitted: Any,
    X_val: pd.DataFrame | np.ndarray,
    y_val: np.ndarray,
    patients: np.ndarray,
    seed: int,
) -> Choice:
    """The method whose cross-fitted val Brier score is lowest. ``fitted`` is a fitted
    classifier: a whole pipeline on the val rows, or its last step on the rows it encoded (the
    same scores, without preprocessing val again for every fold and method)."""
    y_val = np.asarray(y_val)
    proba = {
        m: cross_calibrated(fitted, X_val, y_val, patients, m, seed)
        for m in model.CALIBRATION_METHODS
    }
    briers = {m: float(brier_score_loss(y_val, p)) for m, p in proba.items()}
    best = min(briers, key=briers.__getitem__)
    briers["none"] = float(brier_score_loss(y_val, model.positive_proba(fitted, X_val)))
    return Choice(best, proba[best], briers)


def slope_intercept(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """Calibration slope and intercept: logistic regression of the label on logit(p).

    A calibrated model has slope 1 and intercept 0; slope < 1 means over-confident scores.
    """
    p = np.clip(np.asarray(proba, dtype=float), EPS, 1 - EPS)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf).fit(logit, np.asarray(y))  # unpenalised
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def curve_figure(y: np.ndarray, curves: dict[str, np.ndarray], path: Path, bins: int = 10) -> Path:
    """Save a reliability diagram (observed rate vs mean predicted, quantile bins) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    top = 0.0
    for label, proba in curves.items():
        observed, predicted = calibration_curve(y, proba, n_bins=bins, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=label)
        top = max(top, float(predicted.max()), float(observed.max()))
    top = min(1.0, top * 1.1)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed 30-day readmission rate",
        title="Calibration on the test split",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
