"""An Airflow 3 environment on the test PostgreSQL (metadata DB migrated once per session)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session")
def dag_server(airflow_env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``run_dag.py --serve``: Airflow and the pipeline imported once, each run a fork of it."""
    server = subprocess.Popen(
        [sys.executable, str(RUNNER), "--serve"],
        env=airflow_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its group: the server and a run in progress
    )
    yield server
    server.stdin.close()
    server.wait(timeout=60)


@pytest.fixture
def run_dag(airflow_env: dict[str, str], dag_server: subprocess.Popen) -> Callable[..., dict]:
    """Run a DAG with ``dag.test()`` under ``extra`` environment (a fresh process environment
    for each run); returns run and task states."""

    def run(dag_id: str, extra: dict[str, str], timeout: float = 600) -> dict:
        request = {"dag_id": dag_id, "env": {**airflow_env, **extra}}
        dag_server.stdin.write(json.dumps(request) + "\n")
        dag_server.stdin.flush()
        if not select.select([dag_server.stdout], [], [], timeout)[0]:
            os.killpg(dag_server.pid, signal.SIGKILL)
            pytest.fail(f"{dag_id}: no result after {timeout:.0f}s")
        line = dag_server.stdout.readline()
        if not line:  # its stderr is the test's captured output
            pytest.fail(f"{dag_id}: the DAG runner exited ({dag_server.poll()})")
        reply = json.loads(line)
        stdout, stderr = (Path(reply[k]).read_text() for k in ("stdout", "stderr"))
        for key in ("stdout", "stderr"):
            Path(reply[key]).unlink()
        lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
        assert reply["returncode"] == 0 and lines, (stdout[-2000:], stderr[-4000:])
        return json.loads(lines[-1].removeprefix("RESULT "))

    return run
