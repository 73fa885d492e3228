"""The postgres chart's init script, run for real against PostgreSQL (as the image runs it)."""

from __future__ import annotations

import os
import subprocess

import psycopg

from tests.chart.conftest import render


def test_init_script_creates_roles_and_databases_idempotently(helm, postgres, tmp_path) -> None:
    from tests.chart.conftest import CHARTS

    # Names of this test's own: the session's MLflow fixture already made a "mlflow" database.
    names = ("init_airflow", "init_mlflow", "init_data")
    databases = [{"name": n, "user": n, "passwordKey": f"{n}-password"} for n in names]
    config_map = render(
        helm, CHARTS / "postgres", {"databases": databases}, show_only=["templates/configmap.yaml"]
    )[0]
    script = tmp_path / "init.sh"
    script.write_text(config_map["data"]["10-create-databases.sh"])
    env = {
        **os.environ,
        "POSTGRES_USER": "postgres",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres.port),
        "PGPASSWORD": postgres.password or "",
        "PATH": f"{postgres.bin}:{os.environ['PATH']}",
        "DB_PASSWORD_0": "a-pass'word",
        "DB_PASSWORD_1": "mlflow-pw",
        "DB_PASSWORD_2": "data-pw",
    }
    for _ in range(2):  # a second run must change nothing and not fail
        done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    # The owners exist with their passwords; a quote in a password is handled.
    owners = postgres.psql(
        "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database "
        "WHERE datname LIKE 'init%' ORDER BY 1"
    )
    assert owners.split() == [f"{n}:{n}" for n in sorted(names)]
    postgres.psql("ALTER SYSTEM SET password_encryption = 'scram-sha-256'")
    with psycopg.connect(
        host="127.0.0.1",
        port=postgres.port,
        user="init_airflow",
        dbname="init_airflow",
        password="a-pass'word",
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("init_airflow",)
