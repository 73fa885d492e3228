"""The four DAGs run end to end with ``dag.test()`` on real Postgres and MLflow."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from readmission import metrics, stages

from tests.conftest import make_settings, sql
from tests.model.conftest import clean_frame, log_predictions


@pytest.fixture
def statsd() -> Iterator[socket.socket]:
    """A UDP socket where Airflow's statsd client sends its packets."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def statsd_env(sock: socket.socket) -> dict[str, str]:
    """Airflow's statsd client, sending to ``sock``."""
    return {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(sock.getsockname()[1]),
    }


def received(sock: socket.socket) -> str:
    packets = []
    try:
        while True:
            packets.append(sock.recv(65536).decode())
    except TimeoutError:
        return "\n".join(packets)


def test_ingest_clean_train_end_to_end(run_dag, database, mlflow_uri, statsd) -> None:
    url = database()
    env = {
        "DATA_DB_URL": url,
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MODEL_NAME": f"dag-test-{uuid.uuid4().hex[:6]}",
        "MLFLOW_EXPERIMENT": "dag-tests",
        "TUNING_TRIALS": "1",
        "FEATURE_SETS": "base",
        **statsd_env(statsd),
    }
    for _ in range(2):
        ingested = run_dag("diabetes_ingest", env)
        assert (ingested["state"], ingested["tasks"]) == ("success", {"ingest_batch": "success"})
    cleaned = run_dag("diabetes_clean", env)
    assert cleaned["state"] == "success"
    assert cleaned["tasks"] == {"clean_batches": "success", "check_quarantine": "success"}
    # Nothing new: the clean task skips, so no Asset event would wake the trainer.
    assert run_dag("diabetes_clean", env)["tasks"]["clean_batches"] == "skipped"
    trained = run_dag("diabetes_train", env)
    both = {"train_candidates": "success", "promote_best": "success"}
    assert (trained["state"], trained["tasks"]) == ("success", both)
    assert sql(url, "SELECT count(*) FROM raw_data.batches") == 2
    assert sql(url, "SELECT count(*) FROM clean_data.batches") == 2
    client = MlflowClient(mlflow_uri)
    version = client.get_model_version_by_alias(env["MODEL_NAME"], "champion")
    assert version.tags["promotion.decision"] == "promoted"
    assert f"{metrics.PROMOTIONS}:1|c" in received(statsd)

    # The daily run on unchanged data: skipped, no version, and the counter says so.
    again = run_dag("diabetes_train", env)
    assert again["state"] == "success"
    assert again["tasks"] == {"train_candidates": "skipped", "promote_best": "skipped"}
    assert len(client.search_model_versions(f"name = '{env['MODEL_NAME']}'")) == 1
    assert f"{metrics.TRAIN_SKIPPED}:1|c" in received(statsd)


def test_a_quarantined_batch_fails_the_clean_dag_once_without_retry(run_dag, database) -> None:
    url = database()
    settings = make_settings(DATA_DB_URL=url, BATCH_SIZE=3_000)
    for _ in range(3):
        stages.ingest(settings)
    sql(
        url,
        "UPDATE raw_data.diabetes_raw SET gender = 'X' WHERE encounter_id = "
        "(SELECT min(encounter_id) FROM raw_data.diabetes_raw WHERE batch_id = 2)",
    )
    env = {"DATA_DB_URL": url, "BATCH_SIZE": "3000", "TASK_RETRIES": "3"}
    result = run_dag("diabetes_clean", env)
    assert result["state"] == "failed"
    assert result["tasks"] == {"clean_batches": "success", "check_quarantine": "failed"}
    assert result["tries"]["check_quarantine"] == 1  # AirflowFailException: no retry
    progress = stages.progress(settings)
    assert progress["batches"] == {"loaded": 0, "cleaned": 2, "quarantined": 1}
    assert progress["quarantined"][0]["batch_id"] == 2
    assert "column 'gender'" in progress["quarantined"][0]["problems"][0]


def drift_events(postgres) -> list[dict]:
    """The diabetes_drift Asset events in Airflow's metadata database."""
    rows = sql(
        postgres.url("airflow"),
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'diabetes_drift' ORDER BY e.id",
        fetch="all",
    )
    return [r[0] for r in rows]


def test_drift_closes_the_loop(run_dag, database, mlflow_uri, postgres, statsd) -> None:
    url = database()
    env = {
        "DATA_DB_URL": url,
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MODEL_NAME": f"loop-test-{uuid.uuid4().hex[:6]}",
        "MLFLOW_EXPERIMENT": "dag-tests",
        "TUNING_TRIALS": "1",
        "FEATURE_SETS": "base",
        "TRAIN_ON_NEW_DATA": "false",
        "DRIFT_MIN_ROWS": "300",
        **statsd_env(statsd),
    }
    settings = make_settings(**{k: v for k, v in env.items() if not k.startswith("AIRFLOW__")})
    # A champion trained on the first two batches; a third is ingested and cleaned after it.
    for _ in range(2):
        stages.ingest(settings)
    stages.clean(settings)
    assert stages.promote(settings, stages.train(settings))["promoted"]
    stages.ingest(settings)
    stages.clean(settings)
    client = MlflowClient(mlflow_uri)

    def serve(rows: pd.DataFrame) -> str:
        """Log ``rows`` as served by the current champion; returns its version."""
        champion = client.get_model_version_by_alias(env["MODEL_NAME"], "champion")
        pipeline = mlflow.sklearn.load_model(f"models:/{env['MODEL_NAME']}/{champion.version}")
        log_predictions(url, str(champion.version), pipeline, rows)
        return str(champion.version)

    test = clean_frame(settings).query("split == 'test'")
    events = len(drift_events(postgres))
    # Patients like the training ones: no request, no event.
    serve(test.sample(600, random_state=0))
    assert run_dag("diabetes_monitor", env)["tasks"] == {"request_retrain": "skipped"}
    assert len(drift_events(postgres)) == events
    # Shifted patients: exactly one request, one event with the reason.
    first = serve(test.sample(600, random_state=1).assign(age="[90-100)"))
    assert run_dag("diabetes_monitor", env)["tasks"] == {"request_retrain": "success"}
    new_events = drift_events(postgres)[events:]
    assert len(new_events) == 1 and new_events[0]["reason"].startswith("drift: age")
    # The training run it wakes trains on every clean batch and records drift as its reason.
    trained = run_dag("diabetes_train", env)
    assert trained["tasks"]["train_candidates"] == "success", trained
    versions = client.search_model_versions(f"name = '{env['MODEL_NAME']}'")
    newest = max(versions, key=lambda v: int(v.version))
    assert newest.version != first and newest.tags["trigger.reason"].startswith("drift: age")
    run = client.get_run(newest.run_id)
    assert run.data.tags["data.batch_ids"] == "1,2,3"
    answered = sql(url, "SELECT outcome FROM serving.retrain_requests ORDER BY id", fetch="all")
    assert len(answered) == 1 and answered[0][0].startswith("trained: run ")
    # Drift again, no labelled data since: the run is skipped and says why.
    serve(test.sample(600, random_state=2).assign(age="[90-100)"))
    assert run_dag("diabetes_monitor", env)["tasks"] == {"request_retrain": "success"}
    again = run_dag("diabetes_train", env)
    assert again["tasks"] == {"train_candidates": "skipped", "promote_best": "skipped"}
    outcome = sql(url, "SELECT outcome FROM serving.retrain_requests ORDER BY id DESC LIMIT 1")
    assert outcome.startswith("drift reported, no new labelled data")
    assert f"{metrics.DRIFT_NO_NEW_DATA}:1|c" in received(statsd)
    assert len(client.search_model_versions(f"name = '{env['MODEL_NAME']}'")) == len(versions)
