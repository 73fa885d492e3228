"""A throwaway stack (Postgres + S3 + MLflow) in a temporary folder, for evaluations and tests."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from readmission_local.mlflow_server import LocalMlflow
from readmission_local.postgres import LocalPostgres
from readmission_local.process import free_port, free_port_block
from readmission_local.s3 import S3_PORTS, LocalS3

BUCKET = "mlflows3"


@dataclass(frozen=True)
class Stack:
    """Where the running services are."""

    root: Path
    postgres: LocalPostgres
    s3: LocalS3
    mlflow: LocalMlflow
    data_db_url: str


@contextmanager
def throwaway_stack(prefix: str = "readmission-") -> Iterator[Stack]:
    """Start Postgres, S3 and MLflow on free ports under a temp folder; wipe it all after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # reachable by the unprivileged user PostgreSQL runs as under root
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        pg = LocalPostgres(root / "postgres", free_port())
        stack.callback(pg.stop)
        pg.start()
        for name in ("mlflow", "readmission"):
            pg.create_database(name)
        key, secret = "readmission", secrets.token_urlsafe(24)
        s3 = LocalS3(root / "s3", free_port_block(S3_PORTS), key, secret, (BUCKET,))
        stack.callback(s3.stop)
        s3.start()
        mlflow = LocalMlflow(
            root / "mlflow",
            free_port(),
            pg.url("mlflow"),
            f"s3://{BUCKET}",
            s3.endpoint,
            key,
            secret,
        )
        stack.callback(mlflow.stop)
        mlflow.start()
        yield Stack(root, pg, s3, mlflow, pg.url("readmission"))


def client_env(stack: Stack) -> dict[str, str]:
    """The environment a pipeline process needs to use ``stack`` (DESIGN.md names)."""
    return {
        "DATA_DB_URL": stack.data_db_url,
        "MLFLOW_TRACKING_URI": stack.mlflow.uri,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "PATH": os.environ.get("PATH", ""),
    }
