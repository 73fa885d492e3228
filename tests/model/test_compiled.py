"""The compiled serving path equals the logged pipeline on the whole test split, for every kind of
model the trainer produces; what it cannot compile is served by the pipeline, which says so."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import pandas as pd
import pytest
from readmission import compiled, contract, model, train
from readmission_api import scoring
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from tests.model.conftest import clean_frame

SMALL = {"lightgbm": {**train.LIGHTGBM_DEFAULT, "n_estimators": 80}, "logistic_regression": {}}


@pytest.fixture(scope="module")
def splits(champion) -> dict[str, pd.DataFrame]:
    frame = clean_frame(champion.settings)
    return {s: frame[frame["split"] == s] for s in ("train", "test")}


def records(rows: pd.DataFrame) -> list[dict]:
    features = model.to_model_frame(rows)
    return [
        {k: (None if v is None or v != v else v) for k, v in r.items()}
        for r in features.to_dict("records")
    ]


def assert_same(pipeline: Pipeline, rows: pd.DataFrame) -> None:
    fast = compiled.compile_pipeline(pipeline)
    expected = model.positive_proba(pipeline, model.to_model_frame(rows))
    got = fast.predict_proba(records(rows))
    worst = float(np.max(np.abs(got - expected)))
    print(f"\n{len(rows)} test rows: max |compiled - pipeline| = {worst:.2e}")
    assert worst <= compiled.TOLERANCE


@pytest.mark.parametrize(
    ("calibration", "features"), [("sigmoid", "base"), ("isotonic", "clinical")]
)
@pytest.mark.parametrize("family", model.FAMILIES)
def test_compiled_equals_the_pipeline_on_the_test_split(
    splits, family, calibration, features
) -> None:
    rows = splits["train"]
    pipeline = model.build(
        family, SMALL[family], rows["patient_nbr"], calibration=calibration, features=features
    )
    pipeline.fit(model.to_model_frame(rows), rows[contract.LABEL].to_numpy())
    assert_same(pipeline, splits["test"])


def test_the_logged_champion_compiles_to_the_same_probabilities(champion, splits) -> None:
    pipeline = mlflow.sklearn.load_model(champion.trained["model_uri"])  # skops, as served
    assert_same(pipeline, splits["test"])


def test_a_model_the_compiler_does_not_know_is_served_by_the_pipeline(splits) -> None:
    rows = splits["train"].head(2000)
    pipeline = model.build("logistic_regression", {}, rows["patient_nbr"])
    pipeline.steps[-1] = ("classifier", FixedThresholdClassifier(DummyClassifier()))
    pipeline.fit(model.to_model_frame(rows), rows[contract.LABEL].to_numpy())
    scorer = scoring.build(pipeline, [], "test")
    assert scorer.path == "pipeline" and "not compilable" in scorer.reason
    patients = records(splits["test"].head(20))
    assert np.allclose(scorer.predict_proba(patients), scorer.pipeline_proba(patients))


def test_a_compiled_model_that_disagrees_is_refused(splits, monkeypatch) -> None:
    rows = splits["train"].head(3000)
    pipeline = model.build("logistic_regression", {}, rows["patient_nbr"])
    pipeline.fit(model.to_model_frame(rows), rows[contract.LABEL].to_numpy())
    assert scoring.build(pipeline, [], "ok").path == "compiled"
    # A compiler that is off by a hair must not serve.
    real = compiled.compile_pipeline

    def off_by_a_hair(p: Pipeline) -> compiled.CompiledModel:
        good = real(p)
        return dataclasses.replace(good, score=lambda X: good.score(X) + 1e-6)

    monkeypatch.setattr(compiled, "compile_pipeline", off_by_a_hair)
    scorer = scoring.build(pipeline, [], "off")
    assert scorer.path == "pipeline" and scorer.reason.startswith("refused: differs")
