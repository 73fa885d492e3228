"""Prometheus for one machine: the chart's alert rules and the same job names as the chart's
ServiceMonitors (the alerts and dashboards match jobs by ``.*inference-api.*``, ``.*mlflow.*``).

One source for both: the rules are read from the chart's own file, not copied.
"""

from __future__ import annotations

import json
from pathlib import Path

from readmission.settings import REPO_ROOT

ALERTS = REPO_ROOT / "charts" / "mlops-platform" / "files" / "alerts.yaml"


def config(targets: dict[str, str], interval: str = "15s") -> dict:
    """Scrape ``job → host:port`` every ``interval``; evaluate the chart's alert rules."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [address]}]}
            for job, address in targets.items()
        ],
    }


def command(binary: str, folder: Path, port: int, cfg: dict) -> list[str]:
    """Write ``cfg`` under ``folder`` and return the command that serves it on ``port``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return [
        binary,
        f"--config.file={path}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
