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

from readmission import stages
from readmission.settings import Settings, get_settings


def cmd_train(settings: Settings) -> dict:
    """Train, log, register the best candidate and let it challenge the champion."""
    trained = stages.train(settings)
    return {**trained, **stages.promote(settings, trained)}


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
        while stages.ingest(local)["loaded"]:
            batches += 1
        stages.clean(local)
        outcome = cmd_train(local)
    test = outcome["test"]
    print(
        f"batches ingested: {batches}; best candidate: {outcome['family']} "
        f"version {outcome['version']} ({outcome['reason']})",
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
        "model": outcome["family"],
        "model_version": outcome["version"],
        "promoted": outcome["promoted"],
        "seconds": round(time.perf_counter() - started, 1),
    }


COMMANDS = {
    "init-db": stages.init_db,
    "ingest": stages.ingest,
    "clean": stages.clean,
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
