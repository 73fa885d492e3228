"""Every dashboard panel shows data: a real Prometheus (Debian's) scrapes a real API serving a real
model while traffic flows, and each query of the "Inference API" and "Model and data drift"
dashboards, with the dashboard's variables substituted, returns at least one series. The
"Pipeline" dashboard reads Airflow's statsd exporter, which does not run here: its queries go
through promtool's parser instead. The test prints which panel was checked which way."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from readmission_local import services
from readmission_local.process import free_port
from readmission_local.services import credentials
from readmission_local.supervisor import Supervisor

from tests.api.conftest import patients
from tests.chart.conftest import UMBRELLA

DASHBOARDS = UMBRELLA / "files" / "dashboards"
LIVE = ("inference-api.json", "drift.json")
PARSED = ("pipeline.json",)  # Airflow's statsd exporter: not here
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="Debian's prometheus is not installed (.ci/run installs it)"
)


def panel_queries(name: str) -> list[tuple[str, str]]:
    """(panel title, query) for every target, the dashboard's variables substituted."""
    board = json.loads((DASHBOARDS / name).read_text())
    values = {
        v["name"]: v.get("current", {}).get("value", v.get("query", ""))
        for v in board["templating"]["list"]
    }
    values |= {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

    def substitute(expr: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: str(values[m[1]]), expr)

    return [
        (panel["title"], substitute(target["expr"]))
        for panel in board["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


@pytest.fixture(scope="module")
def api_under_watch(start_api, api_env, tmp_path_factory):
    """An API (drift reported from 50 rows) and a Prometheus scraping it every second."""
    env = {**api_env, "DRIFT_MIN_ROWS": "50"}
    with start_api(env) as api:
        home, port = tmp_path_factory.mktemp("prometheus"), free_port()
        watched = {"API_PORT": api.url.rsplit(":", 1)[1], "PROMETHEUS_PORT": str(port)}
        found = services.values(home, {**credentials(home), **watched, "SCRAPE_INTERVAL": "1s"})
        supervisor = Supervisor(home)  # the service as `make up` runs it, from the same table
        try:
            supervisor.start(services.load(found, ("prometheus",))[0])
            yield api, f"http://127.0.0.1:{port}"
        finally:
            supervisor.shutdown()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _traffic(api, seconds: float) -> None:
    rows = patients(400, seed=11)
    deadline = time.monotonic() + seconds
    with api.client() as client:
        while time.monotonic() < deadline:
            client.post("/predict/batch", json={"patients": rows[:100]}).raise_for_status()
            for row in rows[100:130]:
                client.post("/predict", json=row).raise_for_status()
            client.get("/model").raise_for_status()
            rows = rows[130:] + rows[:130]


def test_every_panel_query_returns_series_from_a_real_prometheus(api_under_watch) -> None:
    api, url = api_under_watch
    _traffic(api, 12)
    time.sleep(3)  # a few more scrapes after the last request
    report, empty = [], []
    with httpx.Client(base_url=url, timeout=10) as client:
        for name in LIVE:
            for title, query in panel_queries(name):
                answer = client.get("/api/v1/query", params={"query": query}).json()
                assert answer["status"] == "success", (title, query, answer)
                count = len(answer["data"]["result"])
                report.append(f"{name}: {title!r}: {count} series (Prometheus)")
                if count == 0:
                    empty.append((name, title, query))
    print("\n" + "\n".join(report))
    assert empty == [], "panels without data"


def test_panels_of_sources_not_running_here_parse(tmp_path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus"
    checked = [(n, t, q) for n in PARSED for t, q in panel_queries(n)]
    rules = {"groups": [{"name": "panels", "rules": [
        {"record": f"panel:{i}", "expr": q} for i, (_, _, q) in enumerate(checked)
    ]}]}  # fmt: skip
    path = Path(tmp_path / "panels.yaml")
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    print("\n" + "\n".join(f"{n}: {t!r}: parsed (promtool)" for n, t, _ in checked))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(checked)} rules found" in done.stdout
