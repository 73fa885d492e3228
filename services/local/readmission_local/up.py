"""`make up` / `make down` / `make status` / `make logs`: the whole system on one machine.

Every service of ``services.toml`` under supervisord, PostgreSQL first, in order, each awaited
through its health check. State lives under MLOPS_HOME (default ``.local/``): data, logs, the
generated config and credentials. ``down`` stops everything; ``up`` again resumes with the data.
"""

import functools
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from readmission.settings import REPO_ROOT

from readmission_local import process, services, status
from readmission_local.postgres import LocalPostgres, reachable_root
from readmission_local.process import ServiceError
from readmission_local.services import Service
from readmission_local.supervisor import Supervisor

DATABASES = ("airflow", "mlflow", "readmission")
LIVE = ("RUNNING", "STARTING", "BACKOFF")  # supervisord states of a service it looks after
FIRST_CHAMPION_WAIT = 300.0  # seconds `make up` waits to say the first champion is served
URLS = """
  Streamlit app   http://127.0.0.1:{STREAMLIT_PORT}   (no sign-in: this machine only)
  API docs        http://127.0.0.1:{API_PORT}/docs   (key API_KEY_UI: {home}/credentials.env)
  MLflow UI       http://127.0.0.1:{MLFLOW_PORT}
  Airflow UI      http://127.0.0.1:{AIRFLOW_PORT}   (admin; password: {home}/credentials.env)
  Prometheus      http://127.0.0.1:{PROMETHEUS_PORT}   (when installed)
  JupyterLab      http://127.0.0.1:{JUPYTER_PORT}/lab   (token: {home}/credentials.env)
  S3 (SeaweedFS)  http://127.0.0.1:{S3_PORT}   (keys: {home}/credentials.env)
  PostgreSQL      127.0.0.1:{POSTGRES_PORT}   (user postgres, password: {home}/credentials.env)

  make status · make logs [SERVICE=…] · make down
"""


def say(message: str, end: str = "\n") -> None:
    print(f"\r==> {message}" if sys.stdout.isatty() else f"==> {message}", end=end, flush=True)


def mlops_home() -> Path:
    return Path(os.environ.get("MLOPS_HOME", REPO_ROOT / ".local")).resolve()


def check_ports_free(table: list[Service]) -> None:
    """Name every port something else holds, before anything starts."""
    wanted = {name: port for s in table if s.installed for name, port in s.ports.items()}
    if busy := [f"{name}={port}" for name, port in wanted.items() if process.port_open(port)]:
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


def start(
    home: Path, overrides: dict[str, str] | None = None, names: tuple[str, ...] | None = None
) -> tuple[dict[str, str], LocalPostgres]:
    """Credentials and PostgreSQL's data made ready, then each service of the table (or of
    ``names``, PostgreSQL among them) that is not running, once the one before it is healthy.
    Returns (the placeholders, the LocalPostgres): tests and `make evaluate` use them."""
    creds = services.credentials(home)
    found = services.values(home, creds | (overrides or {}))
    port, password = int(found["POSTGRES_PORT"]), creds["POSTGRES_PASSWORD"]
    pg = LocalPostgres(reachable_root(home), port, password)
    if not pg.root.is_relative_to(home):
        say(f"PostgreSQL runs as 'nobody', which cannot reach {home}: its data is in {pg.root}")
    found |= pg.prepare().placeholders()  # starts nothing; may copy its binaries there
    supervisor, table = Supervisor(home), services.load(found, names)
    states = {name: p["statename"] for name, p in supervisor.info().items()}
    check_ports_free([s for s in table if states.get(s.name) not in LIVE])
    try:
        start_in_order(supervisor, table[:1], states)  # PostgreSQL, which the others use
        for database in DATABASES:
            pg.create_database(database)
        start_in_order(supervisor, table[1:], states)
    except (ServiceError, OSError):
        say("failed: stopping everything (data kept)")
        down(home)
        raise
    return found, pg


def up(home: Path) -> None:
    """Start what is not running, say where everything is, then when a champion is served."""
    started = time.monotonic()
    found, _ = start(home)
    say(f"up in {time.monotonic() - started:.0f}s: the pipeline now runs by itself (a batch a "
        "minute)")  # fmt: skip
    print(URLS.format_map(found))
    first_champion(f"http://127.0.0.1:{found['API_PORT']}/model", found["API_KEY_UI"])


def first_champion(url: str, key: str, timeout: float = FIRST_CHAMPION_WAIT) -> None:
    """One line once the API serves a champion (at once after a restart), or after
    ``timeout`` why not yet. Ctrl-C stops the wait only: the services keep running."""
    say("waiting for the API to serve a champion (Ctrl-C stops the wait, not the services)")
    started, auth = time.monotonic(), {"X-API-Key": key}
    try:
        process.wait_until(lambda: process.http_ok(url, auth), timeout, "a champion")
    except ServiceError:
        say(f"no champion served yet after {timeout:.0f}s: the pipeline is still at work "
            "(make status; make logs SERVICE=airflow-scheduler)")  # fmt: skip
        return
    except KeyboardInterrupt:
        say("stopped waiting; the services keep running (make status)")
        return
    served = process.http_json(url, auth) or {}
    say(f"champion served: {served.get('name')} version {served.get('version')}, "
        f"{time.monotonic() - started:.0f}s after the services were up")  # fmt: skip


def start_in_order(supervisor: Supervisor, table: list[Service], states: dict[str, str]) -> None:
    """One line per service: already running, skipped, or ready after so many seconds (one
    that supervisord is starting, or bringing back, is waited for)."""
    for service in table:
        if states.get(service.name) == "RUNNING":
            say(f"{service.name:22} already running")
        elif not service.installed:
            say(f"{service.name:22} skipped: {service.command[0]} is not installed")
        else:
            if service.before:
                what = f"{service.name}: {shlex.join(service.before[1:])}"
                step(what, service.before, service.env)
            seconds = supervisor.start(service, tick=functools.partial(waiting, service.name))
            say(f"{service.name:22} ready in {seconds:.0f}s   {service.check}")


def waiting(name: str, seconds: float) -> None:
    if sys.stdout.isatty():  # a log file gets the final line only
        say(f"{name:22} starting… {seconds:.0f}s", end="")


def down(home: Path) -> None:
    """Stop every service (supervisord stops each one's process group, PostgreSQL last)."""
    supervisor = Supervisor(home)
    if supervisor.alive():
        say("stopping the services and supervisord")
    for leftover in supervisor.shutdown():
        say(f"killed leftover process {leftover}")
    say(f"down (data kept in {home}; `make clean-local` wipes it)")


def main(command: str = "", service: str | None = None) -> int:
    home, commands = mlops_home(), {"up": up, "down": down, "status": status.status}
    if command not in [*commands, "logs"]:
        print(
            "usage: python -m readmission_local.up up|down|status|logs [SERVICE]", file=sys.stderr
        )
        return 2
    try:
        status.logs(home, service) if command == "logs" else commands[command](home)
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
    sys.exit(main(*sys.argv[1:3]))
