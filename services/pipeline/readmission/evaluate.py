"""Metrics shared by training, promotion and the evaluation report."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)


def choose_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximises F1 (chosen on val, applied everywhere else)."""
    precision, recall, thresholds = precision_recall_curve(y_true, proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict:
    """ROC-AUC, PR-AUC, Brier (and the prevalence baseline), and F1/precision/recall at a cut."""
    y_true = np.asarray(y_true)
    labels = (proba >= threshold).astype(int)
    prevalence = float(y_true.mean())
    return {
        "roc_auc": float(roc_auc_score(y_true, proba)),
        "pr_auc": float(average_precision_score(y_true, proba)),
        "brier": float(brier_score_loss(y_true, proba)),
        # Brier of always predicting the prevalence: a useful model must beat it.
        "brier_baseline": prevalence * (1 - prevalence),
        "f1": float(f1_score(y_true, labels, zero_division=0)),
        "precision": float(precision_score(y_true, labels, zero_division=0)),
        "recall": float(recall_score(y_true, labels, zero_division=0)),
        "threshold": float(threshold),
        "prevalence": prevalence,
        "n": len(y_true),
    }
