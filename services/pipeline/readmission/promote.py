"""Decide whether a trained candidate takes the serving alias: on evidence, once, one at a time.

- **Evidence.** Challenger and champion are scored on the SAME test rows (the current test
  split). A patient-level paired bootstrap gives the interval of their ROC-AUC difference; the
  challenger wins only when that interval's lower bound clears ``PROMOTION_MARGIN`` and its
  Brier score is not worse than the champion's.
- **Once.** The challenger is scored from its run's artifact before it is registered; a retry
  of the same training run finds its version (by run id) and, if it was decided, returns that
  decision. Every registered version carries a decision.
- **One at a time.** A PostgreSQL advisory lock is held from reading the champion to setting
  the alias, and the alias is read again before it is set.
- **Never stuck.** A champion that cannot be loaded is recorded (tag, metric) and the challenger
  is judged on the quality gate alone; a champion below the gate on today's test split is
  reported and may be replaced by any challenger that passes the gate and is not worse.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sklearn.metrics import brier_score_loss
from sqlalchemy.engine import Engine

from readmission import bootstrap, db, metrics, model
from readmission.bootstrap import Interval
from readmission.settings import Settings

log = logging.getLogger(__name__)

DECISION = "promotion.decision"
ALIAS_READS = 3  # how often the champion is read again if the alias moves during a decision


@dataclass(frozen=True)
class TestSet:
    """The rows every model is judged on, with the patient of each row (for the bootstrap)."""

    X: pd.DataFrame
    y: np.ndarray
    patients: np.ndarray


@dataclass(frozen=True)
class Verdict:
    """The judgement of a challenger against the champion (or the gate alone)."""

    promoted: bool
    reason: str
    challenger: Interval
    challenger_brier: float
    champion: Interval | None = None
    champion_brier: float | None = None
    diff: Interval | None = None


def judge(
    test: TestSet,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    settings: Settings,
    champion_error: str | None = None,
) -> Verdict:
    """Whether ``challenger`` (probabilities on ``test``) should replace ``champion``."""
    scores = [challenger] if champion is None else [challenger, champion]
    intervals, diff = bootstrap.auc_intervals(
        test.y,
        scores,
        test.patients,
        n=settings.BOOTSTRAP_SAMPLES,
        confidence=settings.PROMOTION_CONFIDENCE,
        seed=settings.RANDOM_SEED,
    )
    briers = [float(brier_score_loss(test.y, s)) for s in scores]
    facts = {"challenger": intervals[0], "challenger_brier": briers[0]}
    if champion is not None:
        facts |= {"champion": intervals[1], "champion_brier": briers[1], "diff": diff}
    promoted, reason = _rule(Verdict(False, "", **facts), settings, champion_error)
    return Verdict(promoted, reason, **facts)


def _rule(v: Verdict, settings: Settings, champion_error: str | None) -> tuple[bool, str]:
    """The decision on the measured facts (see the module doc), with its reason."""
    ch, cp, diff = v.challenger, v.champion, v.diff
    gate, margin = settings.MIN_ROC_AUC, settings.PROMOTION_MARGIN
    level = f"{settings.PROMOTION_CONFIDENCE:.0%} paired patient bootstrap"
    if ch.point < gate:
        return False, f"test ROC-AUC {ch} is below the quality gate {gate:.4f}"
    if cp is None:
        why = (
            f"the champion could not be scored ({champion_error}); decided on the gate alone"
            if champion_error
            else "no champion yet"
        )
        return True, f"{why}: test ROC-AUC {ch} passes the gate {gate:.4f}"
    brier = f"Brier {v.challenger_brier:.4f} vs the champion's {v.champion_brier:.4f}"
    not_worse = v.challenger_brier <= v.champion_brier
    if cp.point < gate and ch.point >= cp.point and not_worse:
        return True, (
            f"the champion's test ROC-AUC {cp} is below the gate {gate:.4f}; the challenger's "
            f"{ch} passes it and is not worse ({brier})"
        )
    if diff.low <= margin:
        return False, (
            f"ROC-AUC difference {diff} ({level}): the lower bound does not clear the margin "
            f"{margin:.4f} (challenger {ch}, champion {cp})"
        )
    if not not_worse:
        return False, f"ROC-AUC difference {diff} clears the margin, but the {brier} is worse"
    return True, (
        f"ROC-AUC difference {diff} ({level}) clears the margin {margin:.4f}; {brier} is not worse"
    )


def current_champion(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version the alias points at, or None when there is none yet."""
    try:
        return client.get_model_version_by_alias(name, alias).version
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version registered from training run ``run_id``, if any (at most one exists)."""
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version), default=None)


def _score(uri: str, X: pd.DataFrame) -> np.ndarray:
    return model.positive_proba(mlflow.sklearn.load_model(uri), X)


def _score_champion(
    name: str, version: str | None, X: pd.DataFrame
) -> tuple[np.ndarray | None, str | None]:
    """The champion's probabilities, or the reason it could not be loaded and scored."""
    if version is None:
        return None, None
    try:
        return _score(f"models:/{name}/{version}", X), None
    except Exception as exc:  # a lost artifact, a library upgrade: any failure to load
        log.warning("champion version %s cannot be scored: %s", version, exc)
        return None, f"version {version}: {type(exc).__name__}: {str(exc)[:300]}"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def decision_tags(
    verdict: Verdict, champion: str | None, error: str | None, n_test: int, settings: Settings
) -> dict[str, str]:
    """Every fact of a decision, as the version's ``promotion.*`` tags."""
    ch, cp, diff = verdict.challenger, verdict.champion, verdict.diff
    return {
        DECISION: "promoted" if verdict.promoted else "rejected",
        "promotion.reason": verdict.reason,
        "promotion.decided_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "promotion.challenger_test_roc_auc": _fmt(ch.point),
        "promotion.ci_low": _fmt(ch.low),
        "promotion.ci_high": _fmt(ch.high),
        "promotion.challenger_test_brier": _fmt(verdict.challenger_brier),
        "promotion.champion_version": champion or "",
        "promotion.champion_test_roc_auc": _fmt(cp.point if cp else None),
        "promotion.champion_ci_low": _fmt(cp.low if cp else None),
        "promotion.champion_ci_high": _fmt(cp.high if cp else None),
        "promotion.champion_test_brier": _fmt(verdict.champion_brier),
        "promotion.diff_ci_low": _fmt(diff.low if diff else None),
        "promotion.diff_ci_high": _fmt(diff.high if diff else None),
        "promotion.champion_error": error or "",
        "promotion.margin": str(settings.PROMOTION_MARGIN),
        "promotion.min_roc_auc": str(settings.MIN_ROC_AUC),
        "promotion.confidence": str(settings.PROMOTION_CONFIDENCE),
        "promotion.n_test": str(n_test),
    }


def summary(version: ModelVersion | str, tags: dict[str, str]) -> dict[str, Any]:
    """The decision as the stages return it, read back from the version's tags."""

    def number(key: str) -> float | None:
        return float(tags[key]) if tags.get(key) else None

    return {
        "version": str(getattr(version, "version", version)),
        "promoted": tags[DECISION] == "promoted",
        "reason": tags["promotion.reason"],
        "challenger_test_roc_auc": number("promotion.challenger_test_roc_auc"),
        "roc_auc_ci_low": number("promotion.ci_low"),
        "roc_auc_ci_high": number("promotion.ci_high"),
        "champion_version": tags.get("promotion.champion_version") or None,
        "champion_test_roc_auc": number("promotion.champion_test_roc_auc"),
        "diff_ci_low": number("promotion.diff_ci_low"),
        "diff_ci_high": number("promotion.diff_ci_high"),
        "champion_error": tags.get("promotion.champion_error") or None,
        "decided_at": tags.get("promotion.decided_at"),
    }


def _judge_current(
    client: MlflowClient, challenger: np.ndarray, test: TestSet, settings: Settings
) -> tuple[Verdict, str | None, str | None]:
    """Judge against the champion of the moment; read again if the alias moved meanwhile."""
    name, alias = settings.MODEL_NAME, settings.MODEL_ALIAS
    for _ in range(ALIAS_READS):
        champion = current_champion(client, name, alias)
        champion_proba, error = _score_champion(name, champion, test.X)
        verdict = judge(test, challenger, champion_proba, settings, error)
        if current_champion(client, name, alias) == champion:
            return verdict, champion, error
        log.warning("the alias moved while version %s was judged; judging again", champion)
    raise RuntimeError(f"{name}@{alias} kept moving during {ALIAS_READS} decisions")


def _report(
    client: MlflowClient, verdict: Verdict, run_id: str, champion: str | None, error: str | None,
    settings: Settings,
) -> None:  # fmt: skip
    """Metrics of the decision: on the challenger's run, the champion's tags and statsd."""
    metrics.incr(metrics.PROMOTIONS if verdict.promoted else metrics.REJECTIONS)
    kept = verdict.challenger if verdict.promoted else verdict.champion
    if kept is not None:
        metrics.gauge(metrics.CHAMPION_ROC_AUC, kept.point)
    client.log_metric(run_id, "promotion_champion_unloadable", float(error is not None))
    if verdict.diff is not None:
        client.log_metric(run_id, "promotion_diff_ci_low", verdict.diff.low)
        client.log_metric(run_id, "promotion_diff_ci_high", verdict.diff.high)
    if error is not None:
        metrics.incr(metrics.CHAMPION_UNLOADABLE)
    if champion and verdict.champion and verdict.champion.point < settings.MIN_ROC_AUC:
        metrics.incr(metrics.CHAMPION_BELOW_GATE)
        client.set_model_version_tag(
            settings.MODEL_NAME,
            champion,
            "monitoring.below_gate",
            f"test ROC-AUC {verdict.champion} < {settings.MIN_ROC_AUC:.4f} at "
            f"{datetime.now(UTC).isoformat(timespec='seconds')}",
        )


def register_and_promote(
    trained: dict[str, Any], test: TestSet, settings: Settings, engine: Engine
) -> dict[str, Any]:
    """Judge the trained model, register it (once) with its decision, move the alias if it won."""
    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    name, alias, run_id = settings.MODEL_NAME, settings.MODEL_ALIAS, trained["run_id"]
    existing = version_of_run(client, name, run_id)
    if existing is not None and DECISION in existing.tags:
        log.info("run %s is version %s, decided already: nothing to do", run_id, existing.version)
        return {**summary(existing, existing.tags), "repeated": True}
    challenger = _score(trained["model_uri"], test.X)
    with db.locked(engine, db.PROMOTE_LOCK):
        started = datetime.now(UTC).isoformat(timespec="milliseconds")
        verdict, champion, error = _judge_current(client, challenger, test, settings)
        version = existing or mlflow.register_model(
            trained["model_uri"], name, tags=trained.get("tags")
        )
        tags = {
            **decision_tags(verdict, champion, error, len(test.y), settings),
            "promotion.started_at": started,
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, version.version, key, value)
        if verdict.promoted:
            client.set_registered_model_alias(name, alias, version.version)
            client.set_model_version_tag(
                name, version.version, "promotion.promoted_at", tags["promotion.decided_at"]
            )
        _report(client, verdict, run_id, champion, error, settings)
    log.info("version %s %s: %s", version.version, tags[DECISION], verdict.reason)
    return {**summary(version, tags), "repeated": False}
