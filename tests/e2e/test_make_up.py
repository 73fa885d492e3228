"""`make up` the way a user runs it: the pipeline runs by itself until a champion serves.

Then every part is checked through its own interface (API, Streamlit, Airflow's REST API,
MLflow's registry), `make down` must leave no process and no port behind, and a second
`make up` must resume with the data kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient
from readmission import contract, db
from readmission_local.process import free_port, free_port_block, port_open
from readmission_local.s3 import S3_PORTS, LocalS3
from readmission_local.up import MARKER, PORTS

from tests.conftest import REPO

DAGS = ("diabetes_ingest", "diabetes_clean", "diabetes_train")


def make(target: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(done.stdout[-3000:], done.stderr[-3000:])
    assert done.returncode == 0, f"make {target} failed"
    return done


def wait_for(check, timeout: float, what: str, interval: float = 3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def our_processes(home: Path) -> list[int]:
    mine = f"{MARKER}={home}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if mine in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def stack_env():
    home = Path(tempfile.mkdtemp(prefix="readmission-e2e-"))
    home.chmod(0o755)
    s3 = free_port_block(S3_PORTS)
    reserved = {*range(s3, s3 + S3_PORTS), *range(s3 + 10_000, s3 + 10_000 + S3_PORTS)}
    ports = {"S3_PORT": str(s3)}
    for name in PORTS:
        while name not in ports:  # nothing is bound yet: keep clear of SeaweedFS's ports
            port = free_port()
            if port not in reserved and str(port) not in ports.values():
                ports[name] = str(port)
    env = {**os.environ, "MLOPS_HOME": str(home), **ports}
    yield env
    subprocess.run(
        ["make", "--no-print-directory", "down"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    shutil.rmtree(home, ignore_errors=True)


def credentials(env: dict[str, str]) -> dict[str, str]:
    text = (Path(env["MLOPS_HOME"]) / "credentials.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def successful_runs(env: dict[str, str]) -> dict[str, int]:
    creds = credentials(env)
    base = f"http://127.0.0.1:{env['AIRFLOW_PORT']}"
    token = httpx.post(
        f"{base}/auth/token",
        json={"username": creds["AIRFLOW_ADMIN_USER"], "password": creds["AIRFLOW_ADMIN_PASSWORD"]},
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    for dag in DAGS:
        runs = httpx.get(
            f"{base}/api/v2/dags/{dag}/dagRuns",
            params={"state": "success"},
            headers=headers,
            timeout=30,
        ).json()
        out[dag] = runs["total_entries"]
    return out


def test_make_up_runs_the_whole_system_and_make_down_leaves_nothing(stack_env) -> None:
    env = stack_env
    started = time.monotonic()
    make("up", env)
    up_seconds = time.monotonic() - started
    mlflow = MlflowClient(f"http://127.0.0.1:{env['MLFLOW_PORT']}")

    def champion():
        try:
            return mlflow.get_model_version_by_alias("diabetes-readmission", "champion")
        except Exception:
            return None

    version = wait_for(champion, 900, "the first champion", interval=5)
    api = f"http://127.0.0.1:{env['API_PORT']}"

    def prediction():
        answer = httpx.post(f"{api}/predict", json=contract.default_patient(), timeout=30)
        return answer.json() if answer.status_code == 200 else None

    predicted = wait_for(prediction, 120, "a prediction from the API", interval=2)
    first_prediction = time.monotonic() - started
    print(
        f"\nmake up: {up_seconds:.0f}s to start; {first_prediction:.0f}s to the first prediction "
        f"(champion version {version.version})"
    )
    assert predicted["model"]["name"] == "diabetes-readmission"
    assert 0 < predicted["probability"] < 1

    page = httpx.get(f"http://127.0.0.1:{env['STREAMLIT_PORT']}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(f"http://127.0.0.1:{env['STREAMLIT_PORT']}/_stcore/health").text == "ok"
    if shutil.which("prometheus"):  # the chart's own alert rules, loaded from its file
        answer = httpx.get(f"http://127.0.0.1:{env['PROMETHEUS_PORT']}/api/v1/rules", timeout=30)
        loaded = {r["name"] for g in answer.json()["data"]["groups"] for r in g["rules"]}
        assert {"FeatureDrift", "InferenceApiDown", "BatchQuarantined"} <= loaded

    runs = wait_for(
        lambda: (r := successful_runs(env)) and all(r.values()) and r,
        300,
        "a successful run of each DAG",
    )
    assert set(runs) == set(DAGS)

    status = make("status", env).stdout
    assert "champion    diabetes-readmission version" in status

    engine = db.make_engine(
        f"postgresql://postgres:{credentials(env)['POSTGRES_PASSWORD']}"
        f"@127.0.0.1:{env['POSTGRES_PORT']}/readmission"
    )
    query = sa.text("SELECT count(*), count(DISTINCT encounter_id) FROM raw_data.diabetes_raw")
    with engine.connect() as conn:
        rows_before, distinct_before = conn.execute(query).one()
        batches_before = conn.execute(sa.text("SELECT count(*) FROM raw_data.batches")).scalar()
    engine.dispose()
    assert rows_before == distinct_before > 0

    make("down", env)
    home = Path(env["MLOPS_HOME"])
    assert our_processes(home) == []
    bound = [p for name, p in env.items() if name in PORTS and port_open(int(p))]
    s3_ports = LocalS3(home / "s3", int(env["S3_PORT"]), "k", "s").ports()
    bound += [p for p in s3_ports if port_open(p)]
    assert bound == [], f"ports still bound after make down: {bound}"

    # Up again: the data is kept, no batch is loaded twice, the champion is still there.
    make("up", env)
    assert champion() is not None and champion().version >= version.version
    with engine.connect() as conn:
        rows_after, distinct_after = conn.execute(query).one()
        batches_after = conn.execute(sa.text("SELECT count(*) FROM raw_data.batches")).scalar()
        ledger = conn.execute(sa.text("SELECT sum(row_count) FROM raw_data.batches")).scalar()
    engine.dispose()
    assert rows_after == distinct_after == ledger >= rows_before
    assert batches_after >= batches_before
    make("down", env)
    assert our_processes(home) == []
