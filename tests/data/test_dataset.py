"""The shipped data set is the one documented, and it satisfies the feature contract."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pandas as pd
from readmission import clean, contract

DATA = Path(__file__).resolve().parents[2] / "data"


def _documented_sha256(filename: str) -> str:
    readme = (DATA / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| {filename}"))
    return re.search(r"\b[0-9a-f]{64}\b", row).group(0)


def test_csv_checksum_matches_readme() -> None:
    raw = gzip.decompress((DATA / "diabetic_data.csv.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == _documented_sha256("diabetic_data.csv.gz")


def test_ids_mapping_checksum_matches_readme() -> None:
    digest = hashlib.sha256((DATA / "IDs_mapping.csv").read_bytes()).hexdigest()
    assert digest == _documented_sha256("IDs_mapping.csv")


def test_shape_and_header() -> None:
    frame = pd.read_csv(DATA / "diabetic_data.csv.gz", dtype=str, keep_default_na=False)
    assert frame.shape == (101_766, 50)
    assert tuple(frame.columns) == contract.RAW_COLUMNS


def test_whole_data_set_satisfies_the_contract() -> None:
    frame = pd.read_csv(DATA / "diabetic_data.csv.gz", dtype=str, keep_default_na=False)
    assert clean.validate(frame) == []


def test_contract_codes_are_documented_in_ids_mapping() -> None:
    text = (DATA / "IDs_mapping.csv").read_text()
    for column, codes in (
        ("admission_type_id", contract.ADMISSION_TYPES),
        ("discharge_disposition_id", contract.DISCHARGE_DISPOSITIONS),
        ("admission_source_id", contract.ADMISSION_SOURCES),
    ):
        section = text.split(f"{column},description")[1].split("\n,")[0]
        documented = {line.split(",")[0] for line in section.strip().splitlines()}
        assert set(codes) <= documented, column
