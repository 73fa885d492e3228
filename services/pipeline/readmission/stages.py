"""The pipeline's stages as plain functions returning JSON-able summaries.

One API for the Airflow tasks, the CLI and the tests; each opens what it needs from settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from readmission.settings import Settings


@contextmanager
def data_engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the data database with the schema in place; disposed on exit."""
    from readmission import db

    engine = db.make_engine(settings.DATA_DB_URL)
    try:
        db.create_schema(engine)
        yield engine
    finally:
        engine.dispose()


def init_db(settings: Settings) -> dict[str, Any]:
    """Create the schemas and tables (idempotent)."""
    with data_engine(settings) as engine:
        return {"database": engine.url.database, "schemas": "raw_data, clean_data, serving"}


def ingest(settings: Settings) -> dict[str, Any]:
    """Load the next batch (exactly once); ``loaded`` is False when every row is in."""
    from readmission import ingest as _ingest
    from readmission import metrics

    source = _ingest.read_source(settings.DATA_SOURCE_URI)
    with data_engine(settings) as engine:
        result = _ingest.ingest_next_batch(engine, source, settings.BATCH_SIZE)
    if result.loaded:
        metrics.incr(metrics.BATCHES_LOADED)
        metrics.gauge(metrics.BATCH_ROWS, result.row_count)
        metrics.gauge(metrics.LAST_BATCH, time.time())
    return {
        "message": result.message,
        "loaded": result.loaded,
        "batch_id": result.batch_id,
        "rows": result.row_count,
        "rows_total": result.rows_total,
        "batches_total": result.batches_total,
    }


def clean(settings: Settings) -> dict[str, Any]:
    """Clean every loaded batch; ``quarantined`` names the batches that broke the contract."""
    from readmission import clean as _clean

    with data_engine(settings) as engine:
        result = _clean.clean_pending_batches(engine, settings.SPLIT_SALT)
    return {
        "message": result.message,
        "batch_ids": result.batch_ids,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "splits": result.splits,
        "quarantined": {str(b): problems for b, problems in result.quarantined.items()},
    }


def progress(settings: Settings) -> dict[str, Any]:
    """How far the pipeline got: batches by state, rows, and each quarantined batch's rules."""
    import sqlalchemy as sa

    from readmission import db

    ledger = db.batches.c
    with data_engine(settings) as engine, engine.connect() as conn:
        states = dict(
            conn.execute(sa.select(ledger.status, sa.func.count()).group_by(ledger.status)).all()
        )
        rows = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(ledger.row_count), 0))).scalar()
        clean_rows = conn.execute(
            sa.select(sa.func.count()).select_from(db.diabetes_clean)
        ).scalar()
        quarantined = conn.execute(
            sa.select(ledger.batch_id, ledger.problems, ledger.status_at)
            .where(ledger.status == db.QUARANTINED)
            .order_by(ledger.batch_id)
        ).all()
    return {
        "batches": {state: int(states.get(state, 0)) for state in db.BATCH_STATES},
        "rows_loaded": int(rows),
        "clean_rows": int(clean_rows),
        "quarantined": [
            {"batch_id": b, "problems": problems, "since": str(at)}
            for b, problems, at in quarantined
        ],
    }


def readmit(settings: Settings, batch_id: int) -> dict[str, Any]:
    """Put quarantined batch ``batch_id`` back in line for cleaning."""
    from readmission import clean as _clean

    with data_engine(settings) as engine:
        return {"message": _clean.readmit(engine, batch_id), "batch_id": batch_id}


# A run before the first clean batch (a fresh install's first scheduled run) is skipped, not
# failed: failing, its retries held back the run the first clean batch starts (one active run).
NO_CLEAN_DATA = "no clean batch yet, nothing to train on (ingest and clean a batch first)"


def skip_reason(engine: Engine, settings: Settings) -> str | None:
    """Why training would learn nothing (no clean batch yet) or nothing new (its lineage is a
    version's already), or None."""
    from mlflow import MlflowClient

    from readmission import lineage

    now = lineage.current(engine, settings)
    if not now.batch_ids:
        return f"skipped: {NO_CLEAN_DATA}"
    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    version = lineage.trained_version(client, settings.MODEL_NAME, now.fingerprint)
    if version is None:
        return None
    decision = version.tags.get("promotion.decision", "undecided")
    return (
        f"skipped: nothing new — clean batches {lineage.describe(now.batch_ids)} and the "
        f"training code and settings (fingerprint {now.fingerprint}) are those of version "
        f"{version.version} ({decision})"
    )


def no_new_labelled_data(engine: Engine, settings: Settings) -> str | None:
    """Why a drift-requested retrain would learn from the champion's rows again, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from readmission import lineage

    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    try:
        champion = client.get_model_version_by_alias(settings.MODEL_NAME, settings.MODEL_ALIAS)
    except MlflowException:
        return None  # no champion: anything trained is new
    now = lineage.current(engine, settings)
    if champion.tags.get("lineage.data_digest") != now.data_digest:
        return None
    return (
        f"the clean batches {lineage.describe(now.batch_ids)} are the ones champion version "
        f"{champion.version} was trained on"
    )


QUICK_SEARCH = {"TUNING_TRIALS": 1, "FEATURE_SETS": "base"}


def search_settings(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """The settings this training run searches with, and the tag that says which search.

    With ``QUICK_FIRST_MODEL`` and no champion yet: one configuration of the base feature set.
    Those settings are part of the lineage fingerprint, so the next run (full search) is not
    skipped as "nothing new"; the quality gate is the same.
    """
    from mlflow import MlflowClient

    from readmission.promote import current_champion

    if settings.QUICK_FIRST_MODEL:
        client = MlflowClient(settings.MLFLOW_TRACKING_URI)
        if current_champion(client, settings.MODEL_NAME, settings.MODEL_ALIAS) is None:
            return settings.model_copy(update=QUICK_SEARCH), {"training.search": "quick-first"}
    return settings, {"training.search": "full"}


def train(settings: Settings) -> dict[str, Any]:
    """Train and log every candidate; return the best (by val ROC-AUC), or why it skipped.

    With a retrain request of diabetes_monitor pending, it trains only on labelled data the
    champion has not seen, and records its answer on the request either way.
    """
    from readmission import metrics, monitor
    from readmission import train as _train

    settings, search = search_settings(settings)
    with data_engine(settings) as engine:
        drift_reason = monitor.pending(engine)
        reason = skip_reason(engine, settings)
        if drift_reason and reason is None:
            reason = no_new_labelled_data(engine, settings)
        if reason is not None:
            metrics.incr(metrics.TRAIN_SKIPPED)
            if drift_reason:
                reason = f"drift reported, no new labelled data: {reason}"
                metrics.incr(metrics.DRIFT_NO_NEW_DATA)
                monitor.answer(engine, reason)
            return {"skipped": True, "reason": reason}
        data = _train.load_dataset(engine, settings)
        trigger = {"trigger.reason": drift_reason} if drift_reason else {}
        candidates = _train.train_and_log(data, settings, tags={**trigger, **search})
        best = _train.best_candidate(candidates)
        if drift_reason:
            monitor.answer(engine, f"trained: run {best.run_id} ({best.family})")
    metrics.timing(metrics.TRAIN_DURATION, sum(c.train_seconds for c in candidates))
    return {
        "skipped": False,
        "family": best.family,
        "feature_set": best.features,
        "val_roc_auc_by_feature_set": {
            t["feature_set"]: t["val_roc_auc"] for t in best.trials if t.get("feature_comparison")
        },
        "run_id": best.run_id,
        "model_uri": best.model_uri,
        "threshold": best.val["threshold"],
        "calibration": best.calibration["method"],
        "val": best.val,
        "test": best.test,
        "train_seconds": round(sum(c.train_seconds for c in candidates), 1),
        "candidates": {c.family: c.val["roc_auc"] for c in candidates},
        "tags": {
            "family": best.family,
            "feature_set": best.features,
            "run_id": best.run_id,
            "threshold": f"{best.val['threshold']:.6f}",
            "calibration": best.calibration["method"],
            **data.lineage.tags,
            **trigger,
            **search,
        },
    }


def promote(settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """Let ``trained`` challenge the champion on the current test split (see promote.py)."""
    from readmission import promote as _promote
    from readmission import train as _train

    with data_engine(settings) as engine:
        data = _train.load_dataset(engine, settings)
        X_test, y_test = data.part("test")
        test = _promote.TestSet(X_test, y_test, data.patients("test"))
        return _promote.register_and_promote(trained, test, settings, engine)


def monitor(settings: Settings) -> dict[str, Any]:
    """Delete the inference log's rows past their retention; compare the rest with the
    champion's training split; maybe ask for a retrain."""
    from readmission import monitor as _monitor

    with data_engine(settings) as engine:
        purged = _monitor.purge(engine, settings)
        check = _monitor.check(engine, settings)
    return {
        "model_version": check.version,
        "rows": check.rows,
        "retrain": check.retrain,
        "reason": check.reason,
        "psi": {f: round(v, 4) for f, v in check.psi.items()},
        "purged": purged,
        "retention": f"{purged} logged predictions older than "
        f"{settings.INFERENCE_LOG_RETENTION_DAYS:g} days deleted",
    }
