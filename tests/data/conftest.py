"""Data-pipeline fixtures: a template database with every batch ingested (built once)."""

from __future__ import annotations

import pytest

from readmission import ingest, stages
from readmission.local.postgres import LocalPostgres
from tests.conftest import make_settings


@pytest.fixture(scope="session")
def source() -> ingest.Source:
    return ingest.read_source(make_settings().DATA_SOURCE_URI)


@pytest.fixture(scope="session")
def loaded_template(postgres: LocalPostgres) -> str:
    """Name of a database holding all 7 raw batches (copy it with ``database(template)``)."""
    name = "tpl_loaded"
    postgres.create_database(name)
    settings = make_settings(DATA_DB_URL=postgres.url(name))
    while stages.ingest(settings)["loaded"]:
        pass
    return name
