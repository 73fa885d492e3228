"""The table of services (``services.toml``) made concrete: commands, environments, checks."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from readmission.settings import REPO_ROOT

from readmission_local.process import ServiceError, http_json

TABLE = tomllib.loads((Path(__file__).parent / "services.toml").read_text())
PORTS = {k: int(v) for k, v in TABLE["defaults"].items() if k.endswith("_PORT")}
BUCKET = "mlflows3"
S3_PORTS = 7  # SeaweedFS binds S3_PORT … S3_PORT+6, and the first five of them + 10000 (gRPC)


@dataclass(frozen=True)
class Service:
    """One row of the table, placeholders filled in."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health: str
    healthy: str | None  # the JSON member of ``health`` whose status must be "healthy"
    ports: dict[str, int]  # name → port, checked free before anything starts
    startsecs: int = 10
    retries: int = 3
    timeout: int = 120
    optional: bool = False
    nice: int = 0  # CPU priority: batch work yields to serving on a small machine
    before: list[str] | None = None  # a one-off command to run before it starts
    files: dict[Path, str] = field(default_factory=dict)  # config files it reads: path → text

    @property
    def installed(self) -> bool:
        return shutil.which(self.argv[0]) is not None

    def ready(self, since: float = 0) -> bool:
        """Whether the health check passes now (for a ``healthy`` member: with a heartbeat
        after ``since``, so that a replaced process's last one does not count)."""
        answer = http_json(self.health)
        if answer is None or not self.healthy:
            return answer is not None
        member = answer.get(self.healthy) or {}
        beat = member.get(f"latest_{self.healthy}_heartbeat")
        fresh = beat is not None and datetime.fromisoformat(beat).timestamp() > since
        return member.get("status") == "healthy" and fresh


def values(home: Path, overrides: dict[str, str]) -> dict[str, str]:
    """Every placeholder: the table's defaults, then the environment, then ``overrides``."""
    found = {k: os.environ.get(k, v) for k, v in TABLE["defaults"].items()} | overrides
    for name in PORTS:
        top = 65_535 - (10_000 + S3_PORTS if name == "S3_PORT" else 0)
        if not (found[name].isdigit() and 0 < int(found[name]) <= top):
            raise ServiceError(f"{name}={found[name]!r} is not a port number (1-{top})")
    s3 = int(found["S3_PORT"])
    found |= {f"S3_PORT_{i}": str(s3 + i) for i in range(1, S3_PORTS)}
    found |= {f"S3_GRPC_{i}": str(s3 + i + 10_000) for i in range(5)}
    bindir = str(Path(sys.executable).parent)
    return found | {"home": str(home), "bin": bindir, "repo": str(REPO_ROOT), "BUCKET": BUCKET}


def load(values: dict[str, str], names: tuple[str, ...] | None = None) -> list[Service]:
    """The services of the table (or only ``names``), in start order."""
    path = f"{values['bin']}{os.pathsep}{os.environ.get('PATH', '')}"
    found = []
    for name, row in TABLE["service"].items():
        if names is not None and name not in names:
            continue
        groups = [TABLE["env"]["all"], TABLE["env"].get(row.get("env"), {})]
        env = {k: v.format_map(values) for group in groups for k, v in group.items()}
        extra = {
            k: row[k] for k in ("startsecs", "retries", "timeout", "optional", "nice") if k in row
        }
        if "before" in row:
            extra["before"] = [arg.format_map(values) for arg in row["before"]]
        files = row.get("files", {}).items()
        extra["files"] = {Path(values["home"], k): v.format_map(values) for k, v in files}
        found.append(
            Service(
                name,
                [arg.format_map(values) for arg in row["command"]],
                {**os.environ, "PATH": path, **env},
                row["health"].format_map(values),
                row.get("healthy"),
                {port: int(values[port]) for port in row.get("ports", [])},
                **extra,
            )
        )
    return found


def credentials(home: Path) -> dict[str, str]:
    """Generated once (mode 600), then reused: data stays readable across up/down."""
    path = home / "credentials.env"
    if path.exists():
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    from cryptography.fernet import Fernet

    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "S3_ACCESS_KEY": "mlops-" + secrets.token_hex(6),
        "S3_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "API_ADMIN_TOKEN": secrets.token_urlsafe(24),
    }
    home.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values
