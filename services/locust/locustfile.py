"""Load test of the inference API (HTTP only, at API_URL / --host).

Mostly single predictions of varied realistic patients, some batches, some model reads —
the mix a clinic front end would send. Run headless, bounded in users, rate and time:

    locust -f services/locust/locustfile.py --host http://127.0.0.1:8989 \\
        --headless -u 20 -r 5 -t 1m --only-summary
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task
from readmission import contract

AGES = contract.AGE_BRACKETS[3:]


def patient(rng: random.Random) -> dict:
    """The default patient with the features that matter most varied."""
    body = contract.default_patient()
    body.update(
        age=rng.choice(AGES),
        time_in_hospital=rng.randint(1, 14),
        number_inpatient=rng.choice((0, 0, 0, 1, 2, 4, 8)),
        number_emergency=rng.choice((0, 0, 1, 3)),
        num_medications=rng.randint(1, 60),
        discharge_disposition_id=rng.choice((1, 1, 3, 6, 22)),
        A1Cresult=rng.choice(contract.BY_NAME["A1Cresult"].allowed),
        diag_1=rng.choice(("428", "414", "786", "410", "486", "250.8", "V57")),
    )
    return body


class Clinician(FastHttpUser):
    """One front end sending patients to the API."""

    host = os.environ.get("API_URL", "http://127.0.0.1:8989")
    wait_time = between(0.05, 0.2)

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
