"""Locust users of `make bench-api`: the same real rows, to our API and to `mlflow models serve`.

No think time: each user sends its next request as soon as the last one is answered (a closed
loop), so the requests per second are what the server holds with that many clients.
BENCH_PAYLOADS names a JSON file of request bodies (real rows of the data set).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, constant, task

ROWS = json.loads(Path(os.environ["BENCH_PAYLOADS"]).read_text())


class OurApi(FastHttpUser):
    wait_time = constant(0)
    default_headers = {"X-API-Key": os.environ.get("API_KEY", "")}  # authentication on

    @task
    def predict(self) -> None:
        self.client.post("/predict", json=random.choice(ROWS), name="predict")


class MlflowServe(FastHttpUser):
    wait_time = constant(0)

    @task
    def predict(self) -> None:
        body = {"dataframe_records": [random.choice(ROWS)]}
        self.client.post("/invocations", json=body, name="predict")
