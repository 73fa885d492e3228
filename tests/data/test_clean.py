"""Cleaning against a real PostgreSQL: counts, splits that never leak, bad batches quarantined."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from readmission import contract, db, stages

from tests.conftest import make_settings, sql

DROPPED = ",".join(map(str, contract.NOT_READMITTABLE))


def test_clean_rows_are_raw_rows_minus_dropped_dispositions(database, loaded_template) -> None:
    url = database(loaded_template)
    result = stages.clean(make_settings(DATA_DB_URL=url))
    assert result["batch_ids"] == list(range(1, 8))
    raw = sql(url, "SELECT count(*) FROM raw_data.diabetes_raw")
    dropped = sql(
        url,
        "SELECT count(*) FROM raw_data.diabetes_raw "
        f"WHERE discharge_disposition_id::int IN ({DROPPED})",
    )
    assert raw == 101_766 and dropped > 0
    assert sql(url, "SELECT count(*) FROM clean_data.diabetes_clean") == raw - dropped
    assert result["rows_out"] == raw - dropped
    # and the data set's documented 30-day readmissions survive cleaning as label 1
    positives = sql(
        url,
        "SELECT count(*) FROM raw_data.diabetes_raw WHERE readmitted = '<30' "
        f"AND discharge_disposition_id::int NOT IN ({DROPPED})",
    )
    assert sql(url, "SELECT sum(readmitted_30d) FROM clean_data.diabetes_clean") == positives


def test_no_patient_crosses_splits_and_proportions_are_70_15_15(database, loaded_template) -> None:
    url = database(loaded_template)
    stages.clean(make_settings(DATA_DB_URL=url))
    crossing = sql(
        url,
        "SELECT count(*) FROM (SELECT patient_nbr FROM clean_data.diabetes_clean "
        "GROUP BY 1 HAVING count(DISTINCT split) > 1) t",
    )
    assert crossing == 0
    total = sql(url, "SELECT count(*) FROM clean_data.diabetes_clean")
    for split, share in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        n = sql(url, f"SELECT count(*) FROM clean_data.diabetes_clean WHERE split = '{split}'")
        assert abs(n / total - share) < 0.02, (split, n / total)


def test_a_patient_keeps_its_split_as_batches_arrive(data_db: str) -> None:
    settings = make_settings(DATA_DB_URL=data_db, BATCH_SIZE=30_000)
    stages.ingest(settings)
    stages.clean(settings)
    before = sql(
        data_db,
        "SELECT string_agg(patient_nbr || split, ',' ORDER BY encounter_id) "
        "FROM clean_data.diabetes_clean",
    )
    stages.ingest(settings)
    second = stages.clean(settings)
    assert second["batch_ids"] == [2]
    after = sql(
        data_db,
        "SELECT string_agg(patient_nbr || split, ',' ORDER BY encounter_id) "
        "FROM clean_data.diabetes_clean WHERE batch_id = 1",
    )
    assert after == before
    assert stages.clean(settings)["batch_ids"] == []  # a re-run finds nothing to do


def break_rows(url: str) -> None:
    """Three bad ages in batch 5 and one non-integer count in batch 2."""
    sql(
        url,
        "UPDATE raw_data.diabetes_raw SET age = '[100-110)' WHERE encounter_id IN "
        "(SELECT encounter_id FROM raw_data.diabetes_raw WHERE batch_id = 5 LIMIT 3)",
        "UPDATE raw_data.diabetes_raw SET num_medications = 'many' WHERE encounter_id = "
        "(SELECT min(encounter_id) FROM raw_data.diabetes_raw WHERE batch_id = 2)",
    )


def test_a_contract_break_quarantines_its_batch_and_the_others_go_on(
    database, loaded_template
) -> None:
    url = database(loaded_template)
    break_rows(url)
    result = stages.clean(make_settings(DATA_DB_URL=url))
    assert result["batch_ids"] == [1, 3, 4, 6, 7]
    assert set(result["quarantined"]) == {"2", "5"}
    assert result["quarantined"]["5"] == [
        "column 'age': 3 values outside the allowed set (e.g. '[100-110)')"
    ]
    assert "1 values are not integers" in result["quarantined"]["2"][0]
    assert sql(url, "SELECT count(DISTINCT batch_id) FROM clean_data.diabetes_clean") == 5
    assert sql(url, "SELECT count(*) FROM clean_data.diabetes_clean WHERE batch_id = 2") == 0
    states = sql(
        url,
        "SELECT string_agg(batch_id || ':' || status, ',' ORDER BY batch_id) FROM raw_data.batches",
    )
    assert states == "1:cleaned,2:quarantined,3:cleaned,4:cleaned,5:quarantined,6:cleaned,7:cleaned"
    problems = sql(url, "SELECT problems->>0 FROM raw_data.batches WHERE batch_id = 5")
    assert "[100-110)" in problems
    # A quarantined batch is not retried by itself: a person must re-admit it.
    again = stages.clean(make_settings(DATA_DB_URL=url))
    assert again["batch_ids"] == [] and again["quarantined"] == {}
    assert stages.progress(make_settings(DATA_DB_URL=url))["batches"] == {
        "loaded": 0,
        "cleaned": 5,
        "quarantined": 2,
    }


def test_a_fixed_batch_is_readmitted_and_cleaned(database, loaded_template) -> None:
    url = database(loaded_template)
    break_rows(url)
    settings = make_settings(DATA_DB_URL=url)
    stages.clean(settings)
    with pytest.raises(ValueError, match="batch 3 is cleaned; only a quarantined batch"):
        stages.readmit(settings, 3)
    sql(
        url,
        "UPDATE raw_data.diabetes_raw SET age = '[90-100)' "
        "WHERE batch_id = 5 AND age = '[100-110)'",
    )
    done = subprocess.run(
        [sys.executable, "-m", "readmission", "readmit", "5"],
        env={**os.environ, "DATA_DB_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["batch_id"] == 5
    assert stages.clean(settings)["batch_ids"] == [5]
    # batch 2 is still broken: the CLI's clean exits 1 naming it, and writes nothing for it
    stages.readmit(settings, 2)
    failed = subprocess.run(
        [sys.executable, "-m", "readmission", "clean"],
        env={**os.environ, "DATA_DB_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "batch(es) [2] quarantined" in failed.stderr and "readmit BATCH_ID" in failed.stderr


def test_a_database_from_the_first_release_is_upgraded_in_place(data_db: str) -> None:
    settings = make_settings(DATA_DB_URL=data_db, BATCH_SIZE=20_000)
    stages.ingest(settings)
    stages.ingest(settings)
    # The first release: no batch states; batch 1 was cleaned.
    sql(
        data_db,
        "INSERT INTO clean_data.batches VALUES (1, 1, 1, 0, now())",
        *(
            f"ALTER TABLE raw_data.batches DROP COLUMN {c}"
            for c in ("status", "problems", "status_at")
        ),
    )
    engine = db.make_engine(data_db)
    db.create_schema(engine)
    db.create_schema(engine)  # and again: idempotent
    engine.dispose()
    states = sql(
        data_db,
        "SELECT string_agg(batch_id || ':' || status, ',' ORDER BY batch_id) FROM raw_data.batches",
    )
    assert states == "1:cleaned,2:loaded"


def test_the_clean_table_read_in_chunks_equals_one_read(postgres, cleaned_template) -> None:
    """Training streams the clean table (``db.read_table``): the same frame, dtypes included,
    as reading it at once, in many chunks."""
    import pandas as pd
    import sqlalchemy as sa

    engine = db.make_engine(postgres.url(cleaned_template))
    with engine.connect() as conn:
        whole = pd.read_sql(sa.select(db.diabetes_clean), conn)
        chunked = db.read_table(conn, db.diabetes_clean, chunk_rows=7_000)
    assert len(whole) > 7_000 * 10  # many chunks
    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked["diag_1"].dtype == "str" and chunked["patient_nbr"].dtype == "int64"
