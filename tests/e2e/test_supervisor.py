"""supervisord as `make up` drives it, on small real services and on PostgreSQL: a crash on start
is given up on and reported with the log; a killed service comes back, its orphans cleared, its
restart counted."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
from readmission_local.process import ServiceError, free_port, pid_alive, proc_stat, wait_until
from readmission_local.services import Service
from readmission_local.supervisor import Supervisor
from readmission_local.up import start


def service(name: str, script: str, port: int) -> Service:
    argv = [sys.executable, "-c", script]
    health = f"http://127.0.0.1:{port}/"
    return Service(name, argv, dict(os.environ), health, {"PORT": port}, program={"startsecs": 1})


@pytest.fixture
def supervisor(tmp_path):
    supervisor = Supervisor(tmp_path)
    yield supervisor
    supervisor.shutdown()


def test_a_service_that_crashes_on_start_is_given_up_with_its_log(supervisor) -> None:
    crash = service("crasher", "print('bad port: 99999'); raise SystemExit(3)", free_port())
    started = time.monotonic()
    with pytest.raises(ServiceError) as failed:
        supervisor.start(crash)
    message = str(failed.value)
    assert message.startswith("crasher exits as soon as it starts: supervisord gave up after 3")
    assert "exit status 3" in message and "bad port: 99999" in message
    assert supervisor.info()["crasher"]["statename"] == "FATAL"
    assert time.monotonic() - started < 30


def test_a_killed_service_comes_back_without_its_orphans_and_is_counted(supervisor) -> None:
    port = free_port()
    # A parent whose child serves the port, as `mlflow server` runs uvicorn; the child's
    # environment is empty, as if it had renamed itself (setproctitle, Airflow's workers).
    script = (
        "import subprocess, sys; subprocess.run([sys.executable, '-m', 'http.server', "
        f"'--bind', '127.0.0.1', '{port}'], env={{}})"
    )
    web = service("web", script, port)
    supervisor.start(web)
    parent = supervisor.info()["web"]["pid"]
    child = int(os.popen(f"pgrep -P {parent}").read().split()[0])
    os.kill(parent, signal.SIGKILL)  # the child lives on, holding the port
    wait_until(lambda: supervisor.info()["web"]["pid"] not in (0, parent), 30, "a new web")
    wait_until(web.ready, 30, "the new web to serve")
    assert not pid_alive(child), "the orphan of the killed run was cleared"
    assert supervisor.restarts()["web"] == 1


def test_shutdown_leaves_no_process_of_its_session(supervisor) -> None:
    port = free_port()
    script = (
        "import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        "'import os, time; os.setpgrp(); time.sleep(600)'], env={}); "
        f"subprocess.run([sys.executable, '-m', 'http.server', '--bind', '127.0.0.1', '{port}'])"
    )  # a grandchild in a group of its own: stopping the program's group misses it
    supervisor.start(service("web", script, port))
    session = supervisor.session()
    members = [p.name for p in Path("/proc").glob("[0-9]*") if _session(p.name) == str(session)]
    assert len(members) >= 4  # supervisord, the parent, the server, the sleeper
    killed = supervisor.shutdown()
    assert killed, "the sleeper was not stopped by supervisord: the sweep kills it"
    assert not [p for p in map(int, members) if pid_alive(p)]


def _session(pid: str) -> str | None:
    try:
        return proc_stat(pid)[3]
    except OSError:
        return None


def test_a_killed_postgres_comes_back_with_its_data() -> None:
    root = Path(tempfile.mkdtemp(prefix="readmission-pg-"))
    root.chmod(0o755)  # reachable by the unprivileged user PostgreSQL runs as under root
    supervisor = Supervisor(root)
    try:
        pg = start(root, {"POSTGRES_PORT": str(free_port())}, ("postgres",))[1]
        pg.psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        assert not list(root.rglob(".s.PGSQL.*")), "no UNIX socket: every client uses TCP"
        postmaster = supervisor.info()["postgres"]["pid"]
        children = [int(pid) for pid in os.popen(f"pgrep -P {postmaster}").read().split()]
        assert children, "PostgreSQL's own processes (checkpointer, writers…)"
        os.kill(postmaster, signal.SIGKILL)
        killed = time.monotonic()

        def kept() -> bool:
            try:
                return pg.psql("SELECT n FROM kept").strip() == "42"
            except ServiceError:
                return False

        wait_until(kept, 30, "PostgreSQL back with its data")
        print(f"PostgreSQL answered again {time.monotonic() - killed:.1f}s after its SIGKILL")
        assert supervisor.info()["postgres"]["pid"] != postmaster
        assert supervisor.restarts()["postgres"] == 1
        assert not [pid for pid in children if pid_alive(pid)]
    finally:
        supervisor.shutdown()
        shutil.rmtree(root, ignore_errors=True)
