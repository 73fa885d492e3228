"""Hot reload under load, MLflow going away, the database going away, no model at all."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import httpx
from readmission import contract
from readmission_local import services
from readmission_local.process import free_port

from tests.api.conftest import Registered


def test_new_champion_is_swapped_in_under_load_without_a_failed_request(
    start_api, api_env, registered
) -> None:
    with start_api(api_env) as server:
        with server.client() as client:
            before = client.get("/model").json()["version"]
        stop = threading.Event()
        results: list[tuple[int, str | None]] = []

        def client_loop() -> None:
            with server.client() as client:
                while not stop.is_set():
                    try:
                        r = client.post("/predict", json=contract.default_patient())
                        version = r.json()["model"]["version"] if r.status_code == 200 else None
                        results.append((r.status_code, version))
                    except httpx.HTTPError as exc:
                        results.append((0, repr(exc)))

        threads = [threading.Thread(target=client_loop) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        promoted_at = time.monotonic()
        new = registered.register_new_champion()
        swapped_after = None
        while time.monotonic() - promoted_at < 60:
            if results and results[-1][1] == new:
                swapped_after = time.monotonic() - promoted_at
                break
            time.sleep(0.05)
        time.sleep(1.0)  # keep the load on past the swap
        stop.set()
        for t in threads:
            t.join(timeout=30)
    failures = [r for r in results if r[0] != 200]
    versions = {v for _, v in results}
    print(
        f"\nreload under load: {len(results)} requests, {len(failures)} failed, "
        f"new version served {swapped_after:.2f}s after promotion (poll 1s)"
    )
    assert not failures, failures[:5]
    assert swapped_after is not None and swapped_after < 30
    assert {before, new} <= versions


def test_mlflow_down_after_startup_keeps_serving(
    start_api, api_env, supervised, supervisor
) -> None:
    port = free_port()
    table = services.load(supervised | {"MLFLOW_PORT": str(port)}, ("mlflow",))
    own = replace(table[0], name="mlflow-own")  # its own server: this test stops it
    supervisor.start(own)
    try:
        with start_api({**api_env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}) as server:
            supervisor.rpc.stopProcess(own.name)
            time.sleep(3)  # a few failed polls
            with server.client() as client:
                assert client.get("/health/ready").status_code == 200
                answer = client.post("/predict", json=contract.default_patient())
                metrics = client.get("/metrics").text
                history = client.get("/model/versions")
            assert answer.status_code == 200
            assert 'readmission_model_reloads_total{result="unreachable"}' in metrics
            assert history.status_code == 503  # the registry itself is gone: said clearly
    finally:
        if supervisor.info()[own.name]["statename"] == "RUNNING":
            supervisor.rpc.stopProcess(own.name)


def test_database_down_still_serves_and_counts_dropped_log_rows(start_api, api_env) -> None:
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere"
    with start_api({**api_env, "DATA_DB_URL": dead}) as server, server.client() as client:
        for _ in range(5):
            assert client.post("/predict", json=contract.default_patient()).status_code == 200
        deadline = time.monotonic() + 20
        dropped = 0.0
        while time.monotonic() < deadline and dropped < 5:
            for line in client.get("/metrics").text.splitlines():
                if line.startswith("readmission_inference_log_dropped_total "):
                    dropped = float(line.split()[-1])
            time.sleep(0.2)
    assert dropped >= 5


def test_no_champion_yet_is_503_then_the_first_one_serves_within_seconds(
    start_api, api_env, registered
) -> None:
    first = Registered(f"no-model-yet-{uuid.uuid4().hex[:6]}", registered.model_uri)
    # A minute between checks once a model serves; until then the API looks every second.
    env = {**api_env, "MODEL_NAME": first.name, "MODEL_POLL_SECONDS": "60"}
    with start_api(env, wait_ready=False) as server, server.client() as client:
        ready = client.get("/health/ready")
        answer = client.post("/predict", json=contract.default_patient())
        assert client.get("/health/live").status_code == 200
        time.sleep(2)  # a few checks find nothing
        promoted = time.monotonic()
        version = first.register_new_champion()
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() - promoted < 15, "the first champion was not picked up"
            time.sleep(0.1)
        served = client.get("/model").json()["version"]
    assert ready.status_code == 503
    assert answer.status_code == 503
    assert f"{first.name}@champion" in answer.json()["detail"]
    assert served == version
