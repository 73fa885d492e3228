"""Day two of the model lifecycle on the real Postgres, MLflow and S3 of the suite.

Retraining only on new data (a simulated month), idempotent registration, promotion on paired
bootstrap evidence, a champion whose artifact is lost, and two promotions racing.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import boto3
import mlflow
import pytest
from mlflow import MlflowClient
from readmission import cli, stages, train
from readmission_local.services import BUCKET

from tests.conftest import make_settings


def named(champion, prefix: str):
    """The champion's settings (same data, same test split) under a registered name of its own."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return champion.settings.model_copy(update={"MODEL_NAME": name})


def versions(name: str) -> list:
    return MlflowClient().search_model_versions(f"name = '{name}'")


def own_registry(prefix: str, database, mlflow_uri: str, **overrides):
    """Settings with an empty database and a model name and experiment of their own."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return make_settings(
        DATA_DB_URL=database(),
        MLFLOW_TRACKING_URI=mlflow_uri,
        MODEL_NAME=name,
        MLFLOW_EXPERIMENT=name,
        **overrides,
    )


def test_a_simulated_month_trains_once_per_new_batch(database, mlflow_uri) -> None:
    settings = own_registry("month", database, mlflow_uri)
    # Before the first clean batch (a fresh install's first scheduled run): skipped, not failed.
    empty = stages.train(settings)
    assert empty["skipped"] is True and stages.NO_CLEAN_DATA in empty["reason"]
    for _ in range(2):
        stages.ingest(settings)
    stages.clean(settings)
    first = cli.cmd_train(settings)
    assert first["skipped"] is False and first["version"] == "1"
    experiment = mlflow.get_experiment_by_name(settings.MLFLOW_EXPERIMENT).experiment_id
    runs_before = len(mlflow.search_runs([experiment]))

    month = [stages.train(settings) for _day in range(30)]
    assert all(day["skipped"] for day in month)
    assert "nothing new — clean batches 1-2" in month[0]["reason"]
    assert "version 1 (promoted)" in month[-1]["reason"]
    assert len(mlflow.search_runs([experiment])) == runs_before  # no MLflow run at all

    stages.ingest(settings)
    assert stages.clean(settings)["batch_ids"] == [3]
    second = cli.cmd_train(settings)
    assert second["skipped"] is False and second["version"] == "2"
    after = [stages.train(settings) for _day in range(10)]
    assert all(day["skipped"] and "batches 1-3" in day["reason"] for day in after)

    registered = versions(settings.MODEL_NAME)
    assert sorted(v.version for v in registered) == ["1", "2"]
    assert all("promotion.decision" in v.tags for v in registered)


def test_a_changed_training_setting_is_new_lineage(champion) -> None:
    changed = champion.settings.model_copy(update={"TUNING_TRIALS": 2})
    with stages.data_engine(champion.settings) as engine:
        assert stages.skip_reason(engine, champion.settings) is not None
        assert stages.skip_reason(engine, changed) is None


def test_a_retried_promotion_finds_its_version(champion, weak, twin) -> None:
    settings = named(champion, "retry")
    first = stages.promote(settings, weak)
    again = stages.promote(settings, weak)
    assert again["repeated"] is True and again["version"] == first["version"]
    assert len(versions(settings.MODEL_NAME)) == 1
    # A crash after registering but before deciding: the retry decides that same version.
    undecided = mlflow.register_model(twin["model_uri"], settings.MODEL_NAME).version
    decided = stages.promote(settings, twin)
    assert decided["version"] == str(undecided) and decided["repeated"] is False
    assert len(versions(settings.MODEL_NAME)) == 2
    tags = MlflowClient().get_model_version(settings.MODEL_NAME, undecided).tags
    assert tags["promotion.decision"] in ("promoted", "rejected")


def test_a_twin_of_the_champion_is_not_promoted(champion, twin) -> None:
    settings = named(champion, "twin")
    stages.promote(settings, champion.trained)
    decision = stages.promote(settings, twin)
    assert decision["promoted"] is False, decision["reason"]
    assert "does not clear the margin" in decision["reason"]
    assert decision["diff_ci_low"] <= settings.PROMOTION_MARGIN < decision["diff_ci_high"]
    alias = MlflowClient().get_model_version_by_alias(settings.MODEL_NAME, "champion")
    assert alias.version == "1"


def test_a_clearly_better_challenger_is_promoted_with_intervals_on_its_tags(champion, weak) -> None:
    settings = named(champion, "better")
    assert stages.promote(settings, weak)["promoted"] is True
    decision = stages.promote(settings, champion.trained)
    assert decision["promoted"] is True, decision["reason"]
    assert decision["diff_ci_low"] > settings.PROMOTION_MARGIN
    tags = MlflowClient().get_model_version(settings.MODEL_NAME, decision["version"]).tags
    for key in ("ci_low", "ci_high", "diff_ci_low", "diff_ci_high", "champion_ci_low"):
        assert tags[f"promotion.{key}"], key
    assert float(tags["promotion.ci_low"]) < decision["challenger_test_roc_auc"]
    print(
        f"\nclearly better: {decision['challenger_test_roc_auc']:.4f} "
        f"[{decision['roc_auc_ci_low']:.4f}, {decision['roc_auc_ci_high']:.4f}] vs "
        f"{decision['champion_test_roc_auc']:.4f}; difference interval "
        f"[{decision['diff_ci_low']:.4f}, {decision['diff_ci_high']:.4f}]"
    )


def _delete_artifacts(model_uri: str, s3) -> int:
    """Remove a logged model's files from S3, as a lost bucket or a bad cleanup would."""
    model_id = model_uri.removeprefix("models:/")
    location = MlflowClient().get_logged_model(model_id).artifact_location
    # Proxied (mlflow-artifacts:/…) or direct (s3://bucket/…): both map onto the bucket's root.
    prefix = location.removeprefix("mlflow-artifacts:/").removeprefix(f"s3://{BUCKET}/")
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return len(listed)


def test_a_champion_that_cannot_be_loaded_does_not_block_promotion(
    champion, make_candidate, twin, s3
) -> None:
    settings = named(champion, "lost")
    small = {**train.LIGHTGBM_DEFAULT, "n_estimators": 40}
    doomed = make_candidate("doomed", params=small, rows=lambda f: f[f["batch_id"] == 2])
    assert stages.promote(settings, doomed)["promoted"] is True
    assert _delete_artifacts(doomed["model_uri"], s3) > 0
    with pytest.raises(Exception):  # noqa: B017 - whatever the loader raises, it cannot load
        mlflow.sklearn.load_model(f"models:/{settings.MODEL_NAME}/1")

    decision = stages.promote(settings, champion.trained)
    assert decision["promoted"] is True, decision["reason"]
    assert decision["champion_error"].startswith("version 1:")
    assert "decided on the gate alone" in decision["reason"]
    tags = MlflowClient().get_model_version(settings.MODEL_NAME, decision["version"]).tags
    assert tags["promotion.champion_error"] == decision["champion_error"]
    history = MlflowClient().get_metric_history(
        champion.trained["run_id"], "promotion_champion_unloadable"
    )
    assert 1.0 in [m.value for m in history]

    after = stages.promote(settings, twin)  # the next run decides normally again
    assert after["champion_error"] is None and after["champion_version"] == decision["version"]
    assert after["diff_ci_low"] is not None


def test_two_promotions_at_once_decide_one_at_a_time(champion, weak) -> None:
    settings = named(champion, "race")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda t: stages.promote(settings, t), [weak, champion.trained]))
    client = MlflowClient()
    spans = []
    for result in results:
        tags = client.get_model_version(settings.MODEL_NAME, result["version"]).tags
        spans.append(
            (
                datetime.fromisoformat(tags["promotion.started_at"]),
                datetime.fromisoformat(tags["promotion.decided_at"]),
            )
        )
    first, second = sorted(spans)
    assert first[1] <= second[0], f"decisions overlapped: {spans}"
    alias = client.get_model_version_by_alias(settings.MODEL_NAME, "champion")
    assert alias.version == results[1]["version"]  # the better model, whichever went first


def test_a_quick_first_model_is_followed_by_the_full_search(database, mlflow_uri) -> None:
    settings = own_registry("quick", database, mlflow_uri, QUICK_FIRST_MODEL=True, TUNING_TRIALS=2)
    stages.ingest(settings)
    stages.clean(settings)
    first = cli.cmd_train(settings)  # no champion yet: one configuration
    assert first["promoted"] is True and first["tags"]["training.search"] == "quick-first"
    client = MlflowClient()
    assert client.get_model_version(settings.MODEL_NAME, "1").tags["training.search"] == (
        "quick-first"
    )
    trials = mlflow.load_table("tuning/trials.json", run_ids=[first["run_id"]])
    assert len(trials) == 1
    # The same data, the full search: a new fingerprint, so it trains (and is judged as usual).
    second = cli.cmd_train(settings)
    assert second["skipped"] is False and second["tags"]["training.search"] == "full"
    assert len(mlflow.load_table("tuning/trials.json", run_ids=[second["run_id"]])) == 2
    assert stages.train(settings)["skipped"] is True  # and then nothing is new
