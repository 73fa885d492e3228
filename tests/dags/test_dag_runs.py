"""The three DAGs run end to end with ``dag.test()`` on real Postgres and MLflow."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from mlflow import MlflowClient
from readmission import db


def test_ingest_clean_train_end_to_end(run_dag, database, mlflow_server) -> None:
    url = database()
    env = {
        "DATA_DB_URL": url,
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "MODEL_NAME": f"dag-test-{uuid.uuid4().hex[:6]}",
        "MLFLOW_EXPERIMENT": "dag-tests",
        "BATCH_SIZE": "50000",
        "TUNING_TRIALS": "1",
    }
    for _ in range(2):
        assert run_dag("diabetes_ingest", env) == {
            "state": "success",
            "tasks": {"ingest_batch": "success"},
        }
    assert run_dag("diabetes_clean", env) == {
        "state": "success",
        "tasks": {"clean_batches": "success"},
    }
    # Nothing new: the clean task skips, so no Asset event would wake the trainer.
    assert run_dag("diabetes_clean", env)["tasks"] == {"clean_batches": "skipped"}
    trained = run_dag("diabetes_train", env)
    both = {"train_candidates": "success", "promote_best": "success"}
    assert trained == {"state": "success", "tasks": both}
    engine = db.make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM raw_data.batches")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM clean_data.batches")).scalar() == 2
    engine.dispose()
    client = MlflowClient(mlflow_server.uri)
    version = client.get_model_version_by_alias(env["MODEL_NAME"], "champion")
    assert version.tags["promotion.decision"] == "promoted"
