"""Dependencies shared by the routers (Annotated aliases, as in full-stack-fastapi-template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from readmission_api.batching import MicroBatcher
from readmission_api.inference_log import InferenceLog
from readmission_api.model_store import LoadedModel, ModelStore
from readmission_api.settings import Settings


# ``async def``: FastAPI runs these on the event loop, not on a thread of the pool.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> ModelStore:
    return request.app.state.store


async def get_model(request: Request) -> LoadedModel:
    """The model for this request (raises NoModelError → 503): one reference, held to the end."""
    return request.app.state.store.current


async def get_log(request: Request) -> InferenceLog | None:
    return request.app.state.inference_log


async def get_batcher(request: Request) -> MicroBatcher:
    return request.app.state.batcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ModelStore, Depends(get_store)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
LogDep = Annotated[InferenceLog | None, Depends(get_log)]
BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]
