"""Load test of the inference API (HTTP only, at API_URL / --host, with the credential API_KEY).

Mostly single predictions of real patients sampled from the data set (LOAD_TEST_DATA), some
batches, some model reads — the mix a clinic front end would send. Run headless, bounded in
users, rate and time (`make load-test` adds capacity.py, which steps the users up):

    locust -f services/locust/locustfile.py --host http://127.0.0.1:8989 \\
        --headless -u 20 -r 5 -t 1m --only-summary
"""

from __future__ import annotations

import csv
import gzip
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task
from readmission import contract

DATA = Path(
    os.environ.get(
        "LOAD_TEST_DATA", Path(__file__).resolve().parents[2] / "data" / "diabetic_data.csv.gz"
    )
)
SAMPLE = 5_000  # real rows kept in memory, each user draws from them


def _load(path: Path, size: int, seed: int = 0) -> list[dict]:
    """``size`` real encounters of the data set as request bodies (in scope; '?' as sent)."""
    with gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path) as handle:
        records = list(csv.DictReader(handle))
    rows = []
    for record in random.Random(seed).sample(records, min(size * 2, len(records))):
        if int(record["discharge_disposition_id"]) in contract.NOT_READMITTABLE:
            continue
        row = {}
        for col in contract.FEATURES:
            value = record[col.name]
            numeric = col.kind in (contract.Kind.INTEGER, contract.Kind.CODE)
            row[col.name] = int(value) if numeric else value
        rows.append(row)
    return rows[:size]


PATIENTS = _load(DATA, SAMPLE)


def patient(rng: random.Random) -> dict:
    """A real patient of the data set (the API takes its '?' as missing, as cleaning does)."""
    return rng.choice(PATIENTS)


class Clinician(FastHttpUser):
    """One front end sending patients to the API."""

    host = os.environ.get("API_URL", "http://127.0.0.1:8989")
    wait_time = between(0.05, 0.2)
    # Locust's own service credential (predict + read): `make load-test` reads it from the
    # credentials file (make up) or the chart's Secret; unset, every request is a 401.
    default_headers = {"X-API-Key": os.environ.get("API_KEY", "")}

    def on_start(self) -> None:
        self.rng = random.Random()

    @task(20)
    def predict(self) -> None:
        self.client.post("/predict", json=patient(self.rng), name="/predict")

    @task(2)
    def predict_batch(self) -> None:
        patients = [patient(self.rng) for _ in range(50)]
        self.client.post("/predict/batch", json={"patients": patients}, name="/predict/batch")

    @task(1)
    def model(self) -> None:
        self.client.get("/model", name="/model")
