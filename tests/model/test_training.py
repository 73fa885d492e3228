"""Training and promotion on the real data through a real MLflow server."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from readmission import contract, model_card, profile, stages, train
from readmission.settings import DEFAULT_SOURCE


def raw_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows as a client sends them: the CSV's text, '?' as missing, integers as integers."""
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False, nrows=5_000)
    frame = frame.sample(n, random_state=seed).replace({contract.MISSING: None})
    for name in (*contract.NUMERIC_FEATURES, *contract.CODE_FEATURES):
        frame[name] = frame[name].astype(int)
    return frame[list(contract.FEATURE_NAMES)].reset_index(drop=True)


def test_first_model_becomes_champion_and_beats_the_baselines(champion) -> None:
    assert champion.decision["promoted"] is True
    assert "no champion yet" in champion.decision["reason"]
    client = MlflowClient()
    version = client.get_model_version_by_alias(champion.settings.MODEL_NAME, "champion")
    assert version.version == champion.decision["version"]
    assert version.tags["promotion.decision"] == "promoted"
    low, high = float(version.tags["promotion.ci_low"]), float(version.tags["promotion.ci_high"])
    assert low < float(version.tags["promotion.challenger_test_roc_auc"]) < high
    test = champion.trained["test"]
    assert test["roc_auc"] > 0.65
    assert test["brier"] < test["brier_baseline"]
    assert 0 < test["threshold"] < 0.5


def test_calibration_does_not_worsen_brier_and_is_reported(champion) -> None:
    test = champion.trained["test"]
    assert champion.trained["calibration"] in ("sigmoid", "isotonic")
    assert test["brier"] <= test["brier_uncalibrated"]
    assert 0.8 < test["calibration_slope"] < 1.25
    run = MlflowClient().get_run(champion.trained["run_id"])
    assert run.data.metrics["test_brier_uncalibrated"] == pytest.approx(test["brier_uncalibrated"])
    assert "test_calibration_intercept" in run.data.metrics
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "calibration")}
    assert "calibration/curve.png" in artifacts
    png = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/calibration/curve.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_model_has_a_model_card_and_subgroup_metrics(champion) -> None:
    run_id = champion.trained["run_id"]
    card = mlflow.artifacts.load_text(f"runs:/{run_id}/{model_card.CARD_PATH}")
    assert "## Intended use" in card and "## Subgroups" in card
    assert champion.trained["tags"]["lineage.fingerprint"] in card
    mlflow.set_experiment(champion.settings.MLFLOW_EXPERIMENT)  # load_table searches it
    table = mlflow.load_table(model_card.SUBGROUPS_PATH, run_ids=[run_id])
    assert {"race", "gender", "age_group"} == set(table["attribute"])
    caucasian = table[(table["attribute"] == "race") & (table["group"] == "Caucasian")]
    assert 0.6 < caucasian["roc_auc"].iloc[0] < 0.8 and caucasian["n"].iloc[0] > 5_000


def test_each_training_run_logs_a_data_profile_of_its_training_split(champion) -> None:
    run = MlflowClient().get_run(champion.trained["run_id"])
    page = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{profile.PROFILE_PATH}")
    assert page.lstrip().lower().startswith("<!doctype html>")
    checked = HtmlCheck()
    checked.feed(page)
    checked.close()
    assert checked.open == [], checked.open  # every element it opens is closed
    with stages.data_engine(champion.settings) as engine:
        columns = profile.training_split(train.load_dataset(engine, champion.settings).frame)
    missing = [c for c in columns.columns if c not in page]
    assert not missing, missing  # it names every column of the training split
    parent = MlflowClient().get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.metrics["profile_seconds"] > 0


class HtmlCheck(HTMLParser):
    """Elements opened and not (yet) closed, void elements aside."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open.pop() != tag:  # an element closed by its parent's end tag
                pass


def test_champion_loads_as_pyfunc_and_predicts_on_raw_rows(champion) -> None:
    pyfunc = mlflow.pyfunc.load_model(f"models:/{champion.settings.MODEL_NAME}@champion")
    proba = np.asarray(pyfunc.predict(raw_rows(50)))
    assert proba.shape == (50, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_each_candidate_is_logged_with_signature_metrics_and_lineage(champion) -> None:
    client = MlflowClient()
    run = client.get_run(champion.trained["run_id"])
    for split in ("val", "test"):
        for metric in ("roc_auc", "pr_auc", "brier", "f1", "threshold"):
            assert f"{split}_{metric}" in run.data.metrics
    assert run.data.metrics["test_roc_auc_ci_low"] < run.data.metrics["test_roc_auc"]
    assert run.data.tags["data.batch_ids"] == "1,2,3,4,5,6,7"
    assert run.data.tags["lineage.fingerprint"] == champion.trained["tags"]["lineage.fingerprint"]
    assert int(run.data.tags["data.n_train"]) > 60_000
    (training,) = run.inputs.dataset_inputs  # the clean table, its digest and its columns
    assert training.dataset.name == run.data.tags["data.table"]
    assert training.dataset.digest == run.data.tags["lineage.data_digest"]
    columns = json.loads(training.dataset.schema)["mlflow_colspec"]
    types = {c["name"]: c["type"] for c in columns}
    assert set(contract.FEATURE_NAMES) <= set(types)
    assert types["time_in_hospital"] == "long" and types["diag_1"] == "string"
    info = mlflow.models.get_model_info(champion.trained["model_uri"])
    assert info.signature is not None
    assert set(info.signature.inputs.input_names()) == set(contract.FEATURE_NAMES)
    assert info.saved_input_example_info is not None
    assert set(champion.trained["candidates"]) == {"lightgbm", "logistic_regression"}
    version = client.get_model_version(champion.settings.MODEL_NAME, champion.decision["version"])
    assert version.tags["lineage.fingerprint"] == run.data.tags["lineage.fingerprint"]


def test_a_worse_challenger_does_not_move_the_alias(champion, shuffled) -> None:
    name = champion.settings.MODEL_NAME
    before = MlflowClient().get_model_version_by_alias(name, "champion").version
    decision = stages.promote(champion.settings, shuffled)
    assert decision["promoted"] is False
    assert decision["champion_version"] == before
    assert decision["challenger_test_roc_auc"] < decision["champion_test_roc_auc"]
    client = MlflowClient()
    assert client.get_model_version_by_alias(name, "champion").version == before
    tags = client.get_model_version(name, decision["version"]).tags
    assert tags["promotion.decision"] == "rejected"
    assert float(tags["promotion.champion_test_roc_auc"]) == pytest.approx(
        decision["champion_test_roc_auc"], abs=1e-6
    )
    assert float(tags["promotion.diff_ci_high"]) < 0  # clearly worse, and the interval says so


def test_promoting_the_same_run_again_changes_nothing(champion) -> None:
    client = MlflowClient()
    name = champion.settings.MODEL_NAME
    before = len(client.search_model_versions(f"name = '{name}'"))
    again = stages.promote(champion.settings, champion.trained)
    assert again["repeated"] is True
    assert again["version"] == champion.decision["version"]
    assert again["promoted"] is True and again["reason"] == champion.decision["reason"]
    assert len(client.search_model_versions(f"name = '{name}'")) == before
