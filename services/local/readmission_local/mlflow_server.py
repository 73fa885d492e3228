"""The MLflow tracking server: Postgres backend, artifacts proxied to S3 (``--serve-artifacts``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from readmission_local import process


class LocalMlflow:
    """``mlflow server`` on 127.0.0.1:``port``; clients need no S3 credentials (proxied)."""

    def __init__(
        self,
        root: Path,
        port: int,
        backend_uri: str,
        artifacts: str,
        s3_endpoint: str | None,
        access_key: str | None,
        secret_key: str | None,
        workers: int = 2,
    ):
        self.root, self.port, self.backend_uri, self.artifacts = (
            Path(root),
            port,
            backend_uri,
            artifacts,
        )
        self.s3 = (s3_endpoint, access_key, secret_key)
        self.workers, self.log, self.proc = workers, Path(root) / "mlflow.log", None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> LocalMlflow:
        """Start and return once ``/health`` answers."""
        if process.port_open(self.port):
            raise process.ServiceError(f"port {self.port} is already in use (MLflow)")
        bindir = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
        endpoint, key, secret = self.s3
        if endpoint:
            env.update(
                MLFLOW_S3_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID=key or "",
                AWS_SECRET_ACCESS_KEY=secret or "",
                AWS_DEFAULT_REGION="us-east-1",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = process.start(
            [
                Path(bindir) / "mlflow",
                "server",
                "--backend-store-uri",
                self.backend_uri,
                "--artifacts-destination",
                self.artifacts,
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                # Same flags as the chart: /metrics for Prometheus.
                "--expose-prometheus",
                self.root / "metrics",
                "--allowed-hosts",
                f"127.0.0.1:{self.port},localhost:{self.port}",
            ],
            self.log,
            env=env,
            cwd=self.root,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise process.ServiceError(
                    f"MLflow exited ({self.proc.returncode}); see {self.log}"
                )
            return process.http_ok(self.uri + "/health")

        process.wait_until(ready, timeout, "MLflow server", self.log)
        return self

    def stop(self) -> None:
        process.stop(self.proc)
