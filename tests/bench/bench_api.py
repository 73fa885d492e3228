"""Benchmark: the API's latency and memory on a real model, against a throwaway stack.

Trains a champion on two batches (fast tuning), starts `python -m readmission_api` as the image
does, then measures sequential single-patient requests, one 1,000-patient batch, the model-only
time of the same rows in this process (the baseline), and the server's resident memory.
Last line: a JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
from readmission import contract, model, stages
from readmission.local.process import free_port, http_ok, wait_until
from readmission.local.stack import client_env, throwaway_stack
from readmission.settings import Settings

from tests.api.conftest import patients


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(requests: int = 500) -> None:
    with throwaway_stack("readmission-bench-api-") as stack:
        os.environ.update(client_env(stack))
        settings = Settings(
            DATA_DB_URL=stack.data_db_url,
            MLFLOW_TRACKING_URI=stack.mlflow.uri,
            BATCH_SIZE=50_000,
            TUNING_TRIALS=1,
        )
        for _ in range(2):
            stages.ingest(settings)
        stages.clean(settings)
        trained = stages.train(settings)
        stages.promote(settings, trained)
        port = free_port()
        env = {
            **os.environ,
            **client_env(stack),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATA_DB_URL": stack.data_db_url,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "readmission_api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: http_ok(url + "/health/ready"), 120, "the API")
            idle = rss_mib(server.pid)
            one = contract.default_patient()
            with httpx.Client(base_url=url, timeout=60) as client:
                for _ in range(20):
                    client.post("/predict", json=one)
                latencies = []
                for _ in range(requests):
                    started = time.perf_counter()
                    assert client.post("/predict", json=one).status_code == 200
                    latencies.append((time.perf_counter() - started) * 1000)
                rows = patients(1000)
                started = time.perf_counter()
                assert client.post("/predict/batch", json={"patients": rows}).status_code == 200
                batch_ms = (time.perf_counter() - started) * 1000
            loaded = mlflow.sklearn.load_model(f"models:/{settings.MODEL_NAME}@champion")
            frame = pd.DataFrame([one])
            model.positive_proba(loaded, model.to_model_frame(frame))
            started = time.perf_counter()
            for _ in range(200):
                model.positive_proba(loaded, model.to_model_frame(frame))
            model_only_ms = (time.perf_counter() - started) * 1000 / 200
            busy = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100)
    result = {
        "requests": requests,
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "model_only_ms": round(model_only_ms, 2),
        "p50_over_model_only": round(q[49] / model_only_ms, 2),
        "batch_1000_ms": round(batch_ms, 1),
        "rss_idle_mib": round(idle, 1),
        "rss_after_mib": round(busy, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
