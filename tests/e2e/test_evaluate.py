"""`make evaluate` end to end: a throwaway stack, every batch through `python -m readmission
evaluate`, a JSON last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from readmission import clinical


def test_evaluate_prints_the_champions_metrics_as_json() -> None:
    env = {**os.environ, "TUNING_TRIALS": "1"}  # the same path as `make evaluate`, tuned less
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "readmission_local.stack",
            sys.executable,
            "-m",
            "readmission",
            "evaluate",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nmake evaluate (1 trial): {result}")
    for key in ("roc_auc", "pr_auc", "brier", "brier_baseline", "n_test", "model_version"):
        assert key in result, key
    assert 0.65 < result["roc_auc"] < 0.8
    assert result["roc_auc_ci_low"] < result["roc_auc"] < result["roc_auc_ci_high"]
    assert result["brier"] < result["brier_baseline"]
    assert result["brier"] <= result["brier_uncalibrated"]
    assert 0.8 < result["calibration_slope"] < 1.25
    assert result["train_seconds"] > 0
    # Both feature sets were compared on val with the same configuration; the better one won.
    by_set = result["val_roc_auc_by_feature_set"]
    assert set(by_set) == set(clinical.FEATURE_SETS)
    assert result["feature_set"] == max(by_set, key=by_set.get)
    assert result["n_test"] > 14_000 and result["model_version"] == "1"
    # The second pass on the same data trains nothing.
    assert result["runs_skipped"] == 1
    assert (
        "batches ingested: 7" in done.stderr and "second pass: skipped: nothing new" in done.stderr
    )
