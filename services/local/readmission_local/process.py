"""Small helpers to start, wait for and stop local server processes."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

UNPRIVILEGED_USER = "nobody"  # servers that refuse root (PostgreSQL) run as this user


class ServiceError(RuntimeError):
    """A local service failed to start or answer; the message says where its log is."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_block(size: int, offset: int = 10_000) -> int:
    """A base port with ``size`` free ports from it, and each one's twin at ``+offset`` free."""
    for _ in range(100):
        base = free_port()
        if base + size + offset > 65_535:
            continue
        ports = range(base, base + size)
        if not any(port_open(p) or port_open(p + offset) for p in ports):
            return base
    raise ServiceError(f"no block of {size} free ports found")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll ``check`` until it is true; raise with the log's tail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log and log.exists():
        tail = (
            "\n--- last lines of "
            + str(log)
            + " ---\n"
            + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        )
    raise ServiceError(f"{what} did not become ready within {timeout:.0f}s{tail}")


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def demoted_user() -> pwd.struct_passwd | None:
    """The user to run root-refusing servers as, or None when we are not root."""
    return pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None


def run_as(user: pwd.struct_passwd | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that drops to ``user`` (None: run as ourselves)."""
    if user is None:
        return None

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)

    return drop


def start(
    cmd: Sequence[str | os.PathLike], log: Path, env: dict[str, str] | None = None, **kwargs
) -> subprocess.Popen:
    """Start a server in its own session, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(c) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )


def stop(proc: subprocess.Popen | None, timeout: float = 5) -> None:
    """Terminate a server started by :func:`start` and its children; kill if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
