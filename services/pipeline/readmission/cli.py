"""Command line for every pipeline stage: ``python -m readmission <command>``.

The Makefile, the Airflow DAGs and the tests all go through the same functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from readmission import stages
from readmission.settings import Settings, get_settings


def cmd_train(settings: Settings) -> dict:
    """Train, log, and let the best candidate challenge the champion (unless nothing is new)."""
    trained = stages.train(settings)
    if trained["skipped"]:
        return trained
    return {**trained, **stages.promote(settings, trained)}


def cmd_clean(settings: Settings) -> dict:
    """Clean the loaded batches; exit 1 (after cleaning the others) if any was quarantined."""
    from readmission.clean import ContractViolation

    result = stages.clean(settings)
    if result["quarantined"]:
        raise ContractViolation({int(b): p for b, p in result["quarantined"].items()})
    return result


def _subgroup_table(run_id: str) -> str:
    import mlflow

    from readmission.model_card import SUBGROUPS_PATH

    table = mlflow.load_table(SUBGROUPS_PATH, run_ids=[run_id])
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def cmd_evaluate(settings: Settings) -> dict:
    """Every batch of the source through ingest → clean → train on the configured database
    and registry (`make evaluate` gives it a throwaway stack); the champion's test metrics.

    Training runs twice on the same data: the second pass must train nothing
    (``runs_skipped``), as the daily schedule does on unchanged data.
    """
    started = time.perf_counter()
    batches = 0
    while stages.ingest(settings)["loaded"]:
        batches += 1
    stages.clean(settings)
    outcome = cmd_train(settings)
    again = cmd_train(settings)
    subgroups = _subgroup_table(outcome["run_id"])
    test = outcome["test"]
    print(
        f"batches ingested: {batches}; best candidate: {outcome['family']} "
        f"version {outcome['version']} ({outcome['reason']}); second pass: {again['reason']}",
        file=sys.stderr,
    )
    print(f"test metrics by subgroup (model card):\n{subgroups}", file=sys.stderr)
    return {
        **{k: round(test[k], 4) for k in REPORTED},
        "roc_auc_ci_low": round(outcome["roc_auc_ci_low"], 4),
        "roc_auc_ci_high": round(outcome["roc_auc_ci_high"], 4),
        "n_test": test["n"],
        "model": outcome["family"],
        "feature_set": outcome["feature_set"],
        "val_roc_auc_by_feature_set": {
            k: round(v, 4) for k, v in outcome["val_roc_auc_by_feature_set"].items()
        },
        "calibration": outcome["calibration"],
        "model_version": outcome["version"],
        "promoted": outcome["promoted"],
        "train_seconds": outcome["train_seconds"],
        "runs_skipped": int(again["skipped"]),
        "seconds": round(time.perf_counter() - started, 1),
    }


REPORTED = (
    "roc_auc",
    "pr_auc",
    "brier",
    "brier_uncalibrated",
    "brier_baseline",
    "calibration_slope",
    "calibration_intercept",
    "f1",
    "threshold",
)


COMMANDS = {
    "init-db": stages.init_db,
    "ingest": stages.ingest,
    "clean": cmd_clean,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "monitor": stages.monitor,
    "status": stages.progress,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m readmission", description=__doc__)
    parser.add_argument("command", choices=sorted([*COMMANDS, "readmit"]))
    parser.add_argument("batch_id", nargs="?", type=int, help="readmit: the quarantined batch")
    args = parser.parse_args(argv)
    if (args.command == "readmit") != (args.batch_id is not None):
        parser.error("a batch id goes with `readmit`, and only with it")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "readmit":
            result = stages.readmit(get_settings(), args.batch_id)
        else:
            result = COMMANDS[args.command](get_settings())
    except Exception as exc:  # the CLI's contract: one clear line on stderr, exit 1
        logging.getLogger("readmission").debug("failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0
