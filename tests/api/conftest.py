"""A real API server process (the image's command) serving a real model from a real MLflow."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import mlflow
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mlflow import MlflowClient
from readmission import contract, stages
from readmission.settings import DEFAULT_SOURCE
from readmission_api import api_keys
from readmission_local.process import free_port, wait_until

ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex
# The tests' service credential (predict + read), registered by every API the tests start.
TEST_KEY = api_keys.new_key()


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

    def client(self, credential: str | None = TEST_KEY, **kwargs) -> httpx.Client:
        """A client sending ``credential`` (the tests' predict + read key; None: nothing)."""
        headers = {"X-API-Key": credential} if credential else {}
        return httpx.Client(base_url=self.url, timeout=30, headers=headers, **kwargs)


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


class IdentityProvider:
    """An OAuth2 issuer of the tests' own: an RSA key, its JWKS and OpenID discovery served over
    HTTP (the API fetches them as from a real one), and signed access tokens."""

    def __init__(self, url: str, audience: str = "readmission-api"):
        self.url, self.audience = url, audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.documents = {
            "/.well-known/openid-configuration": {"issuer": url, "jwks_uri": f"{url}/jwks"},
            "/jwks": {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]},
        }

    def token(self, scopes: str, client: str = "tests-jwt", ttl: float = 300, **change) -> str:
        """An access token; ``change``: claims to override, ``key="foreign"`` to sign elsewhere."""
        key = self.foreign if change.pop("key", None) == "foreign" else self.key
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "user-1",
            "azp": client,
            "scope": scopes,
            "iat": now,
            "exp": now + int(ttl),
            **change,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    port = free_port()
    provider = IdentityProvider(f"http://127.0.0.1:{port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            document = provider.documents.get(self.path)
            body = json.dumps(document).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield provider
    server.shutdown()


@pytest.fixture(scope="session")
def api_env(registered, mlflow_uri, postgres, idp) -> dict[str, str]:
    postgres.create_database("api_log")
    return {
        "AUTH_JWT_ISSUER": idp.url,  # its JWKS found by OpenID discovery
        "AUTH_JWT_AUDIENCE": idp.audience,
        "ACCESS_LOG": "true",  # one line per request: searched for patient values too
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MODEL_NAME": registered.name,
        "MODEL_POLL_SECONDS": "1",
        "DATA_DB_URL": postgres.url("api_log"),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SERVICE_KEYS": "tests:predict,read",
        "API_KEY_TESTS": TEST_KEY,
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
