"""The clinical vocabulary the form and the docs use: search ICD-9-CM codes by text or code."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from readmission import vocabulary

from readmission_api import auth
from readmission_api.auth import requires
from readmission_api.schemas import VocabularyEntry

router = APIRouter(
    prefix="/vocabulary",
    tags=["vocabulary"],
    dependencies=[requires("read")],
    responses=auth.RESPONSES,
)


@router.get("/icd9", response_model=list[VocabularyEntry])
def search_icd9(
    q: Annotated[str, Query(min_length=1, max_length=60, description="Words or a code prefix")],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[VocabularyEntry]:
    """ICD-9-CM codes whose description contains ``q`` or whose code starts with it."""
    return [VocabularyEntry(**asdict(entry)) for entry in vocabulary.search(q, limit)]
