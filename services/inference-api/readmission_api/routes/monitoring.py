"""Drift as the API sees it (its window) and as diabetes_monitor recorded it (the database)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from readmission import drift, monitor

from readmission_api import auth
from readmission_api.auth import requires
from readmission_api.deps import LogDep, SettingsDep, StoreDep
from readmission_api.schemas import Problem

router = APIRouter(tags=["monitoring"], dependencies=[requires("read")], responses=auth.RESPONSES)


@router.get("/monitoring", responses={503: {"model": Problem}})
def monitoring(store: StoreDep, log: LogDep, settings: SettingsDep) -> dict[str, Any]:
    """The served version's PSI per feature over its window, the last drift checks of the
    inference log, and the last retrain requests with what training made of them. A window
    below ``thresholds.min_rows`` rows is too small to judge (its PSI is noise)."""
    loaded, online = store.loaded, None
    if loaded is not None and loaded.drift is not None:
        rows, psi = loaded.drift.psi()
        online = {"model_version": loaded.version, "rows": rows, "psi": psi}
    recorded: dict[str, Any] = {"checks": [], "requests": []}
    if log is not None:
        try:
            recorded = monitor.history(log.engine)
        except Exception as exc:  # the database is down: the online figures still answer
            raise HTTPException(503, f"the monitoring tables are unreachable: {exc}") from exc
    thresholds = {
        "stable": drift.STABLE,
        "shifted": drift.SHIFTED,
        "min_rows": settings.DRIFT_MIN_ROWS,
    }
    return {"online": online, **recorded, "thresholds": thresholds}
