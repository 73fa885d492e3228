"""The statistics behind promotion: patient-bootstrap intervals and the decision rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from readmission import bootstrap, calibration, promote
from readmission.settings import Settings
from sklearn.metrics import roc_auc_score

RNG = np.random.default_rng(0)
N = 6000
PATIENTS = np.sort(RNG.integers(0, 4000, N))  # some patients have several encounters
Y = (RNG.random(N) < 0.12).astype(int)
SIGNAL = Y * 0.8 + RNG.normal(0, 1, N)  # a model with ROC-AUC ≈ 0.71


def test_weighted_auc_is_the_auc_of_the_replicated_rows() -> None:
    scores = np.round(SIGNAL, 1)  # many ties
    weights = bootstrap._patient_weights(PATIENTS, 3, np.random.default_rng(1))
    for w in weights:
        rows = np.repeat(np.arange(N), w.astype(int))
        expected = roc_auc_score(Y[rows], scores[rows])
        assert bootstrap._weighted_auc(Y, scores, w[None, :])[0] == pytest.approx(expected)


def test_a_patients_encounters_are_drawn_together() -> None:
    weights = bootstrap._patient_weights(PATIENTS, 20, np.random.default_rng(2))
    for patient in np.unique(PATIENTS)[:50]:
        rows = weights[:, np.equal(PATIENTS, patient)]
        assert (rows == rows[:, :1]).all()
    assert weights.sum(axis=1).mean() == pytest.approx(N, rel=0.05)


def test_intervals_cover_the_point_and_pairing_cancels_shared_noise() -> None:
    twin = SIGNAL + RNG.normal(0, 0.05, N)
    (a, b), diff = bootstrap.auc_intervals(Y, [SIGNAL, twin], PATIENTS, n=400, seed=3)
    assert a.low < a.point < a.high and b.low < b.point < b.high
    assert a.point == pytest.approx(roc_auc_score(Y, SIGNAL))
    # Paired: the difference's interval is far narrower than either model's own interval.
    assert diff.low < 0 < diff.high
    assert diff.high - diff.low < (a.high - a.low) / 3


def settings(**overrides) -> Settings:
    return Settings(BOOTSTRAP_SAMPLES=400, **overrides)


TEST = promote.TestSet(pd.DataFrame(index=range(N)), Y, PATIENTS)


def proba(signal: np.ndarray) -> np.ndarray:
    """Calibrated-looking probabilities from a score (prevalence ≈ 0.12)."""
    return 1 / (1 + np.exp(-(signal - 2.4)))


def test_a_twin_of_the_champion_is_not_promoted() -> None:
    champion = proba(SIGNAL)
    twin = proba(SIGNAL + RNG.normal(0, 0.05, N))
    verdict = promote.judge(TEST, twin, champion, settings())
    assert verdict.promoted is False
    assert "does not clear the margin" in verdict.reason
    assert verdict.diff is not None and verdict.diff.low <= 0.002


def test_a_clearly_better_challenger_is_promoted_with_its_intervals() -> None:
    better = proba(SIGNAL + Y * 0.6)
    verdict = promote.judge(TEST, better, proba(SIGNAL), settings())
    assert verdict.promoted is True, verdict.reason
    assert verdict.diff.low > 0.002
    tags = promote.decision_tags(verdict, "3", None, N, settings())
    assert float(tags["promotion.ci_low"]) < float(tags["promotion.challenger_test_roc_auc"])
    assert float(tags["promotion.diff_ci_low"]) == pytest.approx(verdict.diff.low, abs=1e-6)
    assert tags["promotion.champion_version"] == "3" and tags["promotion.decision"] == "promoted"


def test_a_better_ranking_with_a_worse_brier_is_rejected() -> None:
    better_but_inflated = proba(SIGNAL + Y * 0.6 + 1.5)  # ranks better, probabilities too high
    verdict = promote.judge(TEST, better_but_inflated, proba(SIGNAL), settings())
    assert verdict.promoted is False and "Brier" in verdict.reason


def test_the_gate_decides_alone_without_a_champion_or_when_it_cannot_be_scored() -> None:
    good, noise = proba(SIGNAL), proba(RNG.normal(0, 1, N))
    assert promote.judge(TEST, good, None, settings()).promoted is True
    assert promote.judge(TEST, noise, None, settings()).promoted is False
    verdict = promote.judge(TEST, good, None, settings(), champion_error="version 1: gone")
    assert verdict.promoted is True and "could not be scored (version 1: gone)" in verdict.reason


def test_a_champion_below_the_gate_gives_way_to_a_challenger_that_passes_it() -> None:
    weak = proba(SIGNAL * 0.2 + RNG.normal(0, 1, N))  # ROC-AUC ≈ 0.55
    verdict = promote.judge(TEST, proba(SIGNAL), weak, settings(MIN_ROC_AUC=0.62))
    assert verdict.promoted is True and "below the gate" in verdict.reason


def test_calibration_slope_and_intercept_of_a_calibrated_and_an_overconfident_model() -> None:
    p = proba(SIGNAL)
    y = (RNG.random(N) < p).astype(int)  # labels drawn from p: p is calibrated for them
    slope, intercept = calibration.slope_intercept(y, p)
    assert slope == pytest.approx(1, abs=0.2) and intercept == pytest.approx(0, abs=0.5)
    overconfident = proba(SIGNAL * 3)
    assert calibration.slope_intercept(y, overconfident)[0] < 0.6
