"""Patient-level (cluster) bootstrap intervals for ROC-AUC, paired across models.

A patient may have several encounters in the test split; resampling encounters would treat
them as independent and make intervals too narrow. So patients are resampled with replacement
and each encounter is weighted by how often its patient was drawn. Every model is scored on
the SAME resamples, so the interval of a difference is paired (much tighter than two separate
intervals would suggest).

The weighted ROC-AUC is exact for integer weights (it equals the AUC of the replicated rows)
and is computed for a whole chunk of resamples at once from one sort of the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 100  # resamples scored at once (memory: CHUNK x rows floats)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided percentile interval."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.point:.4f} [{self.low:.4f}, {self.high:.4f}]"


def _patient_weights(patients: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, rows) multiplicities: each row weighted by how often its patient was drawn."""
    _, inverse = np.unique(patients, return_inverse=True)
    n_patients = int(inverse.max()) + 1
    draws = rng.integers(0, n_patients, size=(n, n_patients))
    offsets = (np.arange(n) * n_patients)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n * n_patients)
    return counts.reshape(n, n_patients)[:, inverse].astype(float)


def _weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``score`` under each row of ``weights`` (ties count one half)."""
    order = np.argsort(score, kind="mergesort")
    sorted_score, positive = score[order], y[order].astype(bool)
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives with a strictly lower score
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def resampled_aucs(
    y: np.ndarray, scores: list[np.ndarray], patients: np.ndarray, n: int, seed: int
) -> np.ndarray:
    """(n, models) ROC-AUCs of each model's scores on the same ``n`` patient resamples."""
    y, patients = np.asarray(y), np.asarray(patients)
    if not (len(y) == len(patients) and all(len(s) == len(y) for s in scores)):
        raise ValueError("labels, patients and every score array must have the same length")
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n, CHUNK):
        weights = _patient_weights(patients, min(CHUNK, n - start), rng)
        out.append(np.column_stack([_weighted_auc(y, np.asarray(s), weights) for s in scores]))
    return np.vstack(out)


def _interval(point: float, samples: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return Interval(float(point), float(low), float(high))


def auc_intervals(
    y: np.ndarray,
    scores: list[np.ndarray],
    patients: np.ndarray,
    *,
    n: int = 1000,
    confidence: float = 0.95,
    seed: int = 42,
) -> tuple[list[Interval], Interval | None]:
    """Each model's ROC-AUC interval and, for two models, that of ``scores[0] - scores[1]``."""
    # Unit weights give the plain ROC-AUC of the test rows: the point estimate.
    unit = np.ones((1, len(y)))
    points = [float(_weighted_auc(np.asarray(y), np.asarray(s), unit)[0]) for s in scores]
    samples = resampled_aucs(y, scores, patients, n, seed)
    each = [_interval(p, samples[:, i], confidence) for i, p in enumerate(points)]
    diff = None
    if len(scores) == 2:
        diff = _interval(points[0] - points[1], samples[:, 0] - samples[:, 1], confidence)
    return each, diff
