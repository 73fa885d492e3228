"""What is served, and the registry's history of versions."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from readmission import contract, profile

from readmission_api import auth
from readmission_api.auth import requires
from readmission_api.deps import ModelDep, StoreDep
from readmission_api.registry import NotFound, RegistryError
from readmission_api.schemas import ModelInfo, ModelVersion, Problem

router = APIRouter(
    prefix="/model", tags=["model"], dependencies=[requires("read")], responses=auth.RESPONSES
)


@router.get("", response_model=ModelInfo, responses={503: {"model": Problem}})
def model_info(model: ModelDep) -> ModelInfo:
    """The served model: version, run, metrics, threshold, promotion, feature schema."""
    features = [
        {
            "name": c.name,
            "kind": str(c.kind),
            "description": c.description,
            "default": c.default,
            "allowed": list(c.allowed) if c.allowed else None,
            "minimum": c.minimum,
            "maximum": c.maximum,
            "nullable": c.nullable,
        }
        for c in contract.FEATURES
    ]
    return ModelInfo(
        name=model.name,
        alias=model.alias,
        version=model.version,
        run_id=model.run_id,
        family=model.family,
        calibration=model.calibration,
        threshold=model.threshold,
        metrics=model.metrics,
        promoted_at=model.promoted_at,
        promotion_reason=model.promotion_reason,
        promotion=model.promotion,
        subgroups=model.subgroups,
        loaded_at=model.loaded_at,
        serving_path=model.scorer.path,
        serving_reason=model.scorer.reason,
        features=features,
    )


@router.get("/versions", response_model=list[ModelVersion], responses={503: {"model": Problem}})
def versions(store: StoreDep) -> list[ModelVersion]:
    """Every registered version, newest first, with its promotion decision (read-only)."""
    name = store.settings.MODEL_NAME
    try:
        found = store.registry.versions(name)
        aliases = store.registry.aliases(name)
    except Exception as exc:
        raise HTTPException(503, f"the model registry is unreachable: {exc}") from exc
    out = []
    for v in sorted(found, key=lambda v: int(v["version"]), reverse=True):
        tags = v["tags"]

        def number(key: str, tags: dict[str, str] = tags) -> float | None:
            return float(tags[key]) if tags.get(key) else None

        out.append(
            ModelVersion(
                version=str(v["version"]),
                aliases=aliases.get(str(v["version"]), []),
                run_id=v["run_id"],
                created_at=datetime.fromtimestamp(int(v["creation_timestamp"]) / 1000, UTC),
                decision=tags.get("promotion.decision"),
                reason=tags.get("promotion.reason"),
                promoted_at=tags.get("promotion.promoted_at"),
                test_roc_auc=number("promotion.challenger_test_roc_auc"),
                ci_low=number("promotion.ci_low"),
                ci_high=number("promotion.ci_high"),
                diff_ci_low=number("promotion.diff_ci_low"),
            )
        )
    return out


@router.get(
    "/data-profile",
    response_class=HTMLResponse,
    responses={404: {"model": Problem}, 503: {"model": Problem}},
)
def data_profile(model: ModelDep, store: StoreDep) -> HTMLResponse:
    """The served version's data profile: its training split as an HTML page (each column's
    type, missing and distinct values, statistics), logged with its training run."""
    try:
        run = store.registry.run(model.run_id)
        page = store.registry.run_artifact(run, profile.PROFILE_PATH)
    except NotFound as exc:
        raise HTTPException(404, f"version {model.version} has no data profile: {exc}") from exc
    except RegistryError as exc:
        raise HTTPException(503, f"the model registry is unreachable: {exc}") from exc
    return HTMLResponse(page)
