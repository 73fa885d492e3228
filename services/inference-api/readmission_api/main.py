"""The FastAPI app: loads the champion in the lifespan, polls for new ones, serves predictions."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import mlflow
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator

from readmission_api.inference_log import InferenceLog
from readmission_api.model_store import ModelStore, NoModelError
from readmission_api.routes import admin, health, model, predict, v2, vocabulary
from readmission_api.settings import Settings

log = logging.getLogger("readmission_api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing connects anywhere until the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Registry calls must fail fast when MLflow is away, so polls never pile up.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
        store = ModelStore(settings)
        app.state.store = store
        app.state.inference_log = None
        if settings.DATA_DB_URL:
            app.state.inference_log = InferenceLog(
                settings.DATA_DB_URL,
                settings.INFERENCE_LOG_BATCH,
                settings.INFERENCE_LOG_QUEUE,
                settings.INFERENCE_LOG_FLUSH_SECONDS,
            )
            app.state.inference_log.start()
        result = store.refresh()
        log.info("startup model check: %s", result)
        store.start_polling()
        try:
            yield
        finally:
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

    @app.exception_handler(NoModelError)
    async def no_model(_: Request, exc: NoModelError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    for router in (
        health.router,
        predict.router,
        model.router,
        vocabulary.router,
        v2.router,
        admin.router,
    ):
        app.include_router(router)
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    return app
