"""Admin routes (scope ``admin``): reload the champion now; create, list and revoke API keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from readmission_api import api_keys, auth
from readmission_api.auth import requires
from readmission_api.deps import StoreDep
from readmission_api.schemas import BAD_BODY, Problem

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[requires("admin")],
    responses={**auth.RESPONSES, **BAD_BODY},
)


class NewKey(BaseModel):
    name: str = Field(pattern=api_keys.NAME_PATTERN, examples=["batch-scoring"])
    scopes: list[api_keys.Scope] = Field(min_length=1, examples=[["predict"]])


class CreatedKey(BaseModel):
    name: str
    scopes: list[str]
    key: str = Field(description="The key itself: shown this once, stored only as a hash")


class KeyInfo(BaseModel):
    name: str
    scopes: list[str]
    prefix: str
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.post("/reload")
def reload(store: StoreDep) -> dict[str, str | None]:
    """Check the alias and swap in a new version now instead of at the next poll."""
    result = store.refresh()
    version = store.current.version if store.ready else None
    return {"result": result, "version": version, "detail": store.last_error}


def _store(request: Request) -> api_keys.KeyStore:
    store = request.app.state.key_store
    if store is None:
        raise HTTPException(404, "API keys are disabled: the API has no database (DATA_DB_URL)")
    return store


@router.post("/keys", status_code=201, responses={409: {"model": Problem}})
async def create_key(request: Request, body: NewKey) -> CreatedKey:
    """A new API key; keep it: only its hash is stored."""
    try:
        key = await run_in_threadpool(_store(request).create, body.name, list(body.scopes))
    except api_keys.KeyRequestError as exc:
        raise HTTPException(409, str(exc)) from None
    return CreatedKey(name=body.name, scopes=list(api_keys.check_scopes(body.scopes)), key=key)


@router.get("/keys")
async def list_keys(request: Request) -> list[KeyInfo]:
    """Every key (live and revoked): names, scopes, when last used; never a key or its hash."""
    records = await run_in_threadpool(_store(request).list)
    return [KeyInfo.model_validate(r, from_attributes=True) for r in records]


@router.delete("/keys/{name}", responses={404: {"model": Problem}})
async def revoke_key(request: Request, name: str) -> dict[str, str]:
    """Revoke a key: every replica refuses it within API_KEY_CACHE_SECONDS (≤ 1 s)."""
    try:
        await run_in_threadpool(_store(request).revoke, name)
    except api_keys.KeyRequestError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"revoked": name}
