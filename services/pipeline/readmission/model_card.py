"""A model card and subgroup metrics for every logged model.

Subgroup metrics use Fairlearn's ``MetricFrame`` on the test split: for each of race, gender and
age group, the same metrics as the whole model (ROC-AUC, Brier, flagged rate and recall at the
model's threshold), so a gap between groups is visible next to the model it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, recall_score, roc_auc_score

# Where each logged model keeps its card (artifact paths in the candidate's run).
CARD_PATH, SUBGROUPS_PATH = "model_card/model_card.md", "model_card/subgroups.json"
SUBGROUPS = ("race", "gender", "age_group")
AGE_GROUPS = {"[0-10)": "<40", "[10-20)": "<40", "[20-30)": "<40", "[30-40)": "<40",
              "[40-50)": "40-59", "[50-60)": "40-59", "[60-70)": "60-79", "[70-80)": "60-79",
              "[80-90)": "80+", "[90-100)": "80+"}  # fmt: skip
MIN_GROUP = 30  # smaller groups are listed with their size but no metrics


def _guarded(metric: Callable[..., float]) -> Callable[..., float]:
    """A metric that is NaN (not an error) where a group is too small or has one class."""

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if len(y_true) < MIN_GROUP or len(np.unique(y_true)) < 2:
            return float("nan")
        return float(metric(y_true, y_pred))

    return score


def subgroup_metrics(
    rows: pd.DataFrame, y: np.ndarray, proba: np.ndarray, threshold: float
) -> pd.DataFrame:
    """One row per (attribute, group): n, prevalence, roc_auc, brier, flagged_rate, recall."""
    from fairlearn.metrics import MetricFrame  # training only: serving just reads the table

    groups = pd.DataFrame(
        {
            "race": rows["race"].fillna("missing").to_numpy(),
            "gender": rows["gender"].to_numpy(),
            "age_group": rows["age"].map(AGE_GROUPS).fillna("unknown").to_numpy(),
        }
    )
    flagged = (np.asarray(proba) >= threshold).astype(int)
    frames = []
    for attribute in SUBGROUPS:
        on_proba = MetricFrame(
            metrics={
                "roc_auc": _guarded(roc_auc_score),
                "brier": _guarded(brier_score_loss),
                "n": lambda t, p: float(len(t)),
                "prevalence": lambda t, p: float(np.mean(t)),
            },
            y_true=np.asarray(y),
            y_pred=np.asarray(proba),
            sensitive_features=groups[attribute],
        ).by_group
        on_label = MetricFrame(
            metrics={
                "flagged_rate": lambda t, p: float(np.mean(p)),
                "recall": _guarded(lambda t, p: recall_score(t, p, zero_division=0)),
            },
            y_true=np.asarray(y),
            y_pred=flagged,
            sensitive_features=groups[attribute],
        ).by_group
        table = on_proba.join(on_label).reset_index(names="group")
        frames.append(table.assign(attribute=attribute))
    out = pd.concat(frames, ignore_index=True)
    out["n"] = out["n"].astype(int)
    columns = ["attribute", "group", "n", "prevalence", "roc_auc", "brier", "flagged_rate"]
    return out[[*columns, "recall"]]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "—" if np.isnan(value) else f"{value:.4f}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _performance(f: dict[str, Any]) -> str:
    rows = [
        (f"ROC-AUC ({f['confidence']:.0%} patient-bootstrap interval)", f["roc_auc"]),
        ("PR-AUC", f"{f['pr_auc']:.4f}"),
        (
            "Brier: calibrated / uncalibrated / prevalence baseline",
            f"{f['brier']:.4f} / {f['brier_uncalibrated']:.4f} / {f['brier_baseline']:.4f}",
        ),
        (
            f"calibration ({f['calibration']}): slope / intercept",
            f"{f['calibration_slope']:.3f} / {f['calibration_intercept']:.3f}",
        ),
        ("threshold (max F1 on calibrated val)", f"{f['threshold']:.4f}"),
        (
            "F1 / precision / recall at the threshold",
            f"{f['f1']:.3f} / {f['precision']:.3f} / {f['recall']:.3f}",
        ),
    ]
    return markdown_table(pd.DataFrame(rows, columns=["metric", "value"]))


def render(facts: dict[str, Any], subgroups: pd.DataFrame) -> str:
    """The model card (markdown) from the candidate's facts and its subgroup table."""
    f = facts
    return f"""# Model card: {f["name"]} — {f["family"]}

## Intended use
Estimates the probability that an adult diabetic inpatient is readmitted within 30 days of
discharge, from the encounter's record (UCI "Diabetes 130-US hospitals 1999-2008"). Meant to
rank patients for follow-up (e.g. a transition-of-care call), with a clinician in the loop.

**Not for:** encounters that end in death or hospice (discharge dispositions 11, 13, 14, 19, 20,
21 — the API refuses them); populations or years unlike the source hospitals; any decision
without clinical review. The label comes from administrative records of one hospital network.

## Data lineage
- clean batches: {f["batch_ids"]} ({f["n_rows"]} rows: train {f["n_train"]}, val {f["n_val"]},
  test {f["n_test"]}); splits by a salted hash of the patient, so no patient crosses splits
- lineage fingerprint: `{f["fingerprint"]}` (data `{f["data_digest"]}`, code and config
  `{f["code_digest"]}`)
- feature set `{f["feature_set"]}` (base: the data set's columns; clinical: + the diagnoses' CCS
  groups, ICD-9 chapters and chronic flags), configuration and calibration chosen on val; refit on
  train + val; the test split only judges

## Performance on the test split
{_performance(f)}

The calibration curve is `calibration/curve.png` beside this card.

## Subgroups (test split)
Groups smaller than {MIN_GROUP} rows, or with one class only, show "—".

{markdown_table(subgroups)}

## Limitations
Data from 1999-2008; the ICD-9 codes it uses were replaced by ICD-10 in 2015. Race is recorded
by the hospitals and often missing. A 30-day readmission may happen at another hospital and be
missed by the label.
"""
