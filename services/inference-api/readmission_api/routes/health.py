"""Liveness and readiness (Kubernetes probes)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from readmission_api.deps import StoreDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "alive"}


@router.get("/ready", responses={503: {"description": "No model loaded yet"}})
def ready(store: StoreDep) -> JSONResponse:
    """200 once a model is loaded (and from then on, even if MLflow goes away)."""
    if store.ready:
        return JSONResponse({"status": "ready", "model_version": store.current.version})
    return JSONResponse({"status": "not ready", "detail": store.last_error}, status_code=503)
