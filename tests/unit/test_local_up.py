"""`make up`'s own rules: busy ports are refused by name, credentials are made once."""

from __future__ import annotations

import socket
import stat

import pytest
from readmission.local.process import ServiceError
from readmission.local.up import PORTS, Layout, check_ports_free, credentials


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
