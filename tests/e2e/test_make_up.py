"""`make up` the way a user runs it, from a checkout in a folder only its owner can enter (root's
home on Debian; a `mktemp -d` folder): the pipeline runs by itself until a champion serves.

On the way the MLflow server, the API and the Airflow scheduler are SIGKILLed one after another:
supervisord brings each back, healthy, within 30 s; the pipeline carries on and `make status`
counts the restarts. Every part is checked through its own interface (API, Streamlit, Airflow's
REST API, MLflow's registry). `make down` must leave no process and no port behind; a `make up`
whose API crashes on start must resume on the kept data, then stop, name the API, show its log
and leave nothing running; the data is still all there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient
from readmission import contract, db
from readmission_local import services
from readmission_local.process import (
    pid_alive,
    port_open,
    proc_stat,
)
from readmission_local.services import credentials
from readmission_local.stack import free_ports
from readmission_local.supervisor import Supervisor
from readmission_local.up import start

from tests.conftest import REPO

DAGS = ("diabetes_ingest", "diabetes_clean", "diabetes_train")
KILLED = ("mlflow", "api", "airflow-scheduler")
UV = os.environ.get("UV", str(REPO / ".tools" / "uv-venv" / "bin" / "uv"))  # `make test` sets it


def make(target: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=env["CHECKOUT"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(done.stdout[-3000:], done.stderr[-3000:])
    assert (done.returncode == 0) == ok, f"make {target}: exit {done.returncode}"
    return done


def wait_for(check, timeout: float, what: str, interval: float = 3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def checkout() -> Path:
    """This working tree copied under a 0700 folder, with its own .venv (uv links from its
    cache: seconds). PostgreSQL's user cannot reach anything in it."""
    private = Path(tempfile.mkdtemp(prefix="readmission-private-"))
    assert private.stat().st_mode & 0o777 == 0o700
    tree = private / "checkout"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tree / ".venv"), "UV_COMPILE_BYTECODE": "0"}
    uv = [UV, "sync", "--frozen", "--all-extras", "--quiet"]
    subprocess.run(uv, cwd=tree, env=env, check=True)
    (tree / ".venv" / ".synced").touch()  # what `make install` leaves
    yield tree
    outside = tree / ".local" / "postgres"
    if outside.is_symlink():  # root: PostgreSQL's data went where 'nobody' reaches it
        shutil.rmtree(outside.resolve(), ignore_errors=True)
    shutil.rmtree(private, ignore_errors=True)


@pytest.fixture
def stack_env(checkout):
    ports = free_ports(name for name in services.PORTS if name != "S3_PORT")
    # Like every other test that only needs *a* model: the base feature set (the clinical one's
    # search and its 140 MB model files are tests/e2e/test_evaluate.py's), one configuration.
    models = {"FEATURE_SETS": "base", "TUNING_TRIALS": "1"}
    env = {**os.environ, "CHECKOUT": str(checkout), "UV": UV, **ports, **models}
    env.pop("MLOPS_HOME", None)  # the default, .local/ in the private checkout
    # The checkout's .venv has no bytecode (`make install` compiles it; the fixture's sync
    # skips that): let the stack's first imports write it, as a user's machine does. Where the
    # environment forbids it (PYTHONDONTWRITEBYTECODE, set on the CI machine) every service and
    # Airflow task compiled its imports from source: ~7 s more a process, ~30 s more to the
    # first champion.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    yield env
    subprocess.run(["make", "down"], cwd=checkout, env=env, capture_output=True, timeout=300)


def table(env: dict[str, str]) -> dict[str, services.Service]:
    home = Path(env["CHECKOUT"]) / ".local"
    found = services.values(home, credentials(home) | {k: env[k] for k in services.PORTS})
    return {s.name: s for s in services.load(found)}


def successful_runs(env: dict[str, str]) -> dict[str, int]:
    creds = credentials(Path(env["CHECKOUT"]) / ".local")
    base = f"http://127.0.0.1:{env['AIRFLOW_PORT']}"
    login = {"username": creds["AIRFLOW_ADMIN_USER"], "password": creds["AIRFLOW_ADMIN_PASSWORD"]}
    token = httpx.post(f"{base}/auth/token", json=login, timeout=30).json()["access_token"]
    headers, out = {"Authorization": f"Bearer {token}"}, {}
    for dag in DAGS:
        url = f"{base}/api/v2/dags/{dag}/dagRuns"
        runs = httpx.get(url, params={"state": "success"}, headers=headers, timeout=30).json()
        out[dag] = runs["total_entries"]
    return out


def kill_and_wait(supervisor: Supervisor, service: services.Service) -> float:
    """SIGKILL the service's process; the seconds until supervisord has it healthy again."""
    pid = supervisor.info()[service.name]["pid"]
    os.kill(pid, signal.SIGKILL)
    killed, since = time.monotonic(), time.time()

    def back() -> bool:  # a new process that is the service, no longer supervisord's fork
        new = supervisor.info()[service.name]["pid"]  # or the launcher (which clears the old
        try:  # run's orphans first), passing the health check
            cmdline = Path(f"/proc/{new}/cmdline").read_bytes()
            launched = b"supervisord" not in cmdline and b"readmission_local.launch" not in cmdline
        except OSError:
            return False
        return new not in (0, pid) and launched and service.ready(since)

    wait_for(back, 60, f"{service.name} to come back", interval=0.5)
    return time.monotonic() - killed


def left_behind(env: dict[str, str], session: int) -> tuple[list[int], list[int]]:
    """Processes of the stack (in ``session``, or working in its folder, as every service and
    PostgreSQL does) and ports still bound."""
    home = Path(env["CHECKOUT"]) / ".local"
    folders = (home, (home / "postgres").resolve())
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields, cwd = proc_stat(entry.name), (entry / "cwd").resolve()
        except OSError:
            continue
        inside = any(cwd == folder or folder in cwd.parents for folder in folders)
        if fields[0] != "Z" and (fields[3] == str(session) or inside):
            found.append(int(entry.name))
    s3 = int(env["S3_PORT"])
    ports = [int(env[name]) for name in services.PORTS] + [*range(s3, s3 + services.S3_PORTS)]
    return found, [p for p in ports if port_open(p)]


def rows(env: dict[str, str]) -> tuple[int, int, int, int]:
    """Raw rows, distinct encounters, batches and the rows the batch ledger counts."""
    password = credentials(Path(env["CHECKOUT"]) / ".local")["POSTGRES_PASSWORD"]
    url = f"postgresql://postgres:{password}@127.0.0.1:{env['POSTGRES_PORT']}/readmission"
    engine = db.make_engine(url)
    query = (
        "SELECT count(*), count(DISTINCT encounter_id), "
        "(SELECT count(*) FROM raw_data.batches), "
        "(SELECT coalesce(sum(row_count), 0) FROM raw_data.batches) FROM raw_data.diabetes_raw"
    )
    with engine.connect() as conn:
        raw, distinct, batches, counted = conn.execute(sa.text(query)).one()
    engine.dispose()
    return raw, distinct, batches, counted


def test_make_up_survives_killed_services_and_make_down_leaves_nothing(stack_env) -> None:
    env = stack_env
    started = time.monotonic()
    up = make("up", env).stdout
    up_seconds = time.monotonic() - started
    every = table(env)
    ready = re.findall(r"==> (\S+) +ready in \d+s", up)
    assert ready == [name for name, s in every.items() if s.installed]  # in order, one line each

    mlflow = MlflowClient(f"http://127.0.0.1:{env['MLFLOW_PORT']}")

    def champion():
        try:
            return mlflow.get_model_version_by_alias("diabetes-readmission", "champion")
        except Exception:
            return None

    # make up waits for the first champion and says when it was served (one line).
    served_line = re.search(
        r"==> champion served: diabetes-readmission version \d+, (\d+)s after", up
    )
    assert served_line, up[-1500:]
    version = wait_for(champion, 900, "the first champion", interval=5)
    api = f"http://127.0.0.1:{env['API_PORT']}"
    key = {"X-API-Key": credentials(Path(env["CHECKOUT"]) / ".local")["API_KEY_UI"]}

    def prediction():
        answer = httpx.post(
            f"{api}/predict", json=contract.default_patient(), headers=key, timeout=30
        )
        return answer.json() if answer.status_code == 200 else None

    predicted = wait_for(prediction, 120, "a prediction from the API", interval=1)
    served = time.monotonic() - started
    print(
        f"make up: {up_seconds:.0f}s; first champion served {served_line[1]}s after the services "
        f"were up (make up's own line); a prediction {served:.0f}s after make up started"
    )
    assert predicted["model"]["name"] == "diabetes-readmission"
    # The API authenticates here too: the generated client key works, no key is a 401.
    stranger = httpx.post(f"{api}/predict", json=contract.default_patient(), timeout=30)
    assert stranger.status_code == 401, stranger.text
    # Patient values never reach a service's log: sentinels, scored and refused (searched at
    # the end, in every service's and task's log).
    sentinel = f"Zq{uuid.uuid4().hex[:10]}"
    marked = {**contract.default_patient(), "payer_code": sentinel, "medical_specialty": sentinel}
    scored = httpx.post(f"{api}/predict", json=marked, headers=key, timeout=30)
    refused = httpx.post(f"{api}/predict", json={**marked, "age": sentinel}, headers=key)
    assert (scored.status_code, refused.status_code) == (200, 422), scored.text
    assert 0 < predicted["probability"] < 1

    # While the pipeline works through its batches: kill, one after another.
    supervisor = Supervisor(Path(env["CHECKOUT"]) / ".local")
    runs_before, batches_before_kills = successful_runs(env), rows(env)[2]
    back, killed_at = {}, {}
    for name in KILLED:
        killed_at[name] = time.monotonic()
        back[name] = kill_and_wait(supervisor, every[name])
    print(f"back after SIGKILL (s): { {k: round(v, 1) for k, v in back.items()} }")
    assert all(seconds < 30 for seconds in back.values()), back
    wait_for(prediction, 90, "a prediction from the restarted API", interval=1)
    predicts = time.monotonic() - killed_at["api"]
    print(f"the restarted API predicts again {predicts:.0f}s after its kill")

    # JupyterLab: its REST API answers with the generated token, and refuses without it.
    token = services.credentials(Path(env["CHECKOUT"]) / ".local")["JUPYTER_TOKEN"]
    jupyter = f"http://127.0.0.1:{env['JUPYTER_PORT']}/api/status"
    assert httpx.get(jupyter, timeout=30).status_code == 403
    status = httpx.get(jupyter, headers={"Authorization": f"token {token}"}, timeout=30)
    assert status.status_code == 200 and "started" in status.json()
    page = httpx.get(f"http://127.0.0.1:{env['STREAMLIT_PORT']}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    if every["prometheus"].installed:  # the chart's own alert rules, loaded from its file
        answer = httpx.get(f"http://127.0.0.1:{env['PROMETHEUS_PORT']}/api/v1/rules", timeout=30)
        loaded = {r["name"] for g in answer.json()["data"]["groups"] for r in g["rules"]}
        assert {"FeatureDrift", "InferenceApiDown", "BatchQuarantined"} <= loaded

    # The pipeline carries on: ingest and clean succeed again, a new batch is loaded. (The
    # batch count is part of the wait: a run that had committed its batch before the kills but
    # was marked successful after them counts as a new success without a new batch.)
    def more() -> bool:
        runs = successful_runs(env)
        again = all(runs[dag] > runs_before[dag] for dag in DAGS[:2]) and all(runs.values())
        return again and rows(env)[2] > batches_before_kills

    wait_for(more, 300, "ingest and clean to succeed and a new batch after the kills", interval=5)

    # supervisord calls a restarted program RUNNING once it has lived `startsecs` (10 s): the
    # batches above can be quicker than that.
    def running() -> bool:
        return all(supervisor.info()[name]["statename"] == "RUNNING" for name in KILLED)

    wait_for(running, 30, "supervisord to count the restarted services running", interval=1)
    status = make("status", env).stdout
    assert "champion    diabetes-readmission version" in status
    for name in KILLED:
        assert re.search(rf"{name} +RUNNING .*restarts 1\b", status), name
    assert "0 quarantined" in status
    rows_before, distinct_before, batches_before, counted = rows(env)
    assert rows_before == distinct_before == counted > 0

    local = Path(env["CHECKOUT"]) / ".local"
    logs = [*(local / "logs").rglob("*"), *(local / "airflow" / "logs").rglob("*")]
    searched = [p for p in logs if p.is_file()]
    assert len(searched) >= 8, searched  # every service's log, and the tasks' logs
    assert not [p.name for p in searched if sentinel in p.read_text(errors="replace")]

    session = supervisor.session()
    make("down", env)
    assert not pid_alive(session)
    assert left_behind(env, session) == ([], [])

    # An API that crashes on start (a setting it refuses): make up resumes on the kept data
    # (S3 and MLflow start), then stops when supervisord gives up on the API, says so, cleans up.
    failed = make("up", {**env, "MICROBATCH_MAX": "0"}, ok=False)
    assert re.search(r"==> s3 +ready.*\n==> mlflow +ready", failed.stdout)
    assert "error: api exits as soon as it starts: supervisord gave up after 3" in failed.stderr
    assert "MICROBATCH_MAX" in failed.stderr  # the log's last lines: pydantic's message
    assert left_behind(env, session) == ([], [])
    assert supervisor.session() is None

    # The data is kept: no batch loaded twice, the champion still registered.
    home = Path(env["CHECKOUT"]) / ".local"
    try:
        pg = start(home, {"POSTGRES_PORT": env["POSTGRES_PORT"]}, ("postgres",))[1]
        rows_after, distinct_after, batches_after, counted = rows(env)
        alias = "SELECT version FROM registered_model_aliases WHERE alias = 'champion'"
        kept = int(pg.psql(alias, "mlflow"))
    finally:
        supervisor.shutdown()
    assert rows_after == distinct_after == counted >= rows_before  # a batch may land in between
    assert batches_after >= batches_before and kept >= int(version.version)
