"""A throwaway stack (PostgreSQL + S3 + MLflow) in a temporary folder, for evaluations and
tests: the same services as `make up`'s, from the same table, under their own supervisord.

``python -m readmission_local.stack COMMAND…`` runs one command against a throwaway stack
(`make evaluate`: ``python -m readmission evaluate``) and exits with its status.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from readmission_local import services
from readmission_local.postgres import LocalPostgres
from readmission_local.process import ServiceError, free_port, free_port_block
from readmission_local.services import S3_PORTS
from readmission_local.supervisor import Supervisor


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Stack:
    """Where the running services are."""

    root: Path
    postgres: LocalPostgres
    s3: S3
    mlflow_uri: str
    supervisor: Supervisor

    @property
    def data_db_url(self) -> str:
        return self.postgres.url("readmission")


def _postgres_values(pg: LocalPostgres) -> dict[str, str]:
    """The table's placeholders that say where ``pg`` is."""
    found = {"POSTGRES_PORT": str(pg.port), "POSTGRES_PASSWORD": pg.password or ""}
    return found | pg.placeholders()


def stack_values(root: Path, pg: LocalPostgres, s3: S3, mlflow_port: int) -> dict[str, str]:
    """The table's placeholders for S3 and MLflow under ``root``, backed by ``pg``."""
    return services.values(
        root,
        {
            "S3_PORT": s3.endpoint.rsplit(":", 1)[1],
            "S3_ACCESS_KEY": s3.access_key,
            "S3_SECRET_KEY": s3.secret_key,
            "MLFLOW_PORT": str(mlflow_port),
            **_postgres_values(pg),
        },
    )


def start_postgres(
    supervisor: Supervisor, root: Path, port: int, password: str | None = None
) -> LocalPostgres:
    """PostgreSQL under ``supervisor`` (its data in ``root``) on ``port``, as `make up` runs it."""
    pg = LocalPostgres(root, port, password).prepare()
    found = services.values(supervisor.root, _postgres_values(pg))
    supervisor.start(services.load(found, ("postgres",))[0])
    return pg


def start_s3_and_mlflow(root: Path, pg: LocalPostgres, supervisor: Supervisor) -> tuple[S3, str]:
    """SeaweedFS and the MLflow server (backed by ``pg``) on free ports, under ``supervisor``."""
    pg.create_database("mlflow")
    port, key = free_port_block(S3_PORTS), secrets.token_urlsafe(24)
    s3, mlflow_port = S3(f"http://127.0.0.1:{port}", "readmission", key), free_port()
    for service in services.load(stack_values(root, pg, s3, mlflow_port), ("s3", "mlflow")):
        supervisor.start(service)
    return s3, f"http://127.0.0.1:{mlflow_port}"


@contextmanager
def throwaway_stack(prefix: str = "readmission-") -> Iterator[Stack]:
    """Start Postgres, S3 and MLflow on free ports under a temp folder; wipe it all after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # reachable by the unprivileged user PostgreSQL runs as under root
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        supervisor = Supervisor(root)
        stack.callback(supervisor.shutdown)
        pg = start_postgres(supervisor, root / "postgres", free_port())
        pg.create_database("readmission")
        s3, mlflow_uri = start_s3_and_mlflow(root, pg, supervisor)
        yield Stack(root, pg, s3, mlflow_uri, supervisor)


def client_env(stack: Stack) -> dict[str, str]:
    """The environment a pipeline process needs to use ``stack`` (DESIGN.md names)."""
    return {
        "DATA_DB_URL": stack.data_db_url,
        "MLFLOW_TRACKING_URI": stack.mlflow_uri,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "PATH": os.environ.get("PATH", ""),
    }


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m readmission_local.stack COMMAND [ARG…]", file=sys.stderr)
        return 2
    try:
        with throwaway_stack("readmission-run-") as stack:
            return subprocess.run(argv, env={**os.environ, **client_env(stack)}).returncode
    except (ServiceError, OSError) as exc:  # the stack did not start: one clear line
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
