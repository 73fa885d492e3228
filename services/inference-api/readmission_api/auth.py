"""Who may call what: every route but health and ``/metrics`` requires a credential with a scope.

Credentials: an OAuth2 access token (JWT, ``Authorization: Bearer``) from the identity provider;
an API key (``X-API-Key``, or as the bearer token); the admin token (``ADMIN_TOKEN``, the
credential named ``admin`` with the ``admin`` scope). Scopes: ``predict`` (predict, batch,
explain, V2 infer), ``read`` (model, versions, profile, monitoring, vocabulary, V2 metadata),
``admin`` (reload, keys). A route declares its scope with ``dependencies=[requires(...)]``;
the OpenAPI document lists it under each operation's ``security`` (so "Authorize" works).
"""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.concurrency import run_in_threadpool

from readmission_api import api_keys, metrics
from readmission_api.schemas import Problem
from readmission_api.tokens import IdentityProviderDown, TokenInvalid

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An OAuth2 access token (JWT) from the identity provider, or an API key",
)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key"
)
# What a protected route may answer besides its own (declared on each router).
RESPONSES: dict[int | str, dict] = {
    401: {"model": Problem, "description": "No credential, or an unknown, revoked or expired one"},
    403: {"model": Problem, "description": "The credential lacks the route's scope"},
    429: {"model": Problem, "description": "The credential's rate limit; see Retry-After"},
    503: {
        "model": Problem,
        "description": "Not ready, or the key store or identity provider is down",
    },
}
MISSING = (
    "authentication required: send 'Authorization: Bearer <access token or API key>' "
    "or 'X-API-Key: <API key>'"
)


@dataclass(frozen=True)
class Principal:
    name: str  # the metrics' label: a key's name, a token's client, or "admin"
    kind: str  # "key", "jwt" or "admin"
    scopes: frozenset[str]


def _refuse(status: int, detail: str, reason: str, scope: str = "") -> HTTPException:
    metrics.AUTH_REFUSED.labels(reason).inc()
    challenge = "Bearer" if status == 401 else f'Bearer error="insufficient_scope", scope="{scope}"'
    return HTTPException(status, detail, headers={"WWW-Authenticate": challenge})


async def identify(request: Request, secret: str, presented_as_key: bool) -> Principal:
    """The principal a secret stands for, or 401 (503 when the store or the IdP is down)."""
    state, settings = request.app.state, request.app.state.settings
    admin = settings.ADMIN_TOKEN
    if admin is not None and secrets.compare_digest(
        secret.encode(), admin.get_secret_value().encode()
    ):
        return Principal("admin", "admin", frozenset({"admin"}))
    if presented_as_key or secret.startswith(api_keys.PREFIX):
        return await _key(state.key_store, secret)
    if state.jwt is None:
        raise _refuse(401, "unknown credential (no identity provider is configured)", "invalid")
    claims = state.jwt.cached(secret)
    try:
        claims = claims or await run_in_threadpool(state.jwt.verify, secret)
    except TokenInvalid as exc:
        raise _refuse(401, str(exc), "invalid") from None
    except IdentityProviderDown as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "10"}) from None
    return Principal(claims.client, "jwt", claims.scopes)


async def _key(store: api_keys.KeyStore | None, key: str) -> Principal:
    if store is None:
        raise _refuse(401, "unknown API key (no key store: DATA_DB_URL is unset)", "invalid")
    hashed = api_keys.digest(key)
    age, record = store.peek(hashed)
    if age >= store.cache_seconds:  # one lookup per key at a time, however many requests wait
        lookup = _LOOKUPS.get(hashed)
        if lookup is None:
            lookup = asyncio.ensure_future(run_in_threadpool(store.lookup, hashed))
            _LOOKUPS[hashed] = lookup
            lookup.add_done_callback(functools.partial(_looked_up, hashed))
        if age >= 2 * store.cache_seconds:  # else the last answer serves while it refreshes
            try:
                record = await asyncio.shield(lookup)
            except Exception:  # the database is down: not the client's fault
                raise HTTPException(
                    503, "the key store is unavailable", {"Retry-After": "5"}
                ) from None
    if record is None:
        raise _refuse(401, "unknown or revoked API key", "invalid")
    return Principal(record.name, "key", frozenset(record.scopes))


_LOOKUPS: dict[str, asyncio.Future] = {}  # key hash → its lookup in flight (event loop only)


def _looked_up(hashed: str, done: asyncio.Future) -> None:
    _LOOKUPS.pop(hashed, None)
    if not done.cancelled():
        done.exception()  # retrieved: a refresh nobody awaited fails quietly (the next one retries)


async def authorize(
    request: Request,
    required: SecurityScopes,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """Authenticate, check the route's scope, count the request by credential, rate-limit it."""
    if key is None and token is None:
        raise _refuse(401, MISSING, "missing")
    principal = await identify(request, key or token.credentials, key is not None)
    for scope in required.scopes:
        if scope not in principal.scopes:
            raise _refuse(
                403,
                f"the credential {principal.name!r} lacks the scope {scope!r} that "
                f"{request.method} {request.url.path} requires",
                "forbidden",
                scope,
            )
    scope = required.scopes[0]
    metrics.REQUESTS_BY_CREDENTIAL.labels(principal.name, principal.kind, scope).inc()
    wait = request.app.state.limiter.take(f"{principal.kind}:{principal.name}", scope)
    if wait is not None:
        metrics.RATE_LIMITED.labels(principal.name, scope).inc()
        rate = request.app.state.limiter.rates[scope]
        raise HTTPException(
            429,
            f"rate limit exceeded: {rate:g} requests/s for scope {scope!r} per credential",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return principal


def requires(scope: str):
    """The dependency of a route that needs ``scope``."""
    assert scope in api_keys.SCOPES, scope
    return Security(authorize, scopes=[scope])
