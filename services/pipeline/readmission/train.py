"""Train the candidates on train, tune and calibrate them on val, refit on train + val."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import ParameterSampler
from sklearn.pipeline import Pipeline

from readmission import calibration, model, tracking
from readmission.evaluate import choose_threshold, classification_metrics
from readmission.settings import Settings
from readmission.trained import Candidate, Dataset, load_dataset

__all__ = ["Candidate", "Dataset", "load_dataset", "train_and_log", "tune"]

log = logging.getLogger(__name__)

# The first LightGBM trial is a configuration known to do well here; the rest are sampled.
LIGHTGBM_DEFAULT = {
    "n_estimators": 650,
    "learning_rate": 0.02,
    "num_leaves": 15,
    "min_child_samples": 100,
    "colsample_bytree": 0.5,
    "subsample": 0.8,
    "subsample_freq": 1,
    "reg_lambda": 5.0,
    "scale_pos_weight": 1.0,
}
LIGHTGBM_SPACE = {
    "n_estimators": [300, 500, 800],
    "learning_rate": [0.02, 0.03, 0.05],
    "num_leaves": [7, 15, 31],
    "min_child_samples": [50, 100, 200],
    "colsample_bytree": [0.4, 0.5, 0.7],
    "subsample": [0.8],
    "subsample_freq": [1],
    "reg_lambda": [1.0, 5.0, 10.0],
    # Class imbalance: up-weighting positives is tried, but it must keep val Brier below the
    # prevalence baseline (see _select) — the decision threshold does the rest.
    "scale_pos_weight": [1.0, 1.5, 2.0],
}
LOGISTIC_SPACE = [{"C": 0.05}, {"C": 0.5}]


def _select(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Best val ROC-AUC among trials whose val Brier beats the prevalence baseline."""
    calibrated = [t for t in trials if t["val_brier"] < t["val_brier_baseline"]]
    return max(calibrated or trials, key=lambda t: t["val_roc_auc"])


@dataclass(frozen=True)
class Encoded:
    """One feature set's preprocessing, fitted on train, and train and val through it: every
    configuration of a family shares it (the fit depends on the rows and folds, not on them)."""

    features: str
    preprocess: Any
    train: np.ndarray
    val: np.ndarray

    @classmethod
    def fit(cls, family: str, features: str, data: Dataset, seed: int) -> Encoded:
        pipeline = model.build(family, {}, data.patients("train"), seed, features=features)
        preprocess = pipeline.named_steps["preprocess"]
        (X_train, y_train), (X_val, _) = data.part("train"), data.part("val")
        return cls(features, preprocess, preprocess.fit_transform(X_train, y_train),
                   preprocess.transform(X_val))  # fmt: skip


def _trial(
    i: int,
    family: str,
    params: dict[str, Any],
    encoded: Encoded,
    data: Dataset,
    seed: int,
    threads: int | None = None,
) -> tuple[dict[str, Any], Pipeline]:
    """Fit one configuration on train (through the shared preprocessing) and score it on val.
    The pipeline returned is the one ``model.build`` makes, with that preprocessing in it."""
    _, y_train = data.part("train")
    _, y_val = data.part("val")
    started = time.perf_counter()
    pipeline = model.build(
        family, params, data.patients("train"), seed, features=encoded.features, threads=threads
    )
    pipeline.steps[0] = ("preprocess", encoded.preprocess)
    pipeline.named_steps["classifier"].fit(encoded.train, y_train)
    proba = pipeline.named_steps["classifier"].predict_proba(encoded.val)[:, 1]
    scores = classification_metrics(y_val, proba, 0.5)
    log.info("%s trial %d (%s): val ROC-AUC %.4f", family, i, encoded.features, scores["roc_auc"])
    trial = {
        "trial": i,
        "feature_set": encoded.features,
        **params,
        "fit_seconds": time.perf_counter() - started,
        **{f"val_{k}": scores[k] for k in ("roc_auc", "pr_auc", "brier", "brier_baseline")},
    }
    return trial, pipeline


def _trials(
    family: str,
    space: list[dict[str, Any]],
    data: Dataset,
    seed: int,
    feature_sets: tuple,
    threads: int | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]], list[Pipeline], dict]:
    """The first configuration with every feature set, the others with the set that won on val.
    Also returns each feature set's :class:`Encoded` data."""
    encoded = {features: Encoded.fit(family, features, data, seed) for features in feature_sets}
    configs = [(features, space[0]) for features in feature_sets]
    results = [
        _trial(i, family, params, encoded[features], data, seed, threads)
        for i, (features, params) in enumerate(configs)
    ]
    for trial, _ in results:
        trial["feature_comparison"] = True  # the same configuration, each feature set
    winner = _select([trial for trial, _ in results])["feature_set"]
    configs += [(winner, params) for params in space[1:]]
    results += [
        _trial(i, family, configs[i][1], encoded[winner], data, seed, threads)
        for i in range(len(feature_sets), len(configs))
    ]
    return [trial for trial, _ in results], configs, [p for _, p in results], encoded


def _choose(
    family: str,
    space: list[dict[str, Any]],
    data: Dataset,
    seed: int,
    feature_sets: tuple[str, ...],
    threads: int | None,
) -> tuple[list[dict[str, Any]], str, dict[str, Any], calibration.Choice]:
    """The trials, and the feature set, configuration and calibration they chose on val. The
    trials' models and encoded rows are released on return, before the refit needs the room."""
    trials, configs, fitted, encoded = _trials(family, space, data, seed, feature_sets, threads)
    best = _select(trials)
    features, params = configs[best["trial"]]
    classifier = fitted[best["trial"]].named_steps["classifier"]  # on the encoded val rows
    _, y_val = data.part("val")
    choice = calibration.choose(
        classifier, encoded[features].val, y_val, data.patients("val"), seed
    )
    return trials, features, params, choice


def tune(
    family: str,
    space: list[dict[str, Any]],
    data: Dataset,
    seed: int,
    feature_sets: tuple[str, ...] = ("base",),
    threads: int | None = None,
) -> Candidate:
    """Choose the feature set, configuration, calibration and threshold on val; refit on
    train + val. The test split is only ever used to judge: every choice is made on val.
    """
    started = time.perf_counter()
    trials, features, params, choice = _choose(family, space, data, seed, feature_sets, threads)
    _, y_val = data.part("val")
    threshold = choose_threshold(y_val, choice.val_proba)
    X_fit, y_fit = data.part("train", "val")
    patients = np.concatenate([data.patients("train"), data.patients("val")])
    pipeline = model.build(
        family,
        params,
        patients,
        seed,
        calibration=choice.method,
        features=features,
        threads=threads,
    )
    pipeline.fit(X_fit, y_fit)
    model.set_threshold(pipeline, threshold)
    X_test, y_test = data.part("test")
    proba, raw = model.positive_proba(pipeline, X_test), model.uncalibrated_proba(pipeline, X_test)
    slope, intercept = calibration.slope_intercept(y_test, proba)
    return Candidate(
        family=family,
        pipeline=pipeline,
        params=params,
        features=features,
        val=classification_metrics(y_val, choice.val_proba, threshold),
        test={
            **classification_metrics(y_test, proba, threshold),
            "brier_uncalibrated": float(brier_score_loss(y_test, raw)),
            "calibration_slope": slope,
            "calibration_intercept": intercept,
        },
        trials=trials,
        calibration={"method": choice.method, "val_brier": choice.val_brier},
        test_proba=proba,
        test_raw=raw,
        train_seconds=time.perf_counter() - started,
    )


def lightgbm_space(trials: int, seed: int) -> list[dict[str, Any]]:
    """The default configuration followed by ``trials - 1`` sampled ones."""
    sampled = ParameterSampler(LIGHTGBM_SPACE, n_iter=max(trials - 1, 0), random_state=seed)
    return [LIGHTGBM_DEFAULT, *sampled][:trials]


def train_candidates(data: Dataset, settings: Settings) -> list[Candidate]:
    """LightGBM (tuned) and the logistic-regression baseline."""
    seed, sets, threads = settings.RANDOM_SEED, settings.feature_sets, settings.TRAIN_THREADS
    lightgbm = lightgbm_space(settings.TUNING_TRIALS, seed)
    return [
        tune("lightgbm", lightgbm, data, seed, sets, threads),
        tune("logistic_regression", LOGISTIC_SPACE[: settings.TUNING_TRIALS], data, seed, sets),
    ]


def train_and_log(
    data: Dataset, settings: Settings, tags: dict[str, str] | None = None
) -> list[Candidate]:
    """Train every candidate and log each as a nested run of one training run (``tags`` on
    the training run, e.g. why it ran)."""
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    mlflow.set_experiment(settings.MLFLOW_EXPERIMENT)
    with mlflow.start_run(run_name="training") as parent:
        mlflow.set_tags({**data.tags, **(tags or {})})
        candidates = [
            tracking.log_candidate(c, data, settings) for c in train_candidates(data, settings)
        ]
        best = best_candidate(candidates)
        mlflow.set_tags({"best_candidate": best.family, "best_run_id": best.run_id})
        runs = [parent.info.run_id, *(c.run_id for c in candidates)]
        mlflow.log_metrics(
            {
                "best_val_roc_auc": best.val["roc_auc"],
                "train_seconds": sum(c.train_seconds for c in candidates),
                # Not in train_seconds: the profile is made after the candidates are measured.
                "profile_seconds": tracking.log_profile(data, runs),
            }
        )
    log.info(
        "training run %s: best %s (val ROC-AUC %.4f)",
        parent.info.run_id,
        best.family,
        best.val["roc_auc"],
    )
    return candidates


def best_candidate(candidates: list[Candidate]) -> Candidate:
    """The candidate with the best val ROC-AUC (the test split stays for judging only)."""
    return max(candidates, key=lambda c: c.val["roc_auc"])
