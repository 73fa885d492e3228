"""Offline drift (``diabetes_monitor``): the inference log against the champion's reference.

The rows the API logged for the champion's version in the last ``DRIFT_WINDOW_HOURS`` are
counted into the bins logged with the champion (``readmission.drift``: the API's rule and bins).
Each check writes one row per feature to ``serving.drift_reports``, logs an MLflow run (a metric
per feature and an HTML report) and, when a PSI passes ``DRIFT_RETRAIN_PSI`` over at least
``DRIFT_MIN_ROWS`` rows, records a retrain request (``serving.retrain_requests``); the DAG then
publishes the asset ``diabetes_train`` listens to. The next training run finds the request
(``pending``) and answers it (``answer``), whatever woke it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from readmission import db, drift, metrics
from readmission.settings import Settings

log = logging.getLogger(__name__)
REPORT_PATH = "drift/report.html"


@dataclass
class Check:
    """One comparison of the inference log with the champion's training split."""

    version: str | None
    rows: int
    since: datetime
    psi: dict[str, float] = field(default_factory=dict)
    retrain: bool = False
    reason: str = ""

    @property
    def worst(self) -> tuple[str, float] | None:
        return max(self.psi.items(), key=lambda kv: kv[1]) if self.psi else None


def logged_rows(engine: Engine, version: str, since: datetime) -> pd.DataFrame:
    """The features and probability of every prediction ``version`` made since ``since``."""
    p = db.predictions.c
    query = sa.select(p.features, p.probability).where(
        p.model_version == version, p.created_at >= since
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame([r.features for r in rows])
    frame[drift.PROBABILITY] = [r.probability for r in rows]
    return frame


def _champion(settings: Settings) -> tuple[str, dict[str, drift.Binning]] | None:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    try:
        version = client.get_model_version_by_alias(settings.MODEL_NAME, settings.MODEL_ALIAS)
    except MlflowException:
        return None
    uri = f"runs:/{version.run_id}/{drift.REFERENCE_PATH}"
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    return str(version.version), drift.load(mlflow.artifacts.load_text(uri))


def _decide(check: Check, settings: Settings) -> Check:
    worst = check.worst
    if check.rows < settings.DRIFT_MIN_ROWS or worst is None:
        check.reason = f"too few rows to judge: {check.rows} < {settings.DRIFT_MIN_ROWS}"
    elif worst[1] > settings.DRIFT_RETRAIN_PSI:
        check.retrain = True
        check.reason = (
            f"drift: {worst[0]} PSI {worst[1]:.3f} > {settings.DRIFT_RETRAIN_PSI} over "
            f"{check.rows} rows served by version {check.version} since "
            f"{check.since:%Y-%m-%d %H:%M} UTC"
        )
    else:
        check.reason = f"stable: largest PSI {worst[1]:.3f} ({worst[0]}) over {check.rows} rows"
    return check


def check(engine: Engine, settings: Settings, now: datetime | None = None) -> Check:
    """Compare, record, and decide whether to ask for a retrain."""
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    champion = _champion(settings)
    if champion is None:
        return Check(None, 0, since, reason="no champion yet: nothing to compare")
    version, binnings = champion
    frame = logged_rows(engine, version, since)
    result = Check(version, len(frame), since)
    if len(frame):
        report = drift.report(binnings, frame)
        result.psi = dict(zip(report["feature"], report["psi"], strict=True))
    _decide(result, settings)
    _record(engine, result, now)
    _log_run(result, settings)
    log.info("drift check of version %s: %s", version, result.reason)
    return result


def purge(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Delete the inference log's rows older than ``INFERENCE_LOG_RETENTION_DAYS``: they hold
    patients' features, kept only as long as drift checks and audits need them. How many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.INFERENCE_LOG_RETENTION_DAYS)
    db.create_schema(engine, tables=[db.predictions])
    with engine.begin() as conn:
        old = db.predictions.c.created_at < cutoff
        deleted = conn.execute(sa.delete(db.predictions).where(old)).rowcount
    log.info("inference log: %d rows logged before %s deleted", deleted, f"{cutoff:%Y-%m-%d}")
    return deleted


def _record(engine: Engine, result: Check, now: datetime) -> None:
    db.create_schema(engine, tables=[db.drift_reports, db.retrain_requests])
    rows = [
        {"checked_at": now, "model_version": result.version, "feature": f, "psi": v,
         "rows": result.rows}
        for f, v in result.psi.items()
    ]  # fmt: skip
    with engine.begin() as conn:
        if rows:
            conn.execute(db.drift_reports.insert(), rows)
        if result.retrain:
            request = {"requested_at": now, "model_version": result.version}
            conn.execute(db.retrain_requests.insert(), {**request, "reason": result.reason})
    if result.worst is not None:
        metrics.gauge(metrics.DRIFT_MAX_PSI, result.worst[1])


def report_html(result: Check, settings: Settings) -> str:
    """A plain HTML table of the check (the MLflow run's artifact)."""
    table = pd.DataFrame(
        [{"feature": f, "PSI": round(v, 4), "drifted": v > settings.DRIFT_RETRAIN_PSI}
         for f, v in sorted(result.psi.items(), key=lambda kv: -kv[1])]
    )  # fmt: skip
    return (
        f"<h1>Drift of version {result.version}</h1><p>{result.rows} predictions since "
        f"{result.since.isoformat(timespec='minutes')}; retrain past PSI "
        f"{settings.DRIFT_RETRAIN_PSI}.</p><p><b>{result.reason}</b></p>"
        + table.to_html(index=False)
    )


def _log_run(result: Check, settings: Settings) -> None:
    """One run in ``<MLFLOW_EXPERIMENT>-monitoring``, through the client (the process's active
    experiment, which ``mlflow.load_table`` and friends search, stays as it was)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    name = f"{settings.MLFLOW_EXPERIMENT}-monitoring"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    tags = {"model_version": str(result.version), "retrain": str(result.retrain).lower(),
            "reason": result.reason}  # fmt: skip
    run = client.create_run(experiment_id, run_name=f"drift v{result.version}", tags=tags)
    now = int(datetime.now(UTC).timestamp() * 1000)
    values = {"rows": result.rows, **{f"psi.{f}": v for f, v in result.psi.items()}}
    client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in values.items()])
    client.log_text(run.info.run_id, report_html(result, settings), REPORT_PATH)
    client.set_terminated(run.info.run_id)


def pending(engine: Engine) -> str | None:
    """The reason of the newest retrain request no training run has answered, or None."""
    r = db.retrain_requests.c
    db.create_schema(engine, tables=[db.retrain_requests])
    query = sa.select(r.reason).where(r.outcome.is_(None)).order_by(r.id.desc()).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


def answer(engine: Engine, outcome: str) -> dict[str, Any] | None:
    """Record ``outcome`` on the newest unanswered retrain request (None: there was none)."""
    r = db.retrain_requests.c
    db.create_schema(engine, tables=[db.retrain_requests])
    with engine.begin() as conn:
        open_id = conn.execute(sa.select(sa.func.max(r.id)).where(r.outcome.is_(None))).scalar_one()
        if open_id is None:
            return None
        values = {"outcome": outcome, "answered_at": datetime.now(UTC)}
        unanswered = sa.and_(r.id <= open_id, r.outcome.is_(None))  # older ones: the same answer
        conn.execute(sa.update(db.retrain_requests).where(unanswered).values(values))
    return {"request": open_id, **values}


def history(engine: Engine, checks: int = 30, requests: int = 10) -> dict[str, Any]:
    """The last ``checks`` drift checks (PSI per feature) and ``requests`` retrain requests."""
    d, r = db.drift_reports.c, db.retrain_requests.c
    db.create_schema(engine, tables=[db.drift_reports, db.retrain_requests])
    times = sa.select(d.checked_at).distinct().order_by(d.checked_at.desc()).limit(checks)
    with engine.connect() as conn:
        recent = [t for (t,) in conn.execute(times)]
        rows = conn.execute(
            sa.select(d.checked_at, d.model_version, d.feature, d.psi, d.rows)
            .where(d.checked_at.in_(recent))
            .order_by(d.checked_at, d.feature)
        ).all()
        asked = conn.execute(
            sa.select(r.requested_at, r.model_version, r.reason, r.outcome, r.answered_at)
            .order_by(r.id.desc())
            .limit(requests)
        ).all()
    by_check: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        check = by_check.setdefault(
            row.checked_at,
            {"checked_at": row.checked_at, "model_version": row.model_version,
             "rows": row.rows, "psi": {}},
        )  # fmt: skip
        check["psi"][row.feature] = row.psi
    return {"checks": list(by_check.values()), "requests": [dict(a._mapping) for a in asked]}
