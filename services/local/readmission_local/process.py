"""Small helpers for local servers: ports, HTTP checks, waiting, log tails, the servers' user,
leftover processes."""

import contextlib
import json
import os
import pwd
import random
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service failed to start or answer; the message says where its log is."""


def server_user() -> pwd.struct_passwd | None:
    """Who runs the servers that refuse root (PostgreSQL): 'nobody' under root, else us."""
    return pwd.getpwnam("nobody") if os.geteuid() == 0 else None


def as_server_user() -> dict:
    """``subprocess.run`` arguments that run a command as ``server_user()``."""
    user = server_user()
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}


def _outgoing_ports_start() -> int:
    """Where the kernel's range of ports for outgoing connections starts."""
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def free_port(below: int = 65_536) -> int:
    """A TCP port on 127.0.0.1 that is free now, under ``below`` and under the kernel's range
    for outgoing connections: no client socket (e.g. SeaweedFS's own, while it starts) can take
    it before the server it is meant for binds it."""
    top = max(min(below, _outgoing_ports_start()), 20_000)
    for _ in range(1000):
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port := random.randrange(10_000, top)))
            return port
    raise ServiceError(f"no free port found between 10000 and {top}")


def free_port_block(size: int, offset: int = 10_000) -> int:
    """A base port with ``size`` free ports from it, and each one's twin at ``+offset`` free."""
    for _ in range(100):
        base = free_port(below=_outgoing_ports_start() - offset - size)
        if not any(port_open(p) or port_open(p + offset) for p in range(base, base + size)):
            return base
    raise ServiceError(f"no block of {size} free ports found")


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None):
    """Poll ``check`` until it is true; raise with ``log``'s tail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not become ready within {timeout:.0f}s{tail(log)}")
        time.sleep(0.2)


def tail(log: Path | None, lines: int = 25) -> str:
    """The last ``lines`` of ``log`` under a header naming it ("" when there is none)."""
    if log is None or not log.exists():
        return ""
    found = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(found)


def http_json(url: str, headers: dict[str, str] | None = None):
    """The JSON ``url`` answers with 2xx ({} when it is not JSON), or None."""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=2) as response:
            body = response.read()
    except OSError:  # refused, timed out, or an HTTP error status
        return None
    try:
        return json.loads(body)
    except ValueError:
        return {}


def http_ok(url: str, headers: dict[str, str] | None = None) -> bool:
    """Whether ``url`` answers 2xx."""
    return http_json(url, headers) is not None


def proc_stat(pid: int | str) -> list[str]:
    """State, parent, process group and session of ``pid`` (from /proc/PID/stat)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:4]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return proc_stat(pid)[0] != "Z"
    except OSError:
        return False


def sweep_session(session: int, group: int | None = None) -> list[str]:
    """SIGKILL every live process of ``session`` (only of process ``group`` if given) and wait
    until they are gone (their ports free): what a killed parent left, even when it renamed
    itself or moved to a group of its own. "pid (name)" of each."""
    killed = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state, _, pgrp, sid = proc_stat(entry.name)
            ours = sid == str(session) and group in (None, int(pgrp))
            if ours and state != "Z" and int(entry.name) != os.getpid():
                name = (entry / "comm").read_text().strip()
                os.kill(int(entry.name), signal.SIGKILL)
                killed[int(entry.name)] = f"{entry.name} ({name})"
        except OSError:  # gone meanwhile
            continue
    wait_until(lambda: not any(map(pid_alive, killed)), 10, "the killed processes to go")
    return list(killed.values())
