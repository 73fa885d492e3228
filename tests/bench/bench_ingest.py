"""Benchmark: load every batch with the pipeline vs one ``psql \\copy`` of the same CSV.

All load into fresh databases on the same throwaway PostgreSQL, in the same run; the baseline
table has the same shape (text columns, unique encounter_id, defaults). Two pipeline numbers:

- ``seconds``: one loader process reads the source once, then loads the 7 batches, each in its
  own transaction with its advisory lock and ledger row (what ``ratio`` compares);
- ``cold_seconds``: 7 separate ``stages.ingest`` calls, each re-reading and checking the source
  and opening its own engine, as 7 Airflow task runs do.

Repeated ``--repeat`` times; medians are reported. Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from readmission import contract, db, ingest, stages
from readmission.settings import Settings
from readmission_local.postgres import LocalPostgres
from readmission_local.process import free_port
from readmission_local.supervisor import Supervisor
from readmission_local.up import start


def pipeline_load(pg: LocalPostgres, name: str, source: str) -> float:
    pg.create_database(name)
    engine = db.make_engine(pg.url(name))
    db.create_schema(engine)  # schema creation is set-up, not loading
    started = time.perf_counter()
    loaded = ingest.read_source(source)
    batches = 0
    while ingest.ingest_next_batch(engine, loaded, 15_000).loaded:
        batches += 1
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert batches == 7, batches
    return elapsed


def cold_load(pg: LocalPostgres, name: str, source: str) -> float:
    pg.create_database(name)
    settings = Settings(DATA_DB_URL=pg.url(name), DATA_SOURCE_URI=source)
    stages.init_db(settings)
    started = time.perf_counter()
    batches = 0
    while stages.ingest(settings)["loaded"]:
        batches += 1
    elapsed = time.perf_counter() - started
    assert batches == 7, batches
    return elapsed


def psql_copy(pg: LocalPostgres, name: str, source: str) -> float:
    pg.create_database(name)
    stages.init_db(Settings(DATA_DB_URL=pg.url(name)))
    pg.psql(
        "CREATE TABLE public.copy_target (LIKE raw_data.diabetes_raw INCLUDING ALL);"
        "ALTER TABLE public.copy_target ALTER batch_id SET DEFAULT 0",
        name,
    )
    columns = db.quoted(contract.RAW_COLUMNS)
    command = (
        f"\\copy public.copy_target ({columns}) FROM PROGRAM 'gzip -dc {source}' "
        "WITH (FORMAT csv, HEADER true)"
    )
    started = time.perf_counter()
    pg.psql(command, name)
    elapsed = time.perf_counter() - started
    rows = pg.psql("SELECT count(*) FROM public.copy_target", name).strip()
    assert rows == "101766", rows
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = str(Settings().DATA_SOURCE_URI)
    root = Path(tempfile.mkdtemp(prefix="readmission-bench-"))
    root.chmod(0o755)
    supervisor = Supervisor(root)
    try:
        pg = start(root, {"POSTGRES_PORT": str(free_port())}, ("postgres",))[1]
        ours, cold, theirs = [], [], []
        for i in range(args.repeat):
            ours.append(pipeline_load(pg, f"ours_{i}", source))
            cold.append(cold_load(pg, f"cold_{i}", source))
            theirs.append(psql_copy(pg, f"copy_{i}", source))
            print(
                f"run {i + 1}: pipeline {ours[-1]:.3f}s, cold {cold[-1]:.3f}s, "
                f"psql \\copy {theirs[-1]:.3f}s",
                file=sys.stderr,
            )
    finally:
        supervisor.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    seconds, copy_seconds = statistics.median(ours), statistics.median(theirs)
    cold_seconds = statistics.median(cold)
    result = {
        "seconds": round(seconds, 3),
        "copy_seconds": round(copy_seconds, 3),
        "ratio": round(seconds / copy_seconds, 3),
        "cold_seconds": round(cold_seconds, 3),
        "cold_ratio": round(cold_seconds / copy_seconds, 3),
        "rows": 101_766,
        "batches": 7,
        "repeat": args.repeat,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
