"""Benchmark: our API against `mlflow models serve`, on the same production-like champion.

Trains the champion `make evaluate` trains (every batch, default tuning) in a throwaway stack,
serves it with `python -m readmission_api` (as the image does) and with `mlflow models serve`,
and drives both with the same Locust users and the same real rows: 50 clients without think
time for a fixed time after a warm-up. The floor to beat: the in-process one-row loop of the
logged pipeline's ``predict_proba`` over the same rows. Writes docs/performance.md (with
``--write-docs``). Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import psutil
from readmission import model, stages
from readmission.settings import Settings
from readmission_api import api_keys
from readmission_local.process import free_port, http_ok, wait_until
from readmission_local.stack import client_env, throwaway

from tests.api.conftest import patients
from tests.conftest import REPO

LOCUSTFILE = Path(__file__).with_name("locust_bench.py")
# Authentication on: the bench's own service credential (the API stores its hash at start).
KEY = api_keys.new_key()
AUTH = {"X-API-Key": KEY}


@contextmanager
def serving(command: list[str], env: dict[str, str], health: str, log: Path):
    """Run a server until its health URL answers; yield (url, process); stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [a.replace("{port}", str(port)) for a in command]
    env = {k: v.replace("{port}", str(port)) for k, v in env.items()}
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {log.read_text()[-3000:]}")
        return http_ok(url + health)

    try:
        wait_until(up, 180, argv[2], log)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of the process, or of its largest worker (uvicorn forks for mlflow)."""
    tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return max(p.memory_info().rss for p in tree) / 1e6


def locust(user: str, url: str, payloads: Path, users: int, seconds: int, out: Path) -> dict:
    """One headless Locust run; the aggregated figures of its CSV."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            str(LOCUSTFILE),
            user,
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(out),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "BENCH_PAYLOADS": str(payloads), "API_KEY": KEY},
        check=True,
        capture_output=True,
    )
    with open(f"{out}_stats.csv") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    if int(row["Request Count"]) == 0:  # Locust reports no percentiles ("N/A")
        raise SystemExit(f"{out.name}: no request finished in {seconds}s: give it more time")
    return {
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
    }


def one_client_p50(url: str, path: str, bodies: list) -> float:
    with httpx.Client(base_url=url, timeout=60, headers=AUTH) as client:
        times = []
        for body in bodies:
            started = time.perf_counter()
            client.post(path, json=body).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[20:])


def measure(url: str, pid: int, user: str, path: str, wrap, rows, folder: Path, a) -> dict:
    bodies = [wrap(r) for r in rows[:300]]
    one = one_client_p50(url, path, bodies)
    locust(user, url, folder / "rows.json", a.users, a.warmup, folder / f"{user}-warmup")
    figures = locust(user, url, folder / "rows.json", a.users, a.seconds, folder / user)
    return {**figures, "one_row_ms": round(one, 2), "rss_mb": round(rss_mb(pid), 1)}


def inproc_rps(model_uri: str, rows: list[dict]) -> float:
    """Rows per second of the logged pipeline, one row per ``predict_proba`` call."""
    pipeline = mlflow.sklearn.load_model(model_uri)
    frames = [model.to_model_frame(pd.DataFrame([r])) for r in rows[:200]]
    model.positive_proba(pipeline, frames[0])
    started = time.perf_counter()
    for frame in frames:
        model.positive_proba(pipeline, frame)
    return len(frames) / (time.perf_counter() - started)


def champion(env: dict[str, str]) -> Settings:
    settings = Settings(
        DATA_DB_URL=env["DATA_DB_URL"], MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"]
    )
    while stages.ingest(settings)["loaded"]:
        pass
    stages.clean(settings)
    trained = stages.train(settings)
    assert stages.promote(settings, trained)["promoted"], "the first model must be promoted"
    return settings


def run(a: argparse.Namespace) -> dict:
    with throwaway("readmission-bench-api-") as (found, _), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.update(client_env(found))
        settings = champion(os.environ)
        rows = patients(1000, seed=1)
        (folder / "rows.json").write_text(json.dumps(rows))
        uri = f"models:/{settings.MODEL_NAME}@champion"
        env = dict(os.environ)
        api_cmd = [sys.executable, "-m", "readmission_api"]
        api_env = {
            **env,
            "PORT": "{port}",
            "HOST": "127.0.0.1",
            "SERVICE_KEYS": "bench:predict,read",
            "API_KEY_BENCH": KEY,
            # Every request takes a token from its credential's bucket; the bench's one
            # credential is not capped (the limit is a policy: this measures the cost).
            "RATE_LIMIT_PREDICT": "1000000",
        }
        with serving(api_cmd, api_env, "/health/ready", folder / "api.log") as (url, proc):
            path_info = httpx.get(url + "/model", headers=AUTH).json()
            ours = measure(url, proc.pid, "OurApi", "/predict", lambda r: r, rows, folder, a)
        mlflow_cmd = [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            "{port}",
        ]
        # `mlflow models serve` execs `uvicorn`: it must be on PATH.
        bin_path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        with serving(mlflow_cmd, {**env, "PATH": bin_path}, "/ping", folder / "mlflow.log") as (
            url,
            proc,
        ):
            wrap = lambda r: {"dataframe_records": [r]}  # noqa: E731
            theirs = measure(url, proc.pid, "MlflowServe", "/invocations", wrap, rows, folder, a)
        floor = inproc_rps(uri, rows)
    return {
        "api_rps": ours["rps"],
        "mlflow_serve_rps": theirs["rps"],
        "ratio_vs_mlflow": round(ours["rps"] / theirs["rps"], 2),
        "inproc_1row_rps": round(floor, 1),
        "ratio_vs_inproc": round(ours["rps"] / floor, 2),
        "p50_ms": ours["p50_ms"],
        "p95_ms": ours["p95_ms"],
        "p99_ms": ours["p99_ms"],
        "rss_mb": ours["rss_mb"],
        "one_row_ms": ours["one_row_ms"],
        "failures": ours["failures"] + theirs["failures"],
        "mlflow": theirs,
        "users": a.users,
        "seconds": a.seconds,
        "serving_path": path_info["serving_path"],
        "model": f"{path_info['family']} version {path_info['version']}",
    }


def performance_md(result: dict, command: str) -> str:
    """docs/performance.md: the before/after table, with machine, date and command."""
    m = result["mlflow"]
    cpu = platform.processor() or platform.machine()
    return f"""# Serving performance

Regenerated by `{command}` on {datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores, {cpu},
Python {platform.python_version()}). Champion: {result["model"]} as `make evaluate` trains it
(every batch, default tuning), served by the **{result["serving_path"]}** path. Both servers get
the same real rows from the same Locust users, {result["users"]} clients without think time for
{result["seconds"]} s after a warm-up; one process each, load generator on the same machine.
Authentication on: every request to the project's API carries an API key (its hash looked up,
the lookup reused for 0.5 s) and takes a token of its credential's rate limit (set above the
load here: the limit is a policy, the bench measures the cost).

| | the project's API | `mlflow models serve`, same model |
|---|---|---|
| 1 client, p50 | {result["one_row_ms"]} ms | {m["one_row_ms"]} ms |
| {result["users"]} clients, requests/s | {result["api_rps"]:.1f} | {m["rps"]:.1f} |
| {result["users"]} clients, p50 / p99 | {result["p50_ms"]:.0f} ms / {result["p99_ms"]:.0f} ms | \
{m["p50_ms"]:.0f} ms / {m["p99_ms"]:.0f} ms |
| resident memory | {result["rss_mb"]:.0f} MB | {m["rss_mb"]:.0f} MB (worker) |

- ratio to `mlflow models serve`: **{result["ratio_vs_mlflow"]}x** the requests per second
- the in-process floor (the logged pipeline's `predict_proba`, one row per call, same rows):
  {result["inproc_1row_rps"]} rows/s; the API over HTTP does **{result["ratio_vs_inproc"]}x** that
- failed requests: {result["failures"]}

Before this work (issue 11's measurement, same machine, the API scoring through the
scikit-learn pipeline for every request): 1 client p50 56 ms, 50 clients 14.4 requests/s with
p50 / p99 3.3 s / 4.9 s, 405 MB — against 48.5 ms, 16.2 requests/s, 3.1 s / 3.4 s and 327 MB for
`mlflow models serve`.

How: the compiled path (`readmission/compiled.py`) encodes a patient with one lookup per column
and calls the booster directly; `/predict` requests arriving together are scored in one call
(`readmission_api/batching.py`); the inference log writes with `COPY`. Memory: the server never
imports `mlflow` (the registry over its REST API, `readmission_api/registry.py`) and loads and
compiles a model in a short-lived child process (`readmission_api/loading.py`), so skops' 144 MB
of JSON and the compile never stay in it; of what remains, 241 MB is the imports (pandas with
pyarrow 97 MB, scipy + scikit-learn 90 MB). Capacity of the local system: see `make load-test`
below.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true", help="rewrite docs/performance.md")
    a = parser.parse_args()
    result = run(a)
    if a.write_docs:
        docs = REPO / "docs" / "performance.md"
        text = performance_md(result, "make bench-api")
        marker = "\n## Capacity"
        old = docs.read_text() if docs.exists() else ""
        docs.write_text(text + (old[old.index(marker) :] if marker in old else ""))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
