"""`make up`'s own rules: busy ports are refused by name, credentials are made once, and
`make status` / `make logs` behave in a pipe."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
from readmission_local import services
from readmission_local.process import ServiceError
from readmission_local.services import PORTS, credentials
from readmission_local.status import logs
from readmission_local.supervisor import Supervisor
from readmission_local.up import check_ports_free, mlops_home


def test_a_busy_port_is_refused_with_its_name(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        found = services.values(tmp_path, {**credentials(tmp_path), "API_PORT": str(port)})
        with pytest.raises(ServiceError, match=f"API_PORT={port}.*API_PORT=8990 make up"):
            check_ports_free(services.load(found))


def test_ports_and_home_come_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("STREAMLIT_PORT", "18501")
    found = services.values(mlops_home(), credentials(mlops_home()))
    assert mlops_home() == tmp_path / "state"
    assert found["STREAMLIT_PORT"] == "18501" and found["API_PORT"] == str(PORTS["API_PORT"])
    streamlit = services.load(found, ("streamlit",))[0]
    assert streamlit.ports == {"STREAMLIT_PORT": 18501} and ":18501/" in streamlit.health


@pytest.mark.parametrize("port", ["99999", "http", "0"])
def test_a_port_that_is_no_port_is_refused_by_name(monkeypatch, tmp_path, port) -> None:
    monkeypatch.setenv("MLFLOW_PORT", port)
    with pytest.raises(ServiceError, match=f"MLFLOW_PORT='{port}' is not a port number"):
        services.values(tmp_path, {})


def test_credentials_are_generated_once_private_and_reused(tmp_path) -> None:
    first = credentials(tmp_path)
    assert len(first["POSTGRES_PASSWORD"]) >= 24 and first["AIRFLOW_ADMIN_USER"] == "admin"
    assert stat.S_IMODE((tmp_path / "credentials.env").stat().st_mode) == 0o600
    assert credentials(tmp_path) == first


def test_every_service_of_the_table_is_complete_and_keeps_secrets_out_of_its_config(
    tmp_path,
) -> None:
    creds = credentials(tmp_path)
    table = services.load(services.values(tmp_path, creds))
    assert [s.name for s in table][:4] == ["postgres", "s3", "mlflow", "api"]
    supervisor = Supervisor(tmp_path)
    for service in table:
        health = service.health  # a URL, or a command (PostgreSQL's pg_isready)
        url = isinstance(health, str) and health.startswith("http://127.0.0.1:")
        assert service.command and (url or os.access(health[0], os.X_OK)), service.name
        assert all(0 < port < 65_536 for port in service.ports.values())
        ours = [v for k, v in service.env.items() if os.environ.get(k) != v]  # not inherited
        assert "{" not in " ".join([*service.command, *ours, service.check]), service.name
        supervisor.add(service)  # supervisord is not running: it is started by the first add
    programs = "".join(p.read_text() for p in (tmp_path / "supervisor" / "programs").iterdir())
    assert programs.count("autorestart = true") == len(table)
    assert not any(secret in programs for secret in creds.values() if len(secret) > 8)
    supervisor.shutdown()


@pytest.mark.parametrize("command", ["status", "logs"])
def test_status_and_logs_stop_quietly_in_a_closed_pipe(tmp_path, command) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text("line\n" * 5000)
    env = {**os.environ, "MLOPS_HOME": str(tmp_path)}
    done = subprocess.run(
        f"{sys.executable} -m readmission_local.up {command} | head -1",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_the_pipeline_library_does_not_ship_the_launcher() -> None:
    # The Airflow image copies services/pipeline only: nothing in it may need readmission_local.
    from tests.conftest import REPO

    library = REPO / "services" / "pipeline" / "readmission"
    assert not (library / "local").exists()
    users = [p.name for p in library.rglob("*.py") if "readmission_local" in p.read_text()]
    assert users == []


def test_logs_of_one_service_or_a_clear_error(tmp_path, capsys) -> None:
    (tmp_path / "logs").mkdir()
    for name in ("api", "mlflow"):
        (tmp_path / "logs" / f"{name}.log").write_text(f"{name} line\n")
    logs(tmp_path, "api")
    shown = capsys.readouterr().out
    assert "api line" in shown and "mlflow line" not in shown
    with pytest.raises(
        ServiceError, match=r"no log for 'scheduler' yet; the services: .*airflow-sch"
    ):
        logs(tmp_path, "scheduler")


def test_clean_local_wipes_the_postgres_folder_it_links_to(tmp_path) -> None:
    # As root with a home 'nobody' cannot reach, PostgreSQL's data lives outside, linked: a
    # wipe that left it would hand the next `make up` a cluster with a forgotten password.
    from tests.conftest import REPO

    home, outside = tmp_path / "home", tmp_path / "outside"
    (outside / "data").mkdir(parents=True)
    home.mkdir()
    (home / "postgres").symlink_to(outside)
    env = {**os.environ, "MLOPS_HOME": str(home)}
    done = subprocess.run(["make", "clean-local"], cwd=REPO, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert not home.exists() and not outside.exists()
