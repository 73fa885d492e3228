"""A throwaway stack (PostgreSQL + S3 + MLflow) in a temporary folder, wiped after: the same
services as `make up`'s, from the same table, started by the same code, on free ports.

``python -m readmission_local.stack COMMAND…`` runs one command against one (`make evaluate`:
``python -m readmission evaluate``) and exits with its status.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from readmission_local import services, up
from readmission_local.postgres import LocalPostgres
from readmission_local.process import ServiceError, free_port, free_port_block
from readmission_local.supervisor import Supervisor

STACK = ("postgres", "s3", "mlflow")


def free_ports(names: Iterable[str] = ("POSTGRES_PORT", "MLFLOW_PORT")) -> dict[str, str]:
    """Free ports for S3_PORT (a block: SeaweedFS's) and ``names``, none of them twice and
    none in SeaweedFS's block: a stack beside `make up`'s and other stacks."""
    s3 = free_port_block(services.S3_PORTS)
    taken = {s3 + i + twin for i in range(services.S3_PORTS) for twin in (0, 10_000)}
    ports = {"S3_PORT": str(s3)}
    for name in names:
        while (port := free_port()) in taken or str(port) in ports.values():
            continue
        ports[name] = str(port)
    return ports


@contextmanager
def throwaway(prefix: str = "readmission-run-") -> Iterator[tuple[dict[str, str], LocalPostgres]]:
    """Start a stack under a temp folder: (its placeholders, its LocalPostgres)."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o755)  # reachable by the unprivileged user PostgreSQL runs as under root
    try:
        yield up.start(home, free_ports(), STACK)
    finally:
        Supervisor(home).shutdown()
        shutil.rmtree(home, ignore_errors=True)


def client_env(found: dict[str, str]) -> dict[str, str]:
    """What a pipeline process needs to use the stack: ours and [env.all] (DESIGN.md names)."""
    return {**os.environ, **services.common_env(found)}


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m readmission_local.stack COMMAND [ARG…]", file=sys.stderr)
        return 2
    try:
        with throwaway() as (found, _):
            return subprocess.run(argv, env=client_env(found)).returncode
    except (ServiceError, OSError) as exc:  # the stack did not start: one clear line
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
