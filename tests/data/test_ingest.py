"""Ingest against a real PostgreSQL: batches, exactly-once under kills, retries and concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from readmission import contract, db, ingest, stages
from readmission_local.process import wait_until

from tests.conftest import make_settings

ROWS = 101_766


def counts(url: str) -> tuple[int, int, int]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM raw_data.diabetes_raw")).scalar()
        distinct = conn.execute(
            sa.text("SELECT count(DISTINCT encounter_id) FROM raw_data.diabetes_raw")
        ).scalar()
        batches = conn.execute(sa.text("SELECT count(*) FROM raw_data.batches")).scalar()
    engine.dispose()
    return rows, distinct, batches


def copies(engine: sa.Engine, condition: str) -> int:
    """COPY statements in pg_stat_activity that match ``condition``."""
    with engine.connect() as conn:
        query = f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND {condition}"
        return conn.execute(sa.text(query)).scalar()


def test_seven_runs_load_every_row_once_and_an_eighth_loads_nothing(data_db: str) -> None:
    settings = make_settings(DATA_DB_URL=data_db)
    results = [stages.ingest(settings) for _ in range(8)]
    assert [r["loaded"] for r in results] == [True] * 7 + [False]
    assert [r["rows"] for r in results[:7]] == [15_000] * 6 + [ROWS - 90_000]
    assert counts(data_db) == (ROWS, ROWS, 7)
    assert "nothing to do" in results[7]["message"]


def test_batches_are_consecutive_slices_of_the_source(data_db: str, source) -> None:
    settings = make_settings(DATA_DB_URL=data_db, BATCH_SIZE=40_000)
    for _ in range(3):
        stages.ingest(settings)
    engine = db.make_engine(data_db)
    with engine.connect() as conn:
        ledger = conn.execute(
            sa.text("SELECT batch_id, row_start, row_count FROM raw_data.batches ORDER BY 1")
        ).all()
        first_of_3 = conn.execute(
            sa.text(
                "SELECT encounter_id FROM raw_data.diabetes_raw WHERE batch_id = 3 "
                "ORDER BY encounter_id::bigint LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    assert [tuple(r) for r in ledger] == [(1, 0, 40_000), (2, 40_000, 40_000), (3, 80_000, 21_766)]
    batch3_ids = [int(line.split(b",")[0]) for line in source.lines[80_000:]]
    assert int(first_of_3) == min(batch3_ids)


def test_a_load_killed_midway_leaves_nothing_and_is_loaded_whole_next_time(
    data_db: str, postgres, source
) -> None:
    engine = db.make_engine(data_db)
    stall_at = source.lines[7_500].split(b",")[0].decode()  # the 7,501st row of batch 1
    with engine.begin() as conn:
        # A real crash mid-COPY: the server stalls inside the load after 7,500 rows, and we
        # SIGKILL the client process there; the server rolls back when it next reads from it.
        conn.execute(
            sa.text(f"""
            CREATE FUNCTION raw_data.stall() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.encounter_id = '{stall_at}' THEN PERFORM pg_sleep(8); END IF;
            RETURN NEW; END $$;
            CREATE TRIGGER stall BEFORE INSERT ON raw_data.diabetes_raw
                FOR EACH ROW EXECUTE FUNCTION raw_data.stall();
        """)
        )
    env = {**os.environ, "DATA_DB_URL": data_db, "DATA_SOURCE_URI": source.uri}
    loader = subprocess.Popen(
        [sys.executable, "-m", "readmission", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stalled() -> bool:
        assert loader.poll() is None, "the loader finished before it could be killed"
        return copies(engine, "wait_event = 'PgSleep'") > 0

    try:
        wait_until(stalled, 60, "the load reaching the stall point")
        with engine.connect() as conn:
            written = conn.execute(
                sa.text("SELECT tuples_processed FROM pg_stat_progress_copy")
            ).scalar()
        assert written == 7_500  # rows already in the open transaction when it dies
        loader.kill()
    finally:
        loader.wait(timeout=30)
    # The server rolls the transaction back once it sees the client is gone.
    wait_until(lambda: copies(engine, "state = 'active'") == 0, 30, "the rollback")
    assert counts(data_db) == (0, 0, 0)

    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER stall ON raw_data.diabetes_raw"))
    engine.dispose()
    result = stages.ingest(make_settings(DATA_DB_URL=data_db))
    assert (result["batch_id"], result["rows"]) == (1, 15_000)
    assert counts(data_db) == (15_000, 15_000, 1)


def test_concurrent_runs_never_duplicate_or_skip(data_db: str) -> None:
    settings = make_settings(DATA_DB_URL=data_db)
    results: list[dict] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(stages.ingest(settings))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r["batch_id"] for r in results) == [1, 2, 3, 4]
    assert counts(data_db) == (60_000, 60_000, 4)


def test_a_different_source_file_is_refused_and_nothing_is_written(
    data_db: str, tmp_path: Path, source
) -> None:
    stages.ingest(make_settings(DATA_DB_URL=data_db))
    other = tmp_path / "other.csv"
    other.write_bytes(b"\n".join([",".join(contract.RAW_COLUMNS).encode(), *source.lines[:-1]]))
    with pytest.raises(ingest.SourceError, match="not the file earlier batches came from"):
        stages.ingest(make_settings(DATA_DB_URL=data_db, DATA_SOURCE_URI=str(other)))
    assert counts(data_db) == (15_000, 15_000, 1)


def test_a_source_with_a_wrong_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("encounter_id,patient_nbr\n1,2\n")
    with pytest.raises(ingest.SourceError, match="header does not match"):
        ingest.read_source(str(bad))


def test_a_missing_source_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ingest.SourceError, match="DATA_SOURCE_URI"):
        ingest.read_source(str(tmp_path / "nope.csv.gz"))


def test_the_cli_prints_one_clear_error_line(tmp_path: Path, data_db: str) -> None:
    env = {**os.environ, "DATA_DB_URL": data_db, "DATA_SOURCE_URI": str(tmp_path / "nope.csv")}
    done = subprocess.run(
        [sys.executable, "-m", "readmission", "ingest"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1].startswith("error: SourceError: data source not found")
    )
