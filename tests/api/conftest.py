"""A real API server process (the image's command) serving a real model from a real MLflow."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from readmission import contract, stages
from readmission.settings import DEFAULT_SOURCE
from readmission_local.process import free_port, wait_until

ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex


@dataclass
class Registered:
    """A model name of the API tests' own, with version 1 as champion."""

    name: str
    model_uri: str

    def register_new_champion(self) -> str:
        version = mlflow.register_model(self.model_uri, self.name).version
        MlflowClient().set_registered_model_alias(self.name, "champion", version)
        return str(version)


@pytest.fixture(scope="session")
def registered(champion) -> Registered:
    """The session champion promoted under the API tests' own name (decision tags and all)."""
    reg = Registered(f"api-test-{uuid.uuid4().hex[:6]}", champion.trained["model_uri"])
    settings = champion.settings.model_copy(update={"MODEL_NAME": reg.name})
    assert stages.promote(settings, champion.trained)["promoted"] is True
    return reg


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def start_api(tmp_path_factory) -> Callable[..., Iterator[Server]]:
    """``with start_api(env) as server``: run `python -m readmission_api` until ready (or up)."""

    @contextmanager
    def start(env: dict[str, str], wait_ready: bool = True) -> Iterator[Server]:
        port = free_port()
        log = tmp_path_factory.mktemp("api") / "api.log"
        full_env = {
            **os.environ,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            # The API loads skops models itself: MLflow's switch for its loader stays off.
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
            **env,
        }
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "readmission_api"],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(f"http://127.0.0.1:{port}", proc, log)
        path = "/health/ready" if wait_ready else "/health/live"

        def up() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(server.url + path, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, 120, "the API", log)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    return start


@pytest.fixture(scope="session")
def api_env(registered, mlflow_uri, postgres) -> dict[str, str]:
    postgres.create_database("api_log")
    return {
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MODEL_NAME": registered.name,
        "MODEL_POLL_SECONDS": "1",
        "DATA_DB_URL": postgres.url("api_log"),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "PREDICT_BATCH_LIMIT": "500",
        "INFERENCE_LOG_FLUSH_SECONDS": "0.2",
    }


@pytest.fixture(scope="session")
def api(start_api, api_env) -> Iterator[Server]:
    """The shared server (tests that change the alias or stop things start their own)."""
    with start_api(api_env) as server:
        yield server


def patients(n: int, seed: int = 0) -> list[dict]:
    """Valid request bodies from real rows of the data set (``?`` → null, integers as such)."""
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False, nrows=5_000)
    # Encounters the model is not for (death, hospice) are refused by design: leave them out.
    in_scope = ~frame["discharge_disposition_id"].astype(int).isin(contract.NOT_READMITTABLE)
    frame = frame[in_scope].sample(n, random_state=seed)[list(contract.FEATURE_NAMES)]
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for col in contract.FEATURES:
            value = record[col.name]
            if value == contract.MISSING:
                row[col.name] = None
            elif col.kind in (contract.Kind.INTEGER, contract.Kind.CODE):
                row[col.name] = int(value)
            else:
                row[col.name] = value
        rows.append(row)
    return rows
