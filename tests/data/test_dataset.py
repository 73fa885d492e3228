"""The shipped data set is the one documented, and it satisfies the feature contract."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pandas as pd
from readmission import clean, contract, vocabulary

DATA = Path(__file__).resolve().parents[2] / "data"


def _documented_sha256(filename: str) -> str:
    readme = (DATA / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| {filename}"))
    return re.search(r"\b[0-9a-f]{64}\b", row).group(0)


DIAGNOSES = [c.name for c in contract.FEATURES if c.vocabulary == "icd9"]


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


def test_every_diagnosis_code_of_the_data_set_is_in_the_vocabulary() -> None:
    from readmission import vocabulary

    source = DATA / "diabetic_data.csv.gz"
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, usecols=DIAGNOSES)
    values = frame.stack()
    values = values[values != contract.MISSING]
    codes = set(values)
    unknown = sorted(c for c in codes if vocabulary.lookup(c) is None)
    grouped = sum(1 for c in codes if vocabulary.lookup(c) and vocabulary.lookup(c).ccs)
    print(
        f"\nICD-9 vocabulary: {len(codes)} distinct codes in diag_1..3 ({len(values)} values); "
        f"{len(unknown)} unknown {unknown}; {grouped} with a CCS group"
    )
    assert DIAGNOSES == ["diag_1", "diag_2", "diag_3"]
    assert unknown == []
    assert grouped == len(codes)


def test_the_search_ranking_counts_are_the_data_sets() -> None:
    frame = pd.read_csv(DATA / "diabetic_data.csv.gz", dtype=str, keep_default_na=False)
    diagnoses = frame[["diag_1", "diag_2", "diag_3"]].to_numpy().ravel()
    assert vocabulary.counts() == vocabulary.count_codes(diagnoses), (
        "readmission/icd9_counts.json is stale: "
        "python -c 'from readmission import vocabulary; vocabulary.write_counts()'"
    )
    assert vocabulary.counts()["428"] > 10_000  # the commonest primary diagnosis
