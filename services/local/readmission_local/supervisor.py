"""supervisord for the local services: config generated from the table, one daemon per folder,
driven over its UNIX socket. It runs each service through ``readmission_local.launch``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections import Counter
from pathlib import Path

from readmission_local import process
from readmission_local.process import ServiceError
from readmission_local.services import Service

DAEMON = """[unix_http_server]
file = {sock}
chmod = 0700
[supervisord]
logfile = {logs}/supervisord.log
pidfile = {run}/supervisord.pid
directory = {root}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[include]
files = {run}/programs/*.conf
"""
# Restarted whenever it exits; `startretries` quick exits in a row (backoff 1 s, 2 s, …) → FATAL.
PROGRAM = """[program:{name}]
command = {command}
autostart = false
autorestart = true
startsecs = {startsecs}
startretries = {retries}
priority = {priority}
stopsignal = {stopsignal}
stopasgroup = true
killasgroup = true
stopwaitsecs = 30
redirect_stderr = true
stdout_logfile = {log}
stdout_logfile_maxbytes = 20MB
stdout_logfile_backups = 2
"""


def _escape(text: str | Path) -> str:
    return str(text).replace("%", "%%")  # supervisord expands %(name)s in these values


class Supervisor:
    """One supervisord for the services under ``root`` (logs in ``root/logs``)."""

    def __init__(self, root: Path):
        self.root, self.run, self.logs = root, root / "supervisor", root / "logs"
        self.sock = self.run / "supervisor.sock"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def rpc(self):
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://localhost", transport).supervisor

    def alive(self) -> bool:
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except OSError:
            return False

    def info(self) -> dict[str, dict]:
        """supervisord's view of each program (state, pid, uptime) — empty when it is down."""
        return {p["name"]: p for p in self.rpc.getAllProcessInfo()} if self.alive() else {}

    def add(self, service: Service) -> None:
        """Write ``service``'s config files, launch spec and program; start supervisord or
        reload its config. The files and the spec are private: they hold credentials."""
        for folder in (self.run / "programs", self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        spec = self.run / f"{service.name}.json"
        user = process.demoted_user() if service.unprivileged else None
        launch = {"argv": service.argv, "env": service.env, "nice": service.nice}
        launch["user"] = user and user.pw_name
        for path, text in {**service.files, spec: json.dumps(launch)}.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(text)
        command = shlex.join([sys.executable, "-m", "readmission_local.launch", str(spec)])
        program = PROGRAM.format(
            name=service.name,
            command=_escape(command),
            log=_escape(self.log(service.name)),
            startsecs=service.startsecs,
            retries=service.retries,
            priority=service.priority,
            stopsignal=service.stopsignal,
        )
        (self.run / "programs" / f"{service.name}.conf").write_text(program)
        if not self.alive():
            return self._launch()
        added, changed, _ = self.rpc.reloadConfig()[0]
        for name in changed:
            self.rpc.stopProcessGroup(name)
            self.rpc.removeProcessGroup(name)
        for name in added + changed:
            self.rpc.addProcessGroup(name)

    def _launch(self) -> None:
        if len(str(self.sock)) > 100:
            raise ServiceError(f"{self.root} is too deep for a UNIX socket: use a shorter path")
        conf = self.run / "supervisord.conf"
        paths = {"sock": self.sock, "logs": self.logs, "run": self.run, "root": self.root}
        conf.write_text(DAEMON.format(**{k: _escape(v) for k, v in paths.items()}))
        out = self.logs / "supervisord.out"
        with open(out, "ab") as sink:  # it daemonizes: a pipe would be held open
            argv = [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)]
            if subprocess.run(argv, stdout=sink, stderr=sink).returncode != 0:
                raise ServiceError(f"supervisord did not start: see {out}")
        process.wait_until(self.alive, 30, "supervisord", self.logs / "supervisord.log")

    def start(self, service: Service, tick=lambda seconds: None) -> float:
        """Start ``service`` (added first) and wait for its health check; the seconds it took.
        Raises, with its log's last lines, once supervisord gives up on it or it times out."""
        started, since = time.monotonic(), time.time()
        self.add(service)
        try:
            self.rpc.startProcess(service.name, False)
        except xmlrpc.client.Fault as fault:  # ALREADY_STARTED: coming back by itself
            if "ALREADY_STARTED" not in fault.faultString:
                raise ServiceError(f"supervisord: {service.name}: {fault.faultString}") from None
        while (waited := time.monotonic() - started) < service.timeout:
            state = self.rpc.getProcessInfo(service.name)
            if state["statename"] == "FATAL":
                raise ServiceError(
                    f"{service.name} exits as soon as it starts: supervisord gave up after "
                    f"{service.retries} retries ({self.last_exit(service.name)})"
                    + process.tail(self.log(service.name))
                )
            if state["statename"] in ("STARTING", "RUNNING") and service.ready(since):
                return waited
            tick(waited)
            time.sleep(0.5)
        raise ServiceError(
            f"{service.name} did not pass its health check ({service.check}) within "
            f"{service.timeout}s{process.tail(self.log(service.name))}"
        )

    def _events(self) -> str:
        """supervisord's own log since it last started."""
        path = self.logs / "supervisord.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text.rsplit("supervisord started with pid", 1)[-1]

    def restarts(self) -> Counter:
        """Starts of each program since supervisord started, minus the first one."""
        spawned = Counter(re.findall(r"spawned: '([^']+)'", self._events()))
        return Counter({name: count - 1 for name, count in spawned.items()})

    def last_exit(self, name: str) -> str:
        """How ``name`` last ended, as supervisord saw it (e.g. "exit status 1")."""
        found = re.findall(rf"exited: {re.escape(name)} \(([^;)]+)", self._events())
        return found[-1] if found else "no exit seen"

    def session(self) -> int | None:
        """supervisord's process id, which is its session's: every service runs in it."""
        pidfile = self.run / "supervisord.pid"
        return int(pidfile.read_text()) if pidfile.exists() else None

    def shutdown(self, timeout: float = 90) -> list[str]:
        """Stop every program (each one's process group), then supervisord; then kill what
        is left in its session. Returns the killed ones."""
        session = self.session()
        if self.alive():
            self.rpc.shutdown()
            stopped = lambda: not process.pid_alive(session)  # noqa: E731
            process.wait_until(stopped, timeout, "supervisord to stop")
        elif session is None or process.pid_alive(session):
            return []  # a live process with a stale pid file's number is somebody else's
        # With its leader gone, no new process can take the session's number while any of
        # its members lives: all of them are ours.
        return process.sweep_session(session)
