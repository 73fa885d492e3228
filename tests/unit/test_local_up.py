"""`make up`'s own rules: busy ports are refused by name, credentials are made once, and
`make status` / `make logs` behave in a pipe."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
from readmission_local.process import ServiceError
from readmission_local.up import PORTS, Layout, check_ports_free, credentials


def test_a_busy_port_is_refused_with_its_name(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        layout = Layout(tmp_path, {**PORTS, "API_PORT": port})
        with pytest.raises(ServiceError, match=f"API_PORT={port}.*API_PORT=8990 make up"):
            check_ports_free(layout, ["API_PORT"])


def test_ports_and_home_come_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("STREAMLIT_PORT", "18501")
    layout = Layout.from_env()
    assert layout.home == tmp_path / "state"
    assert layout.ports["STREAMLIT_PORT"] == 18501 and layout.ports["API_PORT"] == 8989


def test_credentials_are_generated_once_private_and_reused(tmp_path) -> None:
    layout = Layout(tmp_path, dict(PORTS))
    first = credentials(layout)
    assert len(first["POSTGRES_PASSWORD"]) >= 24 and first["AIRFLOW_ADMIN_USER"] == "admin"
    assert stat.S_IMODE(layout.credentials_file.stat().st_mode) == 0o600
    assert credentials(layout) == first


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
