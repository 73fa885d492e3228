"""The FastAPI app: loads the champion in the background, polls for new ones, serves predictions."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.concurrency import run_in_threadpool

from readmission_api import api_keys, drift
from readmission_api.batching import MicroBatcher
from readmission_api.inference_log import InferenceLog
from readmission_api.model_store import ModelStore, NoModelError
from readmission_api.ratelimit import RateLimiter
from readmission_api.routes import admin, health, model, monitoring, predict, v2, vocabulary
from readmission_api.settings import Settings
from readmission_api.tokens import JwtVerifier

log = logging.getLogger("readmission_api")


def _printable(value: Any) -> Any:
    """``value`` as JSON can hold it: bytes decoded (undecodable ones shown as U+FFFD), and
    NaN / Infinity (which a JSON body may spell) as text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _jwt_verifier(settings: Settings) -> JwtVerifier | None:
    if not settings.AUTH_JWT_ISSUER:
        return None
    if not settings.AUTH_JWT_AUDIENCE:
        raise ValueError("AUTH_JWT_ISSUER is set: AUTH_JWT_AUDIENCE must be set too")
    return JwtVerifier(
        settings.AUTH_JWT_ISSUER,
        settings.AUTH_JWT_AUDIENCE,
        settings.AUTH_JWKS_URL,
        tuple(a.strip() for a in settings.AUTH_JWT_ALGORITHMS.split(",") if a.strip()),
        settings.AUTH_JWT_SCOPE_PREFIX,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing connects anywhere until the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ModelStore(settings)
        app.state.store = store
        drift.COLLECTOR.source, drift.COLLECTOR.min_rows = store, settings.DRIFT_MIN_ROWS
        app.state.inference_log = None
        if settings.DATA_DB_URL:
            app.state.inference_log = InferenceLog(
                settings.DATA_DB_URL,
                settings.INFERENCE_LOG_BATCH,
                settings.INFERENCE_LOG_QUEUE,
                settings.INFERENCE_LOG_FLUSH_SECONDS,
            )
            app.state.inference_log.start()
        app.state.key_store = None
        if settings.DATA_DB_URL:
            app.state.key_store = api_keys.KeyStore(
                settings.DATA_DB_URL, settings.API_KEY_CACHE_SECONDS
            )
            keys = settings.service_keys()
            attempted = api_keys.register_in_background(app.state.key_store, keys)
            await run_in_threadpool(attempted.wait, 10)  # their clients' first calls work
        app.state.batcher = MicroBatcher(settings.MICROBATCH_WINDOW_MS, settings.MICROBATCH_MAX)
        app.state.batcher.start()
        store.start_polling()
        try:
            yield
        finally:
            await app.state.batcher.stop()
            store.stop()
            if app.state.inference_log is not None:
                app.state.inference_log.stop()

    app = FastAPI(
        title="Readmission inference API",
        version="0.1.0",
        description="Risk of hospital readmission within 30 days for diabetic patients, from "
        f"the MLflow model `{settings.MODEL_NAME}@{settings.MODEL_ALIAS}`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jwt = _jwt_verifier(settings)
    app.state.limiter = RateLimiter(settings.rate_limits())
    if settings.ADMIN_TOKEN is None and not settings.AUTH_JWT_ISSUER:
        log.warning("neither ADMIN_TOKEN nor AUTH_JWT_ISSUER is set: only API keys can call")

    @app.exception_handler(NoModelError)
    async def no_model(_: Request, exc: NoModelError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # As FastAPI's own handler, but what JSON cannot hold (bytes, NaN) is shown, not raised.
        return JSONResponse({"detail": jsonable_encoder(_printable(exc.errors()))}, 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    for router in (
        health.router,
        predict.router,
        model.router,
        vocabulary.router,
        monitoring.router,
        v2.router,
        admin.router,
    ):
        app.include_router(router)
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    return app
