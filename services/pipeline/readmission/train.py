"""Train the candidates on train, tune them on val, and log each to MLflow as one pipeline."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec
from sklearn.model_selection import ParameterSampler
from sklearn.pipeline import Pipeline
from sqlalchemy.engine import Engine

from readmission import contract, db, model
from readmission.evaluate import choose_threshold, classification_metrics
from readmission.settings import Settings

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


@dataclass
class Dataset:
    """The clean rows with their lineage (which batches, how many rows per split)."""

    frame: pd.DataFrame
    batch_ids: list[int]

    def part(self, split: str) -> tuple[pd.DataFrame, np.ndarray]:
        rows = self.frame[self.frame["split"] == split]
        return model.to_model_frame(rows), rows[contract.LABEL].to_numpy()

    @property
    def lineage(self) -> dict[str, Any]:
        counts = self.frame["split"].value_counts()
        return {
            "data.table": f"{db.CLEAN_SCHEMA}.{db.diabetes_clean.name}",
            "data.batch_ids": ",".join(map(str, self.batch_ids)),
            "data.n_batches": len(self.batch_ids),
            "data.n_rows": len(self.frame),
            **{f"data.n_{s}": int(counts.get(s, 0)) for s in db.SPLITS},
        }


@dataclass
class Candidate:
    """A tuned model family: its pipeline, chosen params and threshold, and its scores."""

    family: str
    pipeline: Pipeline
    params: dict[str, Any]
    val: dict[str, float]
    test: dict[str, float]
    trials: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    model_uri: str | None = None


def load_dataset(engine: Engine) -> Dataset:
    """All clean rows; raises if a split is empty (nothing to train or judge on)."""
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(db.diabetes_clean), conn)
    present = set(frame["split"]) if len(frame) else set()
    if not set(db.SPLITS) <= present:
        raise RuntimeError(
            f"clean data has splits {sorted(present)}; need train, val and test — "
            "ingest and clean at least one batch first"
        )
    return Dataset(frame, sorted(int(b) for b in frame["batch_id"].unique()))


def _fit(
    family: str, params: dict[str, Any], seed: int, X: pd.DataFrame, y: np.ndarray
) -> Pipeline:
    build = model.build_lightgbm if family == "lightgbm" else model.build_logistic
    return build(params, seed).fit(X, y)


def _select(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Best val ROC-AUC among trials whose val Brier beats the prevalence baseline."""
    calibrated = [t for t in trials if t["val_brier"] < t["val_brier_baseline"]]
    return max(calibrated or trials, key=lambda t: t["val_roc_auc"])


def tune(family: str, space: list[dict[str, Any]], data: Dataset, seed: int) -> Candidate:
    """Fit each configuration on train, score on val, keep the best; threshold from val."""
    X_train, y_train = data.part("train")
    X_val, y_val = data.part("val")
    X_test, y_test = data.part("test")
    trials, fitted = [], {}
    for i, params in enumerate(space):
        started = time.perf_counter()
        pipeline = _fit(family, params, seed, X_train, y_train)
        proba = model.positive_proba(pipeline, X_val)
        scores = classification_metrics(y_val, proba, 0.5)
        trials.append(
            {
                "trial": i,
                **params,
                "fit_seconds": time.perf_counter() - started,
                **{f"val_{k}": scores[k] for k in ("roc_auc", "pr_auc", "brier", "brier_baseline")},
            }
        )
        fitted[i] = (pipeline, proba)
        log.info("%s trial %d: val ROC-AUC %.4f", family, i, scores["roc_auc"])
    best = _select(trials)
    params = space[best["trial"]]
    _, val_proba = fitted[best["trial"]]
    threshold = choose_threshold(y_val, val_proba)
    # Configuration and threshold are chosen on val; the model that is logged is then refit on
    # train + val (more data, same settings). The test split is only ever used to judge.
    pipeline = _fit(
        family, params, seed, pd.concat([X_train, X_val]), np.concatenate([y_train, y_val])
    )
    model.set_threshold(pipeline, threshold)
    return Candidate(
        family=family,
        pipeline=pipeline,
        params=params,
        val=classification_metrics(y_val, val_proba, threshold),
        test=classification_metrics(y_test, model.positive_proba(pipeline, X_test), threshold),
        trials=trials,
    )


def lightgbm_space(trials: int, seed: int) -> list[dict[str, Any]]:
    """The default configuration followed by ``trials - 1`` sampled ones."""
    sampled = ParameterSampler(LIGHTGBM_SPACE, n_iter=max(trials - 1, 0), random_state=seed)
    return [LIGHTGBM_DEFAULT, *sampled][:trials]


def train_candidates(data: Dataset, settings: Settings) -> list[Candidate]:
    """LightGBM (tuned) and the logistic-regression baseline, both fit on train only."""
    return [
        tune(
            "lightgbm",
            lightgbm_space(settings.TUNING_TRIALS, settings.RANDOM_SEED),
            data,
            settings.RANDOM_SEED,
        ),
        tune(
            "logistic_regression",
            LOGISTIC_SPACE[: settings.TUNING_TRIALS],
            data,
            settings.RANDOM_SEED,
        ),
    ]


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "lightgbm", "skops", "pandas", "numpy")]


def _trusted_types(pipeline: Pipeline) -> list[str]:
    """Types skops must trust to load this pipeline — the ones we just built ourselves."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))


def log_candidate(candidate: Candidate, data: Dataset, settings: Settings) -> Candidate:
    """Log one candidate as one MLflow run: params, metrics, lineage, tuning table, model."""
    X_val, _ = data.part("val")
    example = X_val.head(5)
    # pyfunc returns predict_proba: one row of [P(no), P(yes)] per patient.
    output = Schema([TensorSpec(np.dtype("float64"), (-1, 2), "probabilities")])
    signature = ModelSignature(inputs=model.input_schema(), outputs=output)
    with mlflow.start_run(run_name=candidate.family, nested=True) as run:
        mlflow.set_tags({"candidate": candidate.family, **data.lineage})
        mlflow.log_params({"family": candidate.family, **candidate.params})
        mlflow.log_metrics(
            {
                f"{split}_{k}": v
                for split, m in (("val", candidate.val), ("test", candidate.test))
                for k, v in m.items()
            }
        )
        mlflow.log_table(pd.DataFrame(candidate.trials), "tuning/trials.json")
        mlflow.log_input(
            mlflow.data.from_pandas(
                data.frame.drop(columns=["processed_at"]),
                name=data.lineage["data.table"],
                targets=contract.LABEL,
            ),
            context="training",
        )
        info = mlflow.sklearn.log_model(
            candidate.pipeline,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            serialization_format="skops",
            skops_trusted_types=_trusted_types(candidate.pipeline),
            pyfunc_predict_fn="predict_proba",
        )
    candidate.run_id, candidate.model_uri = run.info.run_id, info.model_uri
    return candidate


def train_and_log(engine: Engine, settings: Settings) -> tuple[Dataset, list[Candidate]]:
    """Train every candidate and log each as a nested run of one training run."""
    data = load_dataset(engine)
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    mlflow.set_experiment(settings.MLFLOW_EXPERIMENT)
    with mlflow.start_run(run_name="training") as parent:
        mlflow.set_tags(data.lineage)
        candidates = [log_candidate(c, data, settings) for c in train_candidates(data, settings)]
        best = best_candidate(candidates)
        mlflow.set_tags({"best_candidate": best.family, "best_run_id": best.run_id})
        mlflow.log_metric("best_val_roc_auc", best.val["roc_auc"])
    log.info(
        "training run %s: best %s (val ROC-AUC %.4f)",
        parent.info.run_id,
        best.family,
        best.val["roc_auc"],
    )
    return data, candidates


def best_candidate(candidates: list[Candidate]) -> Candidate:
    """The candidate with the best val ROC-AUC (the test split stays for judging only)."""
    return max(candidates, key=lambda c: c.val["roc_auc"])
