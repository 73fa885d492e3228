"""An Airflow 3 environment on the test PostgreSQL (metadata DB migrated once per session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO

RUNNER = Path(__file__).with_name("run_dag.py")


@pytest.fixture(scope="session")
def airflow_env(postgres, services_root: Path) -> dict[str, str]:
    """Environment for Airflow processes: Postgres metadata, the project's DAGs, no examples."""
    postgres.create_database("airflow")
    home = services_root / "airflow"
    home.mkdir(exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url("airflow", "postgresql+psycopg2"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:1/execution/",
        "TASK_RETRIES": "0",
    }
    done = subprocess.run(
        [f"{bindir}/airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.fixture
def run_dag(airflow_env: dict[str, str]) -> Callable[..., dict]:
    """Run a DAG with ``dag.test()`` under ``extra`` environment; returns run and task states."""

    def run(dag_id: str, extra: dict[str, str]) -> dict:
        done = subprocess.run(
            [sys.executable, str(RUNNER), dag_id],
            env={**airflow_env, **extra},
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert done.returncode == 0 and lines, (done.stdout[-2000:], done.stderr[-4000:])
        return json.loads(lines[-1].removeprefix("RESULT "))

    return run
