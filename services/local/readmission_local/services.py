"""The table of services (``services.toml``) made concrete: commands, environments, checks."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from readmission.settings import REPO_ROOT

from readmission_local.postgres import LocalPostgres
from readmission_local.process import ServiceError, http_json

TABLE = tomllib.loads((Path(__file__).parent / "services.toml").read_text())
PORTS = {k: int(v) for k, v in TABLE["defaults"].items() if k.endswith("_PORT")}
BUCKET = "mlflows3"
S3_PORTS = 7  # SeaweedFS binds S3_PORT … S3_PORT+6, and the first five of them + 10000 (gRPC)
OPTIONS = ("healthy", "startsecs", "retries", "timeout", "optional", "nice", "before")
OPTIONS += ("unprivileged", "stopsignal")  # a row's keys that Service takes as they are


@dataclass(frozen=True)
class Service:
    """One row of the table, placeholders filled in."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health: str | list[str]  # a URL that answers 2xx, or a command that exits 0
    ports: dict[str, int]  # name → port, checked free before anything starts
    healthy: str | None = None  # the JSON member of ``health`` whose status must be "healthy"
    startsecs: int = 10
    retries: int = 3
    timeout: int = 120
    optional: bool = False
    nice: int = 0  # CPU priority: batch work yields to serving on a small machine
    before: list[str] | None = None  # a one-off command to run before it starts
    files: dict[Path, str] = field(default_factory=dict)  # config files it reads: path → text
    unprivileged: bool = False  # run as 'nobody' under root
    stopsignal: str = "TERM"
    priority: int = 999  # supervisord starts lower first, stops them last

    @property
    def check(self) -> str:
        """The health check, as ``make up`` prints it."""
        if isinstance(self.health, str):
            return self.health
        return shlex.join([Path(self.health[0]).name, *self.health[1:]])

    @property
    def installed(self) -> bool:
        return shutil.which(self.argv[0]) is not None

    def ready(self, since: float = 0) -> bool:
        """Whether the health check passes now (for a ``healthy`` member: with a heartbeat
        after ``since``, so that a replaced process's last one does not count)."""
        if isinstance(self.health, list):
            return subprocess.run(self.health, capture_output=True).returncode == 0
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
    found = LocalPostgres(home / "postgres", 0).placeholders() | found
    for name in PORTS:
        top = 65_535 - (10_000 + S3_PORTS if name == "S3_PORT" else 0)
        if not (found[name].isdigit() and 0 < int(found[name]) <= top):
            raise ServiceError(f"{name}={found[name]!r} is not a port number (1-{top})")
    s3 = int(found["S3_PORT"])
    found |= {f"S3_PORT_{i}": str(s3 + i) for i in range(1, S3_PORTS)}
    found |= {f"S3_GRPC_{i}": str(s3 + i + 10_000) for i in range(5)}
    bindir = str(Path(sys.executable).parent)
    return found | {"home": str(home), "bin": bindir, "repo": str(REPO_ROOT), "BUCKET": BUCKET}


def fill(value, values: dict[str, str]):
    """``value`` (a string, or a list or dict of them) with its placeholders filled in."""
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value.format_map(values) if isinstance(value, str) else value


def load(values: dict[str, str], names: tuple[str, ...] | None = None) -> list[Service]:
    """The services of the table (or only ``names``), in start order."""
    path = f"{values['bin']}{os.pathsep}{os.environ.get('PATH', '')}"
    found = []
    for priority, (name, raw) in enumerate(TABLE["service"].items()):
        if names is not None and name not in names:
            continue
        row = fill(raw, values)
        env = fill(TABLE["env"].get(row.get("env"), {}), values)
        if not row.get("unprivileged"):  # which gets its own group only
            env = {**os.environ, "PATH": path, **fill(TABLE["env"]["all"], values), **env}
        extra = {k: row[k] for k in OPTIONS if k in row} | {"priority": priority}
        extra["files"] = {Path(values["home"], k): v for k, v in row.get("files", {}).items()}
        ports = {port: int(values[port]) for port in row.get("ports", [])}
        found.append(Service(name, row["command"], env, row["health"], ports, **extra))
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
