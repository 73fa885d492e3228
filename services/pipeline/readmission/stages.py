"""The pipeline's stages as plain functions returning JSON-able summaries.

One API for the Airflow tasks, the CLI and the tests; each opens what it needs from settings.
"""

from __future__ import annotations

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

    source = _ingest.read_source(settings.DATA_SOURCE_URI)
    with data_engine(settings) as engine:
        result = _ingest.ingest_next_batch(engine, source, settings.BATCH_SIZE)
    return {
        "message": result.message,
        "loaded": result.loaded,
        "batch_id": result.batch_id,
        "rows": result.row_count,
        "rows_total": result.rows_total,
        "batches_total": result.batches_total,
    }


def clean(settings: Settings) -> dict[str, Any]:
    """Clean every raw batch not cleaned yet; ``batch_ids`` is empty when none waited."""
    from readmission import clean as _clean

    with data_engine(settings) as engine:
        result = _clean.clean_pending_batches(engine, settings.SPLIT_SALT)
    return {
        "message": result.message,
        "batch_ids": result.batch_ids,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "splits": result.splits,
    }


def train(settings: Settings) -> dict[str, Any]:
    """Train and log every candidate; return the best one (by val ROC-AUC)."""
    from readmission import train as _train

    with data_engine(settings) as engine:
        _, candidates = _train.train_and_log(engine, settings)
    best = _train.best_candidate(candidates)
    return {
        "family": best.family,
        "run_id": best.run_id,
        "model_uri": best.model_uri,
        "threshold": best.val["threshold"],
        "val": best.val,
        "test": best.test,
        "candidates": {c.family: c.val["roc_auc"] for c in candidates},
    }


def promote(settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """Register ``trained`` and let it challenge the champion on the current test split."""
    from readmission import promote as _promote
    from readmission import train as _train

    with data_engine(settings) as engine:
        X_test, y_test = _train.load_dataset(engine).part("test")
    tags = {
        "family": trained["family"],
        "run_id": trained["run_id"],
        "threshold": f"{trained['threshold']:.6f}",
    }
    decision = _promote.register_and_promote(trained["model_uri"], X_test, y_test, settings, tags)
    return {
        "version": decision.version,
        "promoted": decision.promoted,
        "reason": decision.reason,
        "challenger_test_roc_auc": decision.challenger_roc_auc,
        "champion_version": decision.champion_version,
        "champion_test_roc_auc": decision.champion_roc_auc,
    }
