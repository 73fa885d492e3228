"""The PSI rule and the API's sliding window, on synthetic populations with known answers."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from readmission import drift
from readmission_api.drift import DriftWindow

RNG = np.random.default_rng(0)


def population(n: int, inpatient_mean: float = 0.6, emergency: float = 0.5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "number_inpatient": RNG.poisson(inpatient_mean, n),
            "admission_type_id": np.where(RNG.random(n) < emergency, 1, RNG.choice([2, 3, 5], n)),
            "discharge_disposition_id": RNG.choice([1, 3, 6], n, p=[0.6, 0.2, 0.2]),
            "age": RNG.choice(["[50-60)", "[60-70)", "[70-80)", None], n, p=[0.3, 0.3, 0.3, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, drift.Binning]:
    train = population(20_000)
    importance = {"number_inpatient": 0.5, "admission_type_id": 0.2, "age": 0.1}
    document = drift.reference(train, RNG.beta(2, 12, len(train)), importance)
    return drift.load(json.dumps(document))


def test_psi_is_zero_for_the_same_proportions_and_grows_with_the_shift() -> None:
    expected = [0.5, 0.3, 0.2]
    assert drift.psi(expected, np.array([50, 30, 20])) == pytest.approx(0.0, abs=1e-12)
    small, large = drift.psi(expected, np.array([45, 33, 22])), drift.psi(expected, [5, 30, 65])
    assert 0 < small < drift.STABLE < drift.SHIFTED < large
    assert drift.psi(expected, np.array([0, 0, 0])) == 0.0  # nothing seen: no figure to make


def test_bins_hold_missing_and_unknown_values_apart(reference) -> None:
    age = reference["age"]
    assert age.categories == sorted(age.categories, key=age.categories.index)  # by frequency
    assert age.bin(None) == age.size - 1 and age.bin(float("nan")) == age.size - 1
    assert age.bin("[90-100)") == age.size - 2  # a category training never saw: "other"
    inpatient = reference["number_inpatient"]
    assert inpatient.edges == sorted(inpatient.edges) and inpatient.bin(1000) == inpatient.size - 2
    assert sum(age.expected) == pytest.approx(1.0, abs=1e-4)
    assert drift.PROBABILITY in reference and set(drift.WATCHED) - {
        "discharge_disposition_id"
    } <= set(reference)


def test_the_same_population_is_stable_and_a_shifted_one_is_not(reference) -> None:
    same = drift.report(reference, population(3_000).assign(probability=RNG.beta(2, 12, 3_000)))
    assert (same["psi"] < drift.STABLE).all(), same
    shifted = population(3_000, inpatient_mean=2.5, emergency=1.0)
    psi = drift.report(reference, shifted.assign(probability=RNG.beta(2, 12, 3_000)))
    by_feature = dict(zip(psi["feature"], psi["psi"], strict=True))
    assert by_feature["number_inpatient"] > drift.SHIFTED
    assert by_feature["admission_type_id"] > drift.SHIFTED
    assert by_feature["age"] < drift.STABLE


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_the_window_agrees_with_the_offline_report_and_keeps_only_the_last_rows(reference) -> None:
    window = DriftWindow(reference, size=2_000, seconds=3_600)
    old = population(2_000, inpatient_mean=2.5)
    window.observe(_rows(old), RNG.beta(2, 12, 2_000))
    assert window.psi()[1]["number_inpatient"] > drift.SHIFTED
    recent = population(2_000)
    proba = RNG.beta(2, 12, 2_000)
    window.observe(_rows(recent), proba)  # pushes every old row out
    rows, online = window.psi()
    offline = drift.report(reference, recent.assign(probability=proba))
    assert rows == 2_000
    for feature, value in zip(offline["feature"], offline["psi"], strict=True):
        assert online[feature] == pytest.approx(value, abs=1e-12), feature


def test_rows_older_than_the_period_leave_the_window(reference) -> None:
    window = DriftWindow(reference, size=10_000, seconds=0.2)
    window.observe(_rows(population(100)), RNG.beta(2, 12, 100))
    assert window.psi()[0] == 100
    time.sleep(0.3)
    assert window.psi()[0] == 0
