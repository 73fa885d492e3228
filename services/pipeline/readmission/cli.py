"""Command line for every pipeline stage: ``python -m readmission <command>``.

The Makefile, the Airflow DAGs and the tests all go through the same functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from readmission.settings import Settings, get_settings


def _engine(settings: Settings):
    from readmission import db

    engine = db.make_engine(settings.DATA_DB_URL)
    db.create_schema(engine)
    return engine


def cmd_init_db(settings: Settings) -> dict:
    _engine(settings)
    return {"schema": "ready"}


def cmd_ingest(settings: Settings) -> dict:
    from readmission import ingest

    result = ingest.ingest_next_batch(
        _engine(settings), ingest.read_source(settings.DATA_SOURCE_URI), settings.BATCH_SIZE
    )
    return {
        "message": result.message,
        "loaded": result.loaded,
        "batch_id": result.batch_id,
        "rows": result.row_count,
        "rows_total": result.rows_total,
    }


def cmd_clean(settings: Settings) -> dict:
    from readmission import clean

    result = clean.clean_pending_batches(_engine(settings), settings.SPLIT_SALT)
    return {"message": result.message, "batch_ids": result.batch_ids, "rows_out": result.rows_out}


def cmd_train(settings: Settings) -> dict:
    """Train, log, register the best candidate and let it challenge the champion."""
    from readmission import promote, train

    data, candidates = train.train_and_log(_engine(settings), settings)
    best = train.best_candidate(candidates)
    X_test, y_test = data.part("test")
    decision = promote.register_and_promote(
        best.model_uri,
        X_test,
        y_test,
        settings,
        tags={
            "family": best.family,
            "run_id": best.run_id,
            "threshold": f"{best.val['threshold']:.6f}",
        },
    )
    return {
        "best": best.family,
        "run_id": best.run_id,
        "version": decision.version,
        "promoted": decision.promoted,
        "reason": decision.reason,
        "challenger_test_roc_auc": decision.challenger_roc_auc,
        "champion_test_roc_auc": decision.champion_roc_auc,
        "test": best.test,
    }


def cmd_evaluate(settings: Settings) -> dict:
    """Self-contained: a throwaway stack, every batch through the pipeline, champion metrics."""
    from readmission.local.stack import client_env, throwaway_stack

    started = time.perf_counter()
    with throwaway_stack("readmission-evaluate-") as stack:
        os.environ.update(client_env(stack))
        local = settings.model_copy(
            update={"DATA_DB_URL": stack.data_db_url, "MLFLOW_TRACKING_URI": stack.mlflow.uri}
        )
        batches = 0
        while cmd_ingest(local)["loaded"]:
            batches += 1
        cmd_clean(local)
        outcome = cmd_train(local)
    test = outcome["test"]
    print(
        f"batches ingested: {batches}; champion: {outcome['best']} version {outcome['version']} "
        f"({outcome['reason']})",
        file=sys.stderr,
    )
    for key in ("roc_auc", "pr_auc", "brier", "brier_baseline", "f1", "threshold", "n"):
        print(f"  test {key:15s} {test[key]:.4f}", file=sys.stderr)
    return {
        "roc_auc": round(test["roc_auc"], 4),
        "pr_auc": round(test["pr_auc"], 4),
        "brier": round(test["brier"], 4),
        "brier_baseline": round(test["brier_baseline"], 4),
        "f1": round(test["f1"], 4),
        "threshold": round(test["threshold"], 4),
        "n_test": test["n"],
        "model": outcome["best"],
        "model_version": outcome["version"],
        "promoted": outcome["promoted"],
        "seconds": round(time.perf_counter() - started, 1),
    }


COMMANDS = {
    "init-db": cmd_init_db,
    "ingest": cmd_ingest,
    "clean": cmd_clean,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m readmission", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        result = COMMANDS[args.command](get_settings())
    except Exception as exc:  # the CLI's contract: one clear line on stderr, exit 1
        logging.getLogger("readmission").debug("failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0
