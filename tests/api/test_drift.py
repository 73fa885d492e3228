"""Online drift on the real API and model: test-split patients are stable, a shifted population
(every patient aged 90-100 and admitted as an emergency) is not, and the offline figures of the
same logged rows equal the online ones."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import mlflow
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from readmission import db, drift, monitor

from tests.model.conftest import clean_frame, request_rows

ROWS = 2_000  # enough that sampling noise stays far below 0.1 for a 40-bin feature


def psi_by_feature(text: str) -> dict[str, float]:
    return {
        s.labels["feature"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "readmission_feature_psi"
        for s in family.samples
    }


@pytest.fixture(scope="module")
def server(start_api, api_env):
    env = {**api_env, "DRIFT_WINDOW_ROWS": str(ROWS), "DRIFT_MIN_ROWS": str(ROWS)}
    with start_api(env) as server:
        yield server


def wait_for_log(url: str, version: str, since: datetime, rows: int) -> pd.DataFrame:
    """The rows the API logged for ``version`` since ``since``, once all ``rows`` are written."""
    engine = db.make_engine(url)
    deadline = time.monotonic() + 30
    while len(logged := monitor.logged_rows(engine, version, since)) < rows:
        assert time.monotonic() < deadline, f"{len(logged)} of {rows} rows logged"
        time.sleep(0.5)
    engine.dispose()
    return logged


def send(server, rows: list[dict]) -> dict[str, float]:
    with server.client() as client:
        for start in range(0, len(rows), 500):
            answer = client.post("/predict/batch", json={"patients": rows[start : start + 500]})
            assert answer.status_code == 200, answer.text
        return psi_by_feature(client.get("/metrics").text)


def test_psi_stays_low_for_the_test_split_and_rises_for_a_shifted_population(
    server, champion, api_env
) -> None:
    test = clean_frame(champion.settings).query("split == 'test'").sample(ROWS, random_state=0)
    started = datetime.now(UTC)
    stable = send(server, request_rows(test))
    print("\ntest split:", {f: round(v, 4) for f, v in stable.items()})
    # the top features by importance, the watched ones and the probability
    assert set(stable) >= {*drift.WATCHED, drift.PROBABILITY} and len(stable) >= drift.TOP + 1
    assert max(stable.values()) < drift.STABLE, stable

    # Offline (diabetes_monitor's reading of the inference log) agrees with online: the same
    # rows in the same bins, so the same figures up to float rounding (stated: 1e-9).
    with server.client() as client:
        served = client.get("/model").json()  # other tests may have moved the alias
    logged = wait_for_log(api_env["DATA_DB_URL"], served["version"], started, ROWS)
    reference = mlflow.artifacts.load_text(f"runs:/{served['run_id']}/{drift.REFERENCE_PATH}")
    offline = drift.report(drift.load(reference), logged)
    for feature, value in zip(offline["feature"], offline["psi"], strict=True):
        assert abs(value - stable[feature]) < 1e-9, (feature, value, stable[feature])

    shifted = test.assign(age="[90-100)", admission_type_id=1)
    moved = send(server, request_rows(shifted))
    print("shifted:", {f: round(v, 4) for f, v in moved.items()})
    assert moved["age"] > drift.SHIFTED and moved["admission_type_id"] > drift.SHIFTED
    untouched = {f: v for f, v in moved.items() if f not in ("age", "admission_type_id")}
    untouched.pop(drift.PROBABILITY)  # the model's answer moves with its inputs
    assert max(untouched.values()) < drift.STABLE, untouched
