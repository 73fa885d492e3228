"""Log one trained candidate to MLflow: the pipeline and everything a reviewer needs beside it.

One run per candidate: params, val and test metrics (with the test ROC-AUC's patient-bootstrap
interval), the tuning table, the training data as an input, the calibration curve, the subgroup
table, the model card, and the pipeline itself with signature and input example.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from sklearn.pipeline import Pipeline

from readmission import bootstrap, calibration, drift, explain, model, model_card, profile
from readmission.settings import Settings
from readmission.trained import Candidate, Dataset

CURVE_PATH = "calibration/curve.png"


def _pip_requirements() -> list[str]:
    packages = ("scikit-learn", "lightgbm", "skops", "pandas", "numpy")
    return [f"{p}=={version(p)}" for p in packages]


def _trusted_types(pipeline: Pipeline) -> list[str]:
    """Types skops must trust to load this pipeline — the ones we just built ourselves."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))


def _reports(candidate: Candidate, data: Dataset, settings: Settings, folder: Path) -> dict:
    """The test interval, subgroup table and model card; the curve is drawn into ``folder``."""
    _, y_test = data.part("test")
    proba = candidate.test_proba  # computed once, by tune(), for the test metrics
    (interval,), _ = bootstrap.auc_intervals(
        y_test,
        [proba],
        data.patients("test"),
        n=settings.BOOTSTRAP_SAMPLES,
        confidence=settings.PROMOTION_CONFIDENCE,
        seed=settings.RANDOM_SEED,
    )
    curves = {
        f"calibrated ({candidate.calibration['method']})": proba,
        "uncalibrated": candidate.test_raw,
    }
    calibration.curve_figure(y_test, curves, folder / "curve.png")
    subgroups = model_card.subgroup_metrics(
        data.rows("test"), y_test, proba, candidate.test["threshold"]
    )
    tags = data.tags
    facts = {
        **candidate.test,
        "name": settings.MODEL_NAME,
        "family": candidate.family,
        "feature_set": candidate.features,
        "roc_auc": str(interval),
        "confidence": settings.PROMOTION_CONFIDENCE,
        "calibration": candidate.calibration["method"],
        "batch_ids": tags["data.batch_ids"],
        "fingerprint": tags["lineage.fingerprint"],
        **{k.split(".", 1)[1]: v for k, v in tags.items() if k.startswith(("data.n_", "lineage."))},
    }
    card = model_card.render(facts, subgroups)
    return {"interval": interval, "subgroups": subgroups, "card": card}


def drift_reference(candidate: Candidate, data: Dataset) -> dict:
    """The training split's bins of the watched features and of the predicted probability;
    importance = mean |contribution| to the log-odds on (up to 2,000) validation patients."""
    X_train, _ = data.part("train")
    _, contributions = explain.contributions(candidate.pipeline, data.rows("val").head(2_000))
    importance = contributions.abs().mean().to_dict()
    proba = model.positive_proba(candidate.pipeline, X_train)
    return drift.reference(X_train, proba, importance)


def training_input(data: Dataset) -> MetaDataset:
    """The training data as an MLflow dataset: the clean table, the batches, the lineage's data
    digest and each column's type from its dtype. (``mlflow.data.from_pandas`` infers the types
    by walking every value of every text column: ~20 s per candidate for 100k rows.)"""
    kinds = {"i": DataType.long, "u": DataType.long, "f": DataType.double, "b": DataType.boolean}
    frame = data.frame.drop(columns=["processed_at"])
    schema = Schema(
        [ColSpec(kinds.get(t.kind, DataType.string), c) for c, t in frame.dtypes.items()]
    )
    source = CodeDatasetSource({k: str(v) for k, v in data.tags.items() if k.startswith("data.")})
    return MetaDataset(
        source, name=data.tags["data.table"], digest=data.lineage.data_digest, schema=schema
    )


def log_profile(data: Dataset, run_ids: list[str]) -> float:
    """The training split's data profile, rendered once and logged with each of ``run_ids``;
    returns the seconds it took to render."""
    rows = profile.training_split(data.frame)
    title = f"Training split: {len(rows):,} encounters, batches {data.tags['data.batch_ids']}"
    page, seconds = profile.render(rows, title)
    client = mlflow.MlflowClient()
    for run_id in run_ids:
        client.log_text(run_id, page, profile.PROFILE_PATH)
    return seconds


def log_candidate(candidate: Candidate, data: Dataset, settings: Settings) -> Candidate:
    """Log one candidate as one (nested) MLflow run; sets its ``run_id`` and ``model_uri``."""
    X_val, _ = data.part("val")
    # pyfunc returns predict_proba: one row of [P(no), P(yes)] per patient.
    output = Schema([TensorSpec(np.dtype("float64"), (-1, 2), "probabilities")])
    signature = ModelSignature(inputs=model.input_schema(), outputs=output)
    with (
        mlflow.start_run(run_name=candidate.family, nested=True) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        reports = _reports(candidate, data, settings, folder)
        mlflow.set_tags(
            {
                "candidate": candidate.family,
                "calibration": candidate.calibration["method"],
                "feature_set": candidate.features,
                **data.tags,
            }
        )
        mlflow.log_params(
            {"family": candidate.family, "feature_set": candidate.features, **candidate.params}
        )
        metrics = {
            f"{s}_{k}": v
            for s, m in (("val", candidate.val), ("test", candidate.test))
            for k, v in m.items()
        }
        metrics |= {
            "test_roc_auc_ci_low": reports["interval"].low,
            "test_roc_auc_ci_high": reports["interval"].high,
            "train_seconds": candidate.train_seconds,
            **{f"val_brier_{m}": b for m, b in candidate.calibration["val_brier"].items()},
        }
        mlflow.log_metrics(metrics)
        mlflow.log_table(pd.DataFrame(candidate.trials), "tuning/trials.json")
        mlflow.log_table(reports["subgroups"], model_card.SUBGROUPS_PATH)
        mlflow.log_text(reports["card"], model_card.CARD_PATH)
        mlflow.log_dict(drift_reference(candidate, data), drift.REFERENCE_PATH)
        mlflow.log_artifact(str(folder / "curve.png"), CURVE_PATH.rsplit("/", 1)[0])
        mlflow.log_input(training_input(data), context="training")
        info = mlflow.sklearn.log_model(
            candidate.pipeline,
            name="model",
            signature=signature,
            input_example=X_val.head(5),
            pip_requirements=_pip_requirements(),
            serialization_format="skops",
            skops_trusted_types=_trusted_types(candidate.pipeline),
            pyfunc_predict_fn="predict_proba",
        )
    candidate.run_id, candidate.model_uri = run.info.run_id, info.model_uri
    return candidate
