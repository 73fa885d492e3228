"""Benchmark: how ingest, clean and one training run grow with the data.

The data set replicated x1, x4 and x16 (1.6 million encounters): each copy gets new encounter
and patient ids (so a patient never crosses splits) and ``num_lab_procedures`` jittered by ±2
within the contract's range. Each size goes through the pipeline's own code on a throwaway
PostgreSQL + S3 + MLflow, each stage in its own process, whose wall seconds and peak resident
memory are measured (``os.wait4``):

- ingest: one loader process reads the source once and loads every 15,000-row batch, each in
  its own transaction (an Airflow run re-reads the source per batch: see docs/performance.md);
- clean: every loaded batch, in one ``stages.clean`` call;
- train: one ``stages.train`` run (one configuration, the base feature set: the growth of the
  training itself, not of the search), logging and registration included.

Per stage, the fitted growth exponent k of seconds ∝ rows^k. Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from readmission import contract
from readmission.settings import DEFAULT_SOURCE
from readmission_local.stack import STACK, free_ports
from readmission_local.supervisor import Supervisor
from readmission_local.up import start

ID_STEP = 1_000_000_000  # above every id of the data set: copy k adds k times this
STAGES = {
    "ingest": (
        "from readmission import db, ingest\n"
        "from readmission.settings import Settings\n"
        "s = Settings(); engine = db.make_engine(s.DATA_DB_URL); db.create_schema(engine)\n"
        "source = ingest.read_source(s.DATA_SOURCE_URI)\n"
        "while ingest.ingest_next_batch(engine, source, s.BATCH_SIZE).loaded: pass\n"
    ),
    "clean": "from readmission import stages, settings\nstages.clean(settings.Settings())\n",
    "train": (
        "from readmission import stages, settings\n"
        "assert not stages.train(settings.Settings())['skipped']\n"
    ),
}


def replicate(factor: int, path: Path) -> int:
    """Write the data set ``factor`` times over to ``path`` (plain CSV); its row count."""
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(factor)
    lab = next(c for c in contract.FEATURES if c.name == "num_lab_procedures")
    copies = []
    for k in range(factor):
        copy = frame.copy()
        for column in ("encounter_id", "patient_nbr"):
            copy[column] = (copy[column].astype("int64") + k * ID_STEP).astype(str)
        if k:
            jitter = rng.integers(-2, 3, len(copy))
            labs = (copy["num_lab_procedures"].astype(int) + jitter).clip(lab.minimum, lab.maximum)
            copy["num_lab_procedures"] = labs.astype(str)
        copies.append(copy)
    pd.concat(copies).to_csv(path, index=False)
    return len(frame) * factor


def run_stage(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Run ``code`` in a new Python process: (wall seconds, its peak resident memory in MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage failed (exit {os.waitstatus_to_exitcode(status)}): {code}")
    return seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


def exponent(rows: list[int], values: list[float]) -> float:
    """k of values ∝ rows^k (least squares on the logarithms)."""
    return float(np.polyfit(np.log(rows), np.log(values), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="readmission-scale-"))
    root.chmod(0o755)
    supervisor = Supervisor(root)
    sizes: list[dict] = []
    try:
        found, pg = start(root, free_ports(), STACK)
        for factor in args.factors:
            source = root / f"x{factor}.csv"
            rows = replicate(factor, source)
            pg.create_database(f"x{factor}")
            env = {
                **os.environ,
                "DATA_DB_URL": pg.url(f"x{factor}"),
                "DATA_SOURCE_URI": str(source),
                "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{found['MLFLOW_PORT']}",
                "MODEL_NAME": f"scale-x{factor}",
                "MLFLOW_EXPERIMENT": "scale",
                "TUNING_TRIALS": "1",
                "FEATURE_SETS": "base",
            }
            size = {"factor": factor, "rows": rows}
            for stage, code in STAGES.items():
                seconds, peak = run_stage(code, env)
                size[stage] = {"seconds": round(seconds, 1), "peak_rss_mb": round(peak)}
                print(f"x{factor} {stage}: {seconds:.1f}s, {peak:.0f} MB", file=sys.stderr)
            sizes.append(size)
            source.unlink()
    finally:
        supervisor.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    rows = [s["rows"] for s in sizes]
    growth = {
        stage: round(exponent(rows, [s[stage]["seconds"] for s in sizes]), 2) for stage in STAGES
    }
    print(json.dumps({"sizes": sizes, "exponent": growth}))


if __name__ == "__main__":
    main()
