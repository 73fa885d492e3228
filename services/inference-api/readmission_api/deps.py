"""Dependencies shared by the routers (Annotated aliases, as in full-stack-fastapi-template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from readmission_api.inference_log import InferenceLog
from readmission_api.model_store import LoadedModel, ModelStore
from readmission_api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> ModelStore:
    return request.app.state.store


def get_model(request: Request) -> LoadedModel:
    """The model for this request (raises NoModelError → 503): one reference, held to the end."""
    return request.app.state.store.current


def get_log(request: Request) -> InferenceLog | None:
    return request.app.state.inference_log


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ModelStore, Depends(get_store)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
LogDep = Annotated[InferenceLog | None, Depends(get_log)]
