"""Subgroup metrics (Fairlearn's MetricFrame) and the model card built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from readmission import contract, model_card
from sklearn.metrics import roc_auc_score


def rows_and_scores(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "race": rng.choice(["Caucasian", "AfricanAmerican", None], n, p=[0.7, 0.295, 0.005]),
            "gender": rng.choice(["Female", "Male"], n),
            "age": rng.choice(contract.AGE_BRACKETS[3:], n),
        }
    )
    y = (rng.random(n) < 0.12).astype(int)
    return rows, y, np.clip(0.1 + 0.2 * y + rng.normal(0, 0.1, n), 0.01, 0.99)


def test_subgroups_report_each_groups_own_metrics() -> None:
    rows, y, proba = rows_and_scores()
    table = model_card.subgroup_metrics(rows, y, proba, threshold=0.2)
    assert set(table["attribute"]) == set(model_card.SUBGROUPS)
    women = table[(table["attribute"] == "gender") & (table["group"] == "Female")].iloc[0]
    mask = (rows["gender"] == "Female").to_numpy()
    assert women["n"] == mask.sum()
    assert women["roc_auc"] == roc_auc_score(y[mask], proba[mask])
    assert women["flagged_rate"] == (proba[mask] >= 0.2).mean()
    # every age bracket falls in one of the coarse groups; the sizes add up
    ages = table[table["attribute"] == "age_group"]
    assert "unknown" not in set(ages["group"]) and ages["n"].sum() == len(rows)


def test_a_group_too_small_to_judge_shows_no_metric() -> None:
    rows, y, proba = rows_and_scores()
    table = model_card.subgroup_metrics(rows, y, proba, threshold=0.2)
    missing = table[(table["attribute"] == "race") & (table["group"] == "missing")].iloc[0]
    assert missing["n"] < model_card.MIN_GROUP and np.isnan(missing["roc_auc"])


def test_the_card_states_use_lineage_metrics_and_subgroups() -> None:
    rows, y, proba = rows_and_scores()
    table = model_card.subgroup_metrics(rows, y, proba, threshold=0.2)
    facts = {
        "name": "diabetes-readmission",
        "family": "lightgbm",
        "feature_set": "clinical",
        "batch_ids": "1,2",
        "n_rows": 100,
        "n_train": 70,
        "n_val": 15,
        "n_test": 15,
        "fingerprint": "abc",
        "data_digest": "d",
        "code_digest": "c",
        "confidence": 0.95,
        "roc_auc": "0.6800 [0.6700, 0.6900]",
        "calibration": "sigmoid",
        **dict.fromkeys(
            ("pr_auc", "brier", "brier_uncalibrated", "brier_baseline", "f1", "precision"), 0.1
        ),
        **dict.fromkeys(("recall", "threshold", "calibration_slope", "calibration_intercept"), 0.2),
    }
    card = model_card.render(facts, table)
    for needle in (
        "## Intended use",
        "Not for:",
        "## Data lineage",
        "0.6800 [0.6700, 0.6900]",
        "| gender | Female |",
        "fingerprint: `abc`",
        "calibration (sigmoid)",
        "feature set `clinical`",
    ):
        assert needle in card, needle
