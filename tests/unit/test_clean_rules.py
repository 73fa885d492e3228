"""Pure cleaning rules: validation messages, typing, the split hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from readmission import clean, contract


def raw_frame(n: int = 20) -> pd.DataFrame:
    """Valid raw text rows built from the contract's defaults."""
    row = {c.name: ("?" if c.default is None else str(c.default)) for c in contract.COLUMNS}
    frame = pd.DataFrame([row] * n)
    frame["encounter_id"] = [str(1000 + i) for i in range(n)]
    frame["patient_nbr"] = [str(50 + i) for i in range(n)]
    frame["readmitted"] = ["<30", "NO", ">30", "NO"] * (n // 4)
    frame["batch_id"] = 1
    return frame


def test_a_valid_frame_has_no_problems() -> None:
    assert clean.validate(raw_frame()) == []


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("age", "[100-110)", "'age': 1 values outside the allowed set"),
        ("time_in_hospital", "0", "'time_in_hospital': 1 values outside [1, 14]"),
        ("num_lab_procedures", "3.5", "'num_lab_procedures': 1 values are not integers"),
        ("admission_type_id", "99", "'admission_type_id': 1 values outside the allowed set"),
        ("gender", "?", "'gender': 1 missing values, none allowed"),
        ("readmitted", "maybe", "'readmitted': 1 values outside the allowed set"),
    ],
)
def test_each_broken_rule_is_named(column: str, value: str, fragment: str) -> None:
    frame = raw_frame()
    frame.loc[3, column] = value
    problems = clean.validate(frame)
    assert any(fragment in p for p in problems), problems


def test_too_many_missing_values_is_a_violation() -> None:
    frame = raw_frame()
    frame.loc[:5, "diag_1"] = "?"
    assert any("'diag_1': 30.0% missing" in p for p in clean.validate(frame))


def test_missing_columns_are_reported() -> None:
    assert clean.validate(raw_frame().drop(columns=["A1Cresult"])) == [
        "missing columns: ['A1Cresult']"
    ]


def test_transform_types_labels_and_drops_hospice() -> None:
    frame = raw_frame()
    frame.loc[0, "discharge_disposition_id"] = "13"  # hospice
    frame.loc[1, "discharge_disposition_id"] = "11"  # expired
    out = clean.transform(frame, salt="s")
    assert len(out) == 18
    assert out["time_in_hospital"].dtype == "int64"
    assert out["weight"].isna().all()
    assert out[contract.LABEL].tolist() == (out["readmitted"] == "<30").astype(int).tolist()


def test_split_is_stable_salted_and_near_70_15_15() -> None:
    patients = pd.Series(np.arange(20_000))
    first, again = clean.assign_split(patients, "a"), clean.assign_split(patients, "a")
    assert (first == again).all()
    assert (first != clean.assign_split(patients, "b")).mean() > 0.3
    shares = pd.Series(first).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.70, abs=0.015)
    assert shares["val"] == pytest.approx(0.15, abs=0.015)
    assert shares["test"] == pytest.approx(0.15, abs=0.015)
