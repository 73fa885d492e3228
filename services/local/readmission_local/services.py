"""The table of services (``services.toml``) made concrete: commands, environments, checks."""

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
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


@dataclass(frozen=True)
class Service:
    """One row of the table, placeholders filled in (its keys: the table's header comment)."""

    name: str
    command: list[str]
    env: dict[str, str]
    health: str | list[str]  # a URL that answers 2xx, or a command that exits 0
    ports: dict[str, int] = field(default_factory=dict)  # name → port, checked free first
    healthy: str | None = None  # the member of ``health``'s JSON whose status must be healthy
    timeout: int = 120  # seconds for its health check to pass
    nice: int = 0
    before: list[str] | None = None
    files: dict[Path, str] = field(default_factory=dict)  # config files it reads: path → text
    unprivileged: bool = False
    program: dict = field(default_factory=dict)  # its supervisord options, over [program]'s
    priority: int = 999  # supervisord starts lower first, stops them last

    @property
    def check(self) -> str:
        """The health check, as ``make up`` prints it."""
        if isinstance(self.health, str):
            return self.health
        return shlex.join([Path(self.health[0]).name, *self.health[1:]])

    @property
    def supervisord(self) -> dict:
        """Its supervisord options: the table's [program], then its own."""
        return TABLE["program"] | self.program

    @property
    def installed(self) -> bool:
        return shutil.which(self.command[0]) is not None

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
    for name in PORTS:
        top = 65_535 - (10_000 + S3_PORTS if name == "S3_PORT" else 0)
        if not (found[name].isdigit() and 0 < int(found[name]) <= top):
            raise ServiceError(f"{name}={found[name]!r} is not a port number (1-{top})")
    s3 = int(found["S3_PORT"])
    found |= {f"S3_PORT_{i}": str(s3 + i) for i in range(1, S3_PORTS)}
    found |= {f"S3_GRPC_{i}": str(s3 + i + 10_000) for i in range(5)}
    here = {"home": str(home), "bin": str(Path(sys.executable).parent), "repo": str(REPO_ROOT)}
    return LocalPostgres(home / "postgres", 0).placeholders() | found | here | {"BUCKET": BUCKET}


def common_env(values: dict[str, str]) -> dict[str, str]:
    """[env.all] filled in: what every pipeline process needs (DESIGN.md names)."""
    return fill(TABLE["env"]["all"], values)


def fill(value, values: dict[str, str]):
    """``value`` (a string, or a list or dict of them) with its placeholders filled in."""
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value.format_map(values) if isinstance(value, str) else value


def load(values: dict[str, str], names: tuple[str, ...] | None = None) -> list[Service]:
    """The services of the table (or only ``names``), in start order. A service's environment:
    ours, the venv first on PATH, [env.all], its own group; an unprivileged one's: its group."""
    ours = {**os.environ, "PATH": f"{values['bin']}{os.pathsep}{os.environ['PATH']}"}
    found = []
    for priority, (name, raw) in enumerate(TABLE["service"].items()):
        if names is None or name in names:
            row = fill(raw, values) | {"name": name, "priority": priority}
            env = fill(TABLE["env"].get(row.get("env"), {}), values)
            if not row.get("unprivileged"):  # which gets its own group only
                env = ours | common_env(values) | env
            row["env"] = env
            row["ports"] = {port: int(values[port]) for port in row.get("ports", [])}
            row["files"] = {Path(values["home"], k): v for k, v in row.get("files", {}).items()}
            found.append(Service(**row))
    return found


def _generated() -> dict[str, Callable[[], str]]:
    """How each credential of ``credentials.env`` is made."""

    def fernet() -> str:
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()

    def token(n: int) -> Callable[[], str]:
        return lambda: secrets.token_urlsafe(n)

    def api_key() -> str:  # the API's own format (stored hashed by the API at start)
        from readmission_api.api_keys import new_key

        return new_key()

    return {
        "POSTGRES_PASSWORD": token(24),
        "S3_ACCESS_KEY": lambda: "mlops-" + secrets.token_hex(6),
        "S3_SECRET_KEY": token(32),
        "AIRFLOW_ADMIN_USER": lambda: "admin",
        "AIRFLOW_ADMIN_PASSWORD": token(16),
        "AIRFLOW_FERNET_KEY": fernet,
        "AIRFLOW_JWT_SECRET": token(32),
        "AIRFLOW_API_SECRET_KEY": token(32),
        "API_ADMIN_TOKEN": token(24),
        "API_KEY_UI": api_key,
        "API_KEY_LOCUST": api_key,
        "API_KEY_JUPYTER": api_key,
        "JUPYTER_TOKEN": token(24),
    }


def credentials(home: Path) -> dict[str, str]:
    """Generated once (mode 600), then reused: data stays readable across up/down. One that a
    newer version of this table adds is generated into the existing file."""
    path = home / "credentials.env"
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    found = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    made = {name: make() for name, make in _generated().items() if name not in found}
    if made:
        with path.open("a") as out:
            out.write("".join(f"{k}={v}\n" for k, v in made.items()))
    return found | made
