"""supervisord for the local services: config generated from the table, one daemon per folder,
driven over its UNIX socket. It runs each service through ``readmission_local.launch``."""

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


def _escape(value) -> str:
    """A config value as supervisord reads it (it expands %(name)s; booleans in lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value).replace("%", "%%")


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
        """Write ``service``'s files and program, then start supervisord or reload its config."""
        self._write(service)
        if not self.alive():
            return self._launch()
        added, changed, _ = self.rpc.reloadConfig()[0]
        for name in changed:
            self.rpc.stopProcessGroup(name)
            self.rpc.removeProcessGroup(name)
        for name in added + changed:
            self.rpc.addProcessGroup(name)

    def _write(self, service: Service) -> None:
        """Its config files, its launch spec and its program, all private (credentials)."""
        user = process.server_user() if service.unprivileged else None
        spec = self.run / f"{service.name}.json"
        launch = {"argv": service.command, "env": service.env, "nice": service.nice}
        command = [sys.executable, "-m", "readmission_local.launch", str(spec)]
        options = {"command": shlex.join(command), "priority": service.priority}
        options |= service.supervisord | {"stdout_logfile": self.log(service.name)}
        program = f"[program:{service.name}]\n" + "".join(
            f"{key} = {_escape(value)}\n" for key, value in options.items()
        )
        for path, text in {
            **service.files,
            spec: json.dumps(launch | {"user": user and user.pw_name}),
            self.run / "programs" / f"{service.name}.conf": program,
        }.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(text)
        self.logs.mkdir(exist_ok=True)

    def _launch(self) -> None:
        if len(str(self.sock)) > 100:
            raise ServiceError(f"{self.root} is too deep for a UNIX socket: use a shorter path")
        conf, out = self.run / "supervisord.conf", self.logs / "supervisord.out"
        paths = {"sock": self.sock, "logs": self.logs, "run": self.run, "root": self.root}
        conf.write_text(DAEMON.format(**{k: _escape(v) for k, v in paths.items()}))
        with open(out, "ab") as sink:  # it daemonizes: a pipe would be held open
            argv = [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)]
            if subprocess.run(argv, stdout=sink, stderr=sink).returncode != 0:
                raise ServiceError(f"supervisord did not start: see {out}")
        process.wait_until(self.alive, 30, f"supervisord (see {out})")

    def start(self, service: Service, tick=lambda seconds: None) -> float:
        """Start ``service`` (added first) and wait for its health check; the seconds it took.
        Raises, with its log's last lines, once supervisord gives up on it or it times out."""
        started, since, log = time.monotonic(), time.time(), self.log(service.name)
        self.add(service)
        try:
            self.rpc.startProcess(service.name, False)
        except xmlrpc.client.Fault as fault:  # ALREADY_STARTED: coming back by itself
            if "ALREADY_STARTED" not in fault.faultString:
                raise ServiceError(f"supervisord: {service.name}: {fault.faultString}") from None
        while (waited := time.monotonic() - started) < service.timeout:
            state = self.rpc.getProcessInfo(service.name)
            if state["statename"] == "FATAL":
                why = re.findall(rf"exited: {re.escape(service.name)} \(([^;)]+)", self.events())
                retries = service.supervisord["startretries"]
                raise ServiceError(
                    f"{service.name} exits as soon as it starts: supervisord gave up after "
                    f"{retries} retries ({why[-1] if why else 'no exit seen'}){process.tail(log)}"
                )
            if state["statename"] in ("STARTING", "RUNNING") and service.ready(since):
                return waited
            tick(waited)
            time.sleep(0.5)
        raise ServiceError(
            f"{service.name} did not pass its health check ({service.check}) within "
            f"{service.timeout}s{process.tail(log)}"
        )

    def events(self) -> str:
        """supervisord's own log since it last started."""
        path = self.logs / "supervisord.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text.rsplit("supervisord started with pid", 1)[-1]

    def restarts(self) -> Counter:
        """Starts of each program since supervisord started, minus the first one."""
        spawned = Counter(re.findall(r"spawned: '([^']+)'", self.events()))
        return Counter({name: count - 1 for name, count in spawned.items()})

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
            process.wait_until(lambda: not process.pid_alive(session), timeout, "supervisord stop")
        elif session is None or process.pid_alive(session):
            return []  # a live process with a stale pid file's number is somebody else's
        # With its leader gone, no new process can take the session's number while any of
        # its members lives: all of them are ours.
        return process.sweep_session(session)
