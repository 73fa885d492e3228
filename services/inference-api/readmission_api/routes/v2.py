"""Open Inference Protocol (KServe V2) for the same model: columnar tensors, one per feature."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from readmission import contract
from readmission.contract import Kind

from readmission_api import auth
from readmission_api.auth import requires
from readmission_api.deps import LogDep, ModelDep, SettingsDep, StoreDep
from readmission_api.routes.predict import score
from readmission_api.schemas import BAD_BODY, Patient, Problem, invalid, patient_row

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])
Datatype = Literal[
    "BOOL",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]


class Tensor(BaseModel):
    """One named, flat tensor."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: Datatype
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """Inputs: one tensor per feature column, each of shape [n]."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=128)
    inputs: list[Tensor] = Field(min_length=1)
    outputs: list[dict[str, Any]] | None = None
    parameters: dict[str, Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[Tensor]


def _datatype(col: contract.Column) -> str:
    return "INT64" if col.kind in (Kind.INTEGER, Kind.CODE) else "BYTES"


def _check_name(name: str, settings) -> None:
    if name != settings.MODEL_NAME:
        raise HTTPException(
            404, f"unknown model {name!r}; this server serves {settings.MODEL_NAME!r}"
        )


@router.get("/health/live")
def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready")
def ready(store: StoreDep) -> JSONResponse:
    return JSONResponse({"ready": store.ready}, status_code=200 if store.ready else 503)


@router.get(
    "/models/{name}",
    responses={**auth.RESPONSES, 404: {"model": Problem}, 503: {"model": Problem}},
    dependencies=[requires("read")],
)
def metadata(name: str, model: ModelDep, settings: SettingsDep) -> dict[str, Any]:
    """Model metadata: versions, platform, input and output tensors."""
    _check_name(name, settings)
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "mlflow-sklearn",
        "inputs": [
            {"name": c.name, "datatype": _datatype(c), "shape": [-1]} for c in contract.FEATURES
        ],
        "outputs": [
            {"name": "probability", "datatype": "FP64", "shape": [-1]},
            {"name": "label", "datatype": "INT64", "shape": [-1]},
        ],
    }


@router.get(
    "/models/{name}/ready",
    responses={**auth.RESPONSES, 404: {"model": Problem}},
    dependencies=[requires("read")],
)
def model_ready(name: str, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    _check_name(name, settings)
    return JSONResponse(
        {"name": name, "ready": store.ready}, status_code=200 if store.ready else 503
    )


@router.post(
    "/models/{name}/infer",
    response_model=InferenceResponse,
    responses={
        **auth.RESPONSES,
        **BAD_BODY,
        404: {"model": Problem},
        413: {"model": Problem},
        503: {"model": Problem},
    },
    dependencies=[requires("predict")],
)
def infer(
    name: str, body: InferenceRequest, model: ModelDep, log: LogDep, settings: SettingsDep
) -> InferenceResponse:
    """Probabilities and labels for n patients given as one tensor per feature."""
    _check_name(name, settings)
    tensors = {t.name: t for t in body.inputs}
    unknown = sorted(set(tensors) - set(contract.FEATURE_NAMES))
    if unknown:
        raise invalid(("body", "inputs"), f"unknown inputs: {unknown}")
    sizes = {len(t.data) for t in tensors.values()}
    if len(sizes) != 1:
        raise invalid(("body", "inputs"), "every input must hold the same number of values")
    n = sizes.pop()
    bad_shape = [
        t.name
        for t in tensors.values()
        if t.shape[0] != n or (len(t.shape) == 2 and t.shape[1] != 1)
    ]
    if bad_shape or n == 0:
        raise invalid(("body", "inputs"), f"shape must be [n] with n = len(data) > 0: {bad_shape}")
    if n > settings.PREDICT_BATCH_LIMIT:
        raise HTTPException(413, f"{n} rows; at most {settings.PREDICT_BATCH_LIMIT} per request")
    rows = []
    for i in range(n):
        try:
            patient = Patient.model_validate({k: t.data[i] for k, t in tensors.items()})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise invalid(("body", "inputs", str(first["loc"][0]), i), first["msg"]) from exc
        rows.append(patient_row(patient))
    proba, labels = score(model, rows, "/v2/infer", log)
    return InferenceResponse(
        model_name=model.name,
        model_version=model.version,
        id=body.id,
        outputs=[
            Tensor(name="probability", shape=[n], datatype="FP64", data=proba),
            Tensor(name="label", shape=[n], datatype="INT64", data=labels),
        ],
    )
