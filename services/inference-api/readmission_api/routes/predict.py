"""Predictions: one patient, a batch, and an explanation."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from readmission import contract, explain

from readmission_api import auth, metrics
from readmission_api.auth import requires
from readmission_api.deps import BatcherDep, LogDep, ModelDep, SettingsDep
from readmission_api.model_store import LoadedModel
from readmission_api.schemas import (
    BAD_BODY,
    BatchPrediction,
    BatchRequest,
    Contribution,
    Explanation,
    ModelRef,
    Patient,
    Prediction,
    Problem,
    patient_row,
)

router = APIRouter(tags=["predict"], dependencies=[requires("predict")], responses=auth.RESPONSES)
ERRORS = {**BAD_BODY, 503: {"model": Problem, "description": "No model loaded yet"}}


def model_ref(model: LoadedModel) -> ModelRef:
    return ModelRef(name=model.name, alias=model.alias, version=model.version, run_id=model.run_id)


def record(
    model: LoadedModel,
    rows: list[dict[str, Any]],
    proba: Any,
    endpoint: str,
    log: LogDep,
    ms: float,
) -> tuple[list[float], list[int]]:
    """Labels for the probabilities; counts them and queues the inference log."""
    labels = [int(p >= model.threshold) for p in proba]
    for p, label in zip(proba, labels, strict=True):
        metrics.PREDICTIONS.labels(label=str(label), model_version=model.version).inc()
        metrics.PROBABILITY.observe(float(p))
    if model.drift is not None:
        model.drift.observe(rows, proba)
    if log is not None:
        now = datetime.now(UTC)
        log.submit(
            [
                {
                    "created_at": now,
                    "model_name": model.name,
                    "model_version": model.version,
                    "run_id": model.run_id,
                    "features": row,
                    "probability": float(p),
                    "label": label,
                    "latency_ms": ms / len(rows),
                    "endpoint": endpoint,
                }
                for row, p, label in zip(rows, proba, labels, strict=True)
            ]
        )
    return [float(p) for p in proba], labels


def score(model: LoadedModel, rows: list[dict[str, Any]], endpoint: str, log: LogDep) -> tuple:
    """Probabilities and labels for validated rows, in one model call."""
    started = time.perf_counter()
    proba = model.predict_proba(rows)
    return record(model, rows, proba, endpoint, log, (time.perf_counter() - started) * 1000)


@router.post("/predict", response_model=Prediction, responses=ERRORS)
async def predict(
    patient: Patient,  # type: ignore[valid-type]
    model: ModelDep,
    log: LogDep,
    batcher: BatcherDep,
) -> Prediction:
    """Risk of readmission within 30 days for one patient (scored in a micro-batch)."""
    row = patient_row(patient)
    started = time.perf_counter()
    try:
        probability = await batcher.score(model, row)
    except (KeyError, ValueError) as exc:
        raise HTTPException(422, f"this patient could not be scored: {exc}") from exc
    ms = (time.perf_counter() - started) * 1000
    proba, labels = record(model, [row], [probability], "/predict", log, ms)
    return Prediction(
        probability=proba[0], label=labels[0], threshold=model.threshold, model=model_ref(model)
    )


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    responses={**ERRORS, 413: {"model": Problem, "description": "More than PREDICT_BATCH_LIMIT"}},
)
def predict_batch(
    body: BatchRequest, model: ModelDep, log: LogDep, settings: SettingsDep
) -> BatchPrediction:
    """Risk for up to PREDICT_BATCH_LIMIT patients, in request order."""
    if len(body.patients) > settings.PREDICT_BATCH_LIMIT:
        raise HTTPException(
            413,
            f"{len(body.patients)} patients; at most {settings.PREDICT_BATCH_LIMIT} per request",
        )
    proba, labels = score(model, [patient_row(p) for p in body.patients], "/predict/batch", log)
    return BatchPrediction(
        probabilities=proba, labels=labels, threshold=model.threshold, model=model_ref(model)
    )


@router.post("/explain", response_model=Explanation, responses=ERRORS)
def explain_patient(
    patient: Patient,  # type: ignore[valid-type]
    model: ModelDep,
    log: LogDep,
    top: Annotated[int, Query(ge=1, le=len(contract.FEATURES), description="How many inputs")] = 10,
) -> Explanation:
    """The prediction and the inputs that pushed this patient's risk up or down most."""
    row = patient_row(patient)
    proba, labels = score(model, [row], "/explain", log)
    base, contributions, log_odds = explain.explained(model.pipeline, pd.DataFrame([row]))
    ranked = contributions.iloc[0].sort_values(key=abs, ascending=False).head(top)
    return Explanation(
        prediction=Prediction(
            probability=proba[0], label=labels[0], threshold=model.threshold, model=model_ref(model)
        ),
        base_value=base,
        log_odds=float(log_odds[0]),
        contributions=[
            Contribution(feature=f, value=row[f], contribution=float(c)) for f, c in ranked.items()
        ],
    )
