"""Cleaning against a real PostgreSQL: counts, splits that never leak, the contract failing hard."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from readmission import clean, contract, db, stages

from tests.conftest import make_settings

DROPPED = ",".join(map(str, contract.NOT_READMITTABLE))


def scalar(url: str, sql: str):
    engine = db.make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar()
    engine.dispose()
    return value


def test_clean_rows_are_raw_rows_minus_dropped_dispositions(database, loaded_template) -> None:
    url = database(loaded_template)
    result = stages.clean(make_settings(DATA_DB_URL=url))
    assert result["batch_ids"] == list(range(1, 8))
    raw = scalar(url, "SELECT count(*) FROM raw_data.diabetes_raw")
    dropped = scalar(
        url,
        "SELECT count(*) FROM raw_data.diabetes_raw "
        f"WHERE discharge_disposition_id::int IN ({DROPPED})",
    )
    assert raw == 101_766 and dropped > 0
    assert scalar(url, "SELECT count(*) FROM clean_data.diabetes_clean") == raw - dropped
    assert result["rows_out"] == raw - dropped
    # and the data set's documented 30-day readmissions survive cleaning as label 1
    positives = scalar(
        url,
        "SELECT count(*) FROM raw_data.diabetes_raw WHERE readmitted = '<30' "
        f"AND discharge_disposition_id::int NOT IN ({DROPPED})",
    )
    assert scalar(url, "SELECT sum(readmitted_30d) FROM clean_data.diabetes_clean") == positives


def test_no_patient_crosses_splits_and_proportions_are_70_15_15(database, loaded_template) -> None:
    url = database(loaded_template)
    stages.clean(make_settings(DATA_DB_URL=url))
    crossing = scalar(
        url,
        "SELECT count(*) FROM (SELECT patient_nbr FROM clean_data.diabetes_clean "
        "GROUP BY 1 HAVING count(DISTINCT split) > 1) t",
    )
    assert crossing == 0
    total = scalar(url, "SELECT count(*) FROM clean_data.diabetes_clean")
    for split, share in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        n = scalar(url, f"SELECT count(*) FROM clean_data.diabetes_clean WHERE split = '{split}'")
        assert abs(n / total - share) < 0.02, (split, n / total)


def test_a_patient_keeps_its_split_as_batches_arrive(data_db: str) -> None:
    settings = make_settings(DATA_DB_URL=data_db, BATCH_SIZE=30_000)
    stages.ingest(settings)
    stages.clean(settings)
    before = scalar(
        data_db,
        "SELECT string_agg(patient_nbr || split, ',' ORDER BY encounter_id) "
        "FROM clean_data.diabetes_clean",
    )
    stages.ingest(settings)
    second = stages.clean(settings)
    assert second["batch_ids"] == [2]
    after = scalar(
        data_db,
        "SELECT string_agg(patient_nbr || split, ',' ORDER BY encounter_id) "
        "FROM clean_data.diabetes_clean WHERE batch_id = 1",
    )
    assert after == before
    assert stages.clean(settings)["batch_ids"] == []  # a re-run finds nothing to do


def test_a_contract_break_fails_loudly_and_writes_nothing(database, loaded_template) -> None:
    url = database(loaded_template)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE raw_data.diabetes_raw SET age = '[100-110)' WHERE encounter_id IN "
                "(SELECT encounter_id FROM raw_data.diabetes_raw WHERE batch_id = 5 LIMIT 3)"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE raw_data.diabetes_raw SET num_medications = 'many' WHERE encounter_id = "
                "(SELECT min(encounter_id) FROM raw_data.diabetes_raw WHERE batch_id = 2)"
            )
        )
    engine.dispose()
    with pytest.raises(clean.ContractViolation) as caught:
        stages.clean(make_settings(DATA_DB_URL=url))
    message = str(caught.value)
    assert "batch 5: column 'age': 3 values outside the allowed set" in message
    assert "[100-110)" in message
    assert "batch 2: column 'num_medications': 1 values are not integers" in message
    assert scalar(url, "SELECT count(*) FROM clean_data.diabetes_clean") == 0
    assert scalar(url, "SELECT count(*) FROM clean_data.batches") == 0
