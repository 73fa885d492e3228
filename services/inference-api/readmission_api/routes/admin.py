"""Force a registry check now (token from ADMIN_TOKEN; disabled when unset)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException

from readmission_api.deps import SettingsDep, StoreDep
from readmission_api.schemas import Problem

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/reload", responses={401: {"model": Problem}, 404: {"model": Problem}})
def reload(
    store: StoreDep, settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, str | None]:
    """Check the alias and swap in a new version now instead of at the next poll."""
    if settings.ADMIN_TOKEN is None:
        raise HTTPException(404, "admin routes are disabled (ADMIN_TOKEN is not set)")
    expected = f"Bearer {settings.ADMIN_TOKEN.get_secret_value()}"
    if not authorization or not secrets.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "a valid 'Authorization: Bearer <ADMIN_TOKEN>' header is required")
    result = store.refresh()
    version = store.current.version if store.ready else None
    return {"result": result, "version": version, "detail": store.last_error}
