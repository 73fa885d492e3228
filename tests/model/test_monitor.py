"""Offline drift (diabetes_monitor's stage) on the real inference-log table, MLflow and champion:
a shifted log asks for one retrain, a test-split log asks for none, too few rows cannot judge,
and the training run answers the request."""

from __future__ import annotations

import mlflow
import pytest
from readmission import db, drift, model_card, monitor, stages

from tests.conftest import sql
from tests.model.conftest import clean_frame, log_predictions


@pytest.fixture(scope="module")
def served(champion):
    """The champion's version, pipeline and test split."""
    version = mlflow.MlflowClient().get_model_version_by_alias(
        champion.settings.MODEL_NAME, "champion"
    )
    pipeline = mlflow.sklearn.load_model(champion.trained["model_uri"])
    test = clean_frame(champion.settings).query("split == 'test'")
    return str(version.version), pipeline, test


def test_a_shifted_log_asks_for_one_retrain_and_training_answers_it(
    champion, served, database
) -> None:
    version, pipeline, test = served
    # The champion's experiment active, as right after its training (other tests move it).
    mlflow.set_experiment(champion.settings.MLFLOW_EXPERIMENT)
    settings = champion.settings.model_copy(update={"DATA_DB_URL": database()})
    shifted = test.sample(800, random_state=1).assign(age="[90-100)")
    log_predictions(settings.DATA_DB_URL, version, pipeline, shifted)
    result = stages.monitor(settings)
    print("\n", result["reason"])
    assert result["retrain"] is True and result["rows"] == 800
    assert result["psi"]["age"] > drift.SHIFTED and result["reason"].startswith("drift: age")
    assert sql(settings.DATA_DB_URL, "SELECT count(*) FROM serving.retrain_requests") == 1
    reported = sql(
        settings.DATA_DB_URL, "SELECT count(DISTINCT feature) FROM serving.drift_reports"
    )
    assert reported == len(result["psi"])
    # The check is an MLflow run with the HTML report.
    runs = mlflow.search_runs(
        experiment_names=[f"{settings.MLFLOW_EXPERIMENT}-monitoring"],
        filter_string=f"tags.model_version = '{version}' and tags.retrain = 'true'",
    )
    assert len(runs) >= 1 and runs["metrics.psi.age"].iloc[0] > drift.SHIFTED
    html = mlflow.artifacts.load_text(f"runs:/{runs['run_id'].iloc[0]}/{monitor.REPORT_PATH}")
    assert "<table" in html and "age" in html
    # ... logged without moving the process's active experiment (load_table searches it).
    table = mlflow.load_table(model_card.SUBGROUPS_PATH, run_ids=[champion.trained["run_id"]])
    assert len(table) > 0
    # The request waits for a training run, which answers it once.
    engine = db.make_engine(settings.DATA_DB_URL)
    assert monitor.pending(engine) == result["reason"]
    assert monitor.answer(engine, "trained: run x")["outcome"] == "trained: run x"
    assert monitor.pending(engine) is None and monitor.answer(engine, "again") is None
    engine.dispose()


def test_a_test_split_log_is_stable_and_too_few_rows_cannot_judge(champion, served, database):
    version, pipeline, test = served
    settings = champion.settings.model_copy(update={"DATA_DB_URL": database()})
    log_predictions(settings.DATA_DB_URL, version, pipeline, test.sample(100, random_state=2))
    few = stages.monitor(settings)
    assert few["retrain"] is False and few["reason"].startswith("too few rows")
    log_predictions(settings.DATA_DB_URL, version, pipeline, test.sample(2000, random_state=3))
    stable = stages.monitor(settings)
    print("\n", stable["reason"])
    assert stable["retrain"] is False and max(stable["psi"].values()) < drift.STABLE
    assert sql(settings.DATA_DB_URL, "SELECT count(*) FROM serving.retrain_requests") == 0


def test_the_monitor_deletes_logged_predictions_past_their_retention(champion, served, database):
    version, pipeline, test = served
    settings = champion.settings.model_copy(
        update={"DATA_DB_URL": database(), "INFERENCE_LOG_RETENTION_DAYS": 30}
    )
    log_predictions(settings.DATA_DB_URL, version, pipeline, test.sample(50, random_state=4))
    sql(
        settings.DATA_DB_URL,
        "UPDATE serving.predictions SET created_at = now() - interval '31 days' WHERE id <= 20",
        "UPDATE serving.predictions SET created_at = now() - interval '29 days' "
        "WHERE id BETWEEN 21 AND 30",
    )
    result = stages.monitor(settings)
    assert result["purged"] == 20 and result["retention"].startswith("20 logged predictions")
    assert sql(settings.DATA_DB_URL, "SELECT count(*) FROM serving.predictions") == 30
    assert sql(settings.DATA_DB_URL, "SELECT min(id) FROM serving.predictions") == 21
    assert stages.monitor(settings)["purged"] == 0  # nothing older is left
