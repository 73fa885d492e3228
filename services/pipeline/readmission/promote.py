"""Register the best candidate and move the serving alias only when it beats the champion.

Both models are loaded from the registry and scored on the SAME test rows (the current test
split), so the comparison is fair however the data grew since the champion was trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from readmission.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """The outcome of one promotion, also written to the new version's tags."""

    promoted: bool
    version: str
    challenger_roc_auc: float
    champion_version: str | None
    champion_roc_auc: float | None
    reason: str


def decide(
    challenger: float, champion: float | None, margin: float, minimum: float
) -> tuple[bool, str]:
    """Whether a challenger with test ROC-AUC ``challenger`` should take the alias."""
    if challenger < minimum:
        return False, f"test ROC-AUC {challenger:.4f} is below the quality gate {minimum:.4f}"
    if champion is None:
        return True, f"no champion yet; test ROC-AUC {challenger:.4f} passes the gate {minimum:.4f}"
    if challenger >= champion + margin:
        return True, (
            f"test ROC-AUC {challenger:.4f} beats the champion's {champion:.4f} "
            f"by at least the margin {margin:.4f}"
        )
    return False, (
        f"test ROC-AUC {challenger:.4f} does not beat the champion's {champion:.4f} "
        f"by the margin {margin:.4f}"
    )


def score_version(name: str, version: str, X_test: pd.DataFrame, y_test: np.ndarray) -> float:
    """Test ROC-AUC of a registered version, loaded from the registry as serving loads it."""
    pipeline = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return float(roc_auc_score(y_test, pipeline.predict_proba(X_test)[:, 1]))


def current_champion(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version the alias points at, or None when there is none yet."""
    try:
        return client.get_model_version_by_alias(name, alias).version
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def register_and_promote(
    model_uri: str,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    settings: Settings,
    tags: dict[str, str] | None = None,
) -> Decision:
    """Register ``model_uri`` as a new version; move the alias if it wins (see module doc)."""
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    client = MlflowClient()
    name, alias = settings.MODEL_NAME, settings.MODEL_ALIAS
    champion = current_champion(client, name, alias)
    version = mlflow.register_model(model_uri, name, tags=tags).version
    challenger_score = score_version(name, version, X_test, y_test)
    champion_score = score_version(name, champion, X_test, y_test) if champion else None
    promoted, reason = decide(
        challenger_score, champion_score, settings.PROMOTION_MARGIN, settings.MIN_ROC_AUC
    )
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    decision_tags = {
        "promotion.decision": "promoted" if promoted else "rejected",
        "promotion.reason": reason,
        "promotion.decided_at": decided_at,
        "promotion.challenger_test_roc_auc": f"{challenger_score:.6f}",
        "promotion.champion_version": champion or "",
        "promotion.champion_test_roc_auc": ""
        if champion_score is None
        else f"{champion_score:.6f}",
        "promotion.margin": str(settings.PROMOTION_MARGIN),
        "promotion.min_roc_auc": str(settings.MIN_ROC_AUC),
        "promotion.n_test": str(len(y_test)),
    }
    for key, value in decision_tags.items():
        client.set_model_version_tag(name, version, key, value)
    if promoted:
        client.set_registered_model_alias(name, alias, version)
        client.set_model_version_tag(name, version, "promotion.promoted_at", decided_at)
    log.info("version %s %s: %s", version, decision_tags["promotion.decision"], reason)
    return Decision(promoted, version, challenger_score, champion, champion_score, reason)
