"""`make evaluate`: a throwaway stack, every batch through the pipeline, the champion's metrics.

``python -m readmission_local.evaluate`` prints one JSON line (its last); on failure one
``error: ...`` line and exit 1, as the pipeline's CLI does.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from readmission import stages
from readmission.cli import cmd_train
from readmission.settings import Settings, get_settings

from readmission_local.stack import client_env, throwaway_stack


def _subgroup_table(run_id: str) -> str:
    import mlflow
    from readmission.model_card import SUBGROUPS_PATH

    table = mlflow.load_table(SUBGROUPS_PATH, run_ids=[run_id])
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def cmd_evaluate(settings: Settings) -> dict:
    """Self-contained: a throwaway stack, every batch through the pipeline, champion metrics.

    Training runs twice on the same data: the second pass must train nothing
    (``runs_skipped``), as the daily schedule does on unchanged data.
    """
    started = time.perf_counter()
    with throwaway_stack("readmission-evaluate-") as stack:
        os.environ.update(client_env(stack))
        local = settings.model_copy(
            update={"DATA_DB_URL": stack.data_db_url, "MLFLOW_TRACKING_URI": stack.mlflow_uri}
        )
        batches = 0
        while stages.ingest(local)["loaded"]:
            batches += 1
        stages.clean(local)
        outcome = cmd_train(local)
        again = cmd_train(local)
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


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        result = cmd_evaluate(get_settings())
    except Exception as exc:  # one clear line on stderr, exit 1
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
