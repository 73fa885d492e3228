"""Training and promotion on the real data through a real MLflow server."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from readmission import contract, model, promote, stages, train
from readmission.settings import DEFAULT_SOURCE
from sklearn.linear_model import LogisticRegression


def raw_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows as a client sends them: the CSV's text, '?' as missing, integers as integers."""
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False, nrows=5_000)
    frame = frame.sample(n, random_state=seed).replace({contract.MISSING: None})
    for name in (*contract.NUMERIC_FEATURES, *contract.CODE_FEATURES):
        frame[name] = frame[name].astype(int)
    return frame[list(contract.FEATURE_NAMES)].reset_index(drop=True)


def test_first_model_becomes_champion_and_beats_the_baselines(champion) -> None:
    assert champion.decision["promoted"] is True
    client = MlflowClient()
    version = client.get_model_version_by_alias(champion.settings.MODEL_NAME, "champion")
    assert version.version == champion.decision["version"]
    assert version.tags["promotion.decision"] == "promoted"
    test = champion.trained["test"]
    assert test["roc_auc"] > 0.65
    assert test["brier"] < test["brier_baseline"]
    assert 0 < test["threshold"] < 0.5


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
    assert run.data.tags["data.batch_ids"] == "1,2,3,4,5,6,7"
    assert int(run.data.tags["data.n_train"]) > 60_000
    info = mlflow.models.get_model_info(champion.trained["model_uri"])
    assert info.signature is not None
    assert set(info.signature.inputs.input_names()) == set(contract.FEATURE_NAMES)
    assert info.saved_input_example_info is not None
    assert set(champion.trained["candidates"]) == {"lightgbm", "logistic_regression"}


def _bad_candidate(champion) -> train.Candidate:
    """A challenger trained on shuffled labels: no better than chance."""
    with stages.data_engine(champion.settings) as engine:
        data = train.load_dataset(engine)
    X, y = data.part("train")
    y = np.random.default_rng(0).permutation(y)
    pipeline = model.build_logistic({"C": 0.05}).fit(X.head(5_000), y[:5_000])
    metrics = {"roc_auc": 0.5, "threshold": 0.5}
    candidate = train.Candidate("logistic_regression", pipeline, {"C": 0.05}, metrics, metrics)
    mlflow.set_experiment(champion.settings.MLFLOW_EXPERIMENT)
    return train.log_candidate(candidate, data, champion.settings)


def test_a_worse_challenger_does_not_move_the_alias(champion) -> None:
    name = champion.settings.MODEL_NAME
    before = MlflowClient().get_model_version_by_alias(name, "champion").version
    bad = _bad_candidate(champion)
    trained = {
        "family": bad.family,
        "run_id": bad.run_id,
        "model_uri": bad.model_uri,
        "threshold": 0.5,
    }
    decision = stages.promote(champion.settings, trained)
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


def test_the_same_model_again_does_not_win_without_the_margin(champion) -> None:
    decision = stages.promote(champion.settings, champion.trained)
    assert decision["promoted"] is False
    assert decision["challenger_test_roc_auc"] == pytest.approx(decision["champion_test_roc_auc"])
    assert "margin" in decision["reason"]


@pytest.mark.parametrize(
    ("challenger", "champion_score", "expected"),
    [
        (0.70, None, True),
        (0.60, None, False),
        (0.70, 0.69, True),
        (0.70, 0.699, False),
        (0.61, 0.55, False),
    ],
)
def test_decide(challenger: float, champion_score: float | None, expected: bool) -> None:
    promoted, reason = promote.decide(challenger, champion_score, margin=0.002, minimum=0.62)
    assert promoted is expected and reason


def test_logistic_regression_alone_is_a_valid_sklearn_pipeline() -> None:
    pipeline = model.build_logistic({"C": 1.0})
    assert isinstance(pipeline.named_steps["classifier"].estimator, LogisticRegression)
