"""Session-wide real services: PostgreSQL, an S3 server and the MLflow tracking server.

Nothing here is a mock: each fixture starts the real server as a local process (the same code
``make evaluate`` and ``make up`` use) and stops it at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from readmission import db, ingest, stages
from readmission.settings import DEFAULT_SOURCE, Settings
from readmission_local import up
from readmission_local.postgres import LocalPostgres
from readmission_local.process import free_port
from readmission_local.stack import STACK, free_ports
from readmission_local.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[1]


# Session fixtures that load and train, and the folders whose tests may use them. Under
# pytest-xdist (`make test` runs two workers) those folders are one unit of work, run by one
# worker, so each fixture is built once and not once per worker; elsewhere, one unit a module.
SHARED_DATA = ("loaded_template", "cleaned_template", "champion")
SHARED_DATA_DIRS = ("api", "data", "model", "ui")


def folder(nodeid: str) -> str:
    """``tests/<folder>/...`` → folder."""
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else ""


# The whole-system modules, longest first (measured with --durations=0: 280-380 s, 250-370 s,
# 125-165 s). Handed out right after the shared-data unit so that the other worker starts on
# them: left to xdist's order (most tests first) they came last, the make up test ran alone at
# the end and the shared-data worker sat idle for its last ~240 s.
LONG_UNITS = (
    "tests/e2e/test_make_up.py",
    "tests/dags/test_dag_runs.py",
    "tests/e2e/test_evaluate.py",
)


def unit(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to: the shared-data folders are one, else its module."""
    return "shared-data" if folder(nodeid) in SHARED_DATA_DIRS else nodeid.split("::")[0]


def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, a scope being a :func:`unit`, in the collection's order
    (``pytest_collection_modifyitems`` sorts it). (xdist's own ``loadgroup`` marks have no effect
    under pytest 9: they work by renaming node ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit(nodeid)

    config.option.loadscopereorder = False  # xdist's own order: most tests first
    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items) -> None:
    """Refuse shared data outside its folders (the scheduler above goes by folder).

    Units are handed out in the order of the items, sorted here: the shared unit, the long
    whole-system modules beside it (``LONG_UNITS``), then the others, most tests first, to
    fill the gaps."""
    counts: dict[str, int] = {}
    for item in items:
        counts[unit(item.nodeid)] = counts.get(unit(item.nodeid), 0) + 1
    ranked = ("shared-data", *LONG_UNITS)

    def order(item) -> tuple[int, int]:
        scope = unit(item.nodeid)
        return (ranked.index(scope), 0) if scope in ranked else (len(ranked), -counts[scope])

    items.sort(key=order)  # stable: a unit's tests keep their order
    for item in items:
        uses = [name for name in SHARED_DATA if name in item.fixturenames]
        if uses and folder(item.nodeid) not in SHARED_DATA_DIRS:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(uses)}: put it under tests/"
                f"{{{','.join(SHARED_DATA_DIRS)}}} (tests/conftest.py: SHARED_DATA_DIRS), or "
                "two xdist workers would each build them"
            )


@pytest.fixture(scope="session")
def services_root() -> Iterator[Path]:
    # Not pytest's tmp_path: that is private to root, and PostgreSQL runs as 'nobody' under root.
    root = Path(tempfile.mkdtemp(prefix="readmission-tests-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def supervisor(services_root: Path) -> Iterator[Supervisor]:
    """The session's supervisord: PostgreSQL, SeaweedFS and MLflow run under it."""
    supervisor = Supervisor(services_root)
    yield supervisor
    supervisor.shutdown()


@pytest.fixture(scope="session")
def postgres(services_root: Path, supervisor: Supervisor) -> LocalPostgres:
    return up.start(services_root, {"POSTGRES_PORT": str(free_port())}, ("postgres",))[1]


@pytest.fixture
def database(postgres: LocalPostgres) -> Callable[..., str]:
    """Make a fresh database (optionally a copy of a template); returns its SQLAlchemy URL."""
    made: list[str] = []

    def make(template: str | None = None) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        clause = f' TEMPLATE "{template}"' if template else ""
        postgres.psql(f'CREATE DATABASE "{name}"{clause}')
        made.append(name)
        return postgres.url(name)

    yield make
    for name in made:
        postgres.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def data_db(database: Callable[..., str]) -> str:
    """An empty data database with the schema created."""
    url = database()
    db.create_schema(db.make_engine(url))
    return url


@pytest.fixture(scope="session")
def supervised(services_root: Path, postgres: LocalPostgres, supervisor: Supervisor) -> dict:
    """SeaweedFS and the MLflow server beside ``postgres``, as `make up` runs them: the
    table's placeholders (ports, credentials) for them."""
    found, _ = up.start(
        services_root, free_ports(["MLFLOW_PORT"]) | {"POSTGRES_PORT": str(postgres.port)}, STACK
    )
    os.environ["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{found['MLFLOW_PORT']}"
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    return found


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="session")
def s3(supervised: dict) -> S3:
    endpoint = f"http://127.0.0.1:{supervised['S3_PORT']}"
    return S3(endpoint, supervised["S3_ACCESS_KEY"], supervised["S3_SECRET_KEY"])


@pytest.fixture(scope="session")
def mlflow_uri(supervised: dict) -> str:
    return f"http://127.0.0.1:{supervised['MLFLOW_PORT']}"


def sql(url: str, *statements: str, fetch: str = "scalar") -> Any:
    """Run ``statements`` in one transaction on ``url``; return the last one's first value
    (``fetch="all"``: all its rows)."""
    import sqlalchemy as sa

    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                result = conn.execute(sa.text(statement))
            if not result.returns_rows:
                return None
            return result.all() if fetch == "all" else result.scalar()
    finally:
        engine.dispose()


def make_settings(**overrides) -> Settings:
    """Settings for a test: the shipped data set, fast tuning (one configuration, the base
    feature set: the clinical set is compared in tests/e2e/test_evaluate.py), overrides."""
    values = {
        "DATA_SOURCE_URI": str(DEFAULT_SOURCE),
        "TUNING_TRIALS": 1,
        "FEATURE_SETS": "base",
        **overrides,
    }
    return Settings(**values)


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


@pytest.fixture(scope="session")
def cleaned_template(postgres: LocalPostgres, loaded_template: str) -> str:
    """Name of a database holding all 7 batches, raw and clean."""
    name = "tpl_cleaned"
    postgres.psql(f'CREATE DATABASE "{name}" TEMPLATE "{loaded_template}"')
    stages.clean(make_settings(DATA_DB_URL=postgres.url(name)))
    return name


@dataclass(frozen=True)
class Trained:
    """A champion trained on the real data through the real pipeline and registry."""

    settings: Settings
    trained: dict[str, Any]
    decision: dict[str, Any]


@pytest.fixture(scope="session")
def champion(postgres, cleaned_template, mlflow_uri) -> Trained:
    """Train once per session (fast tuning) and register as the model tests' own name."""
    postgres.psql(f'CREATE DATABASE trained TEMPLATE "{cleaned_template}"')
    settings = make_settings(
        DATA_DB_URL=postgres.url("trained"),
        MLFLOW_TRACKING_URI=mlflow_uri,
        MODEL_NAME=f"readmission-test-{uuid.uuid4().hex[:6]}",
        MLFLOW_EXPERIMENT="tests",
    )
    trained = stages.train(settings)
    return Trained(settings, trained, stages.promote(settings, trained))
