"""The API's settings: one object, env names shared with the chart (DESIGN.md)."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from readmission import drift


class Settings(BaseSettings):
    """Read from the environment once, at startup."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    MLFLOW_TRACKING_URI: str = "http://127.0.0.1:5000"
    MODEL_NAME: str = "diabetes-readmission"
    MODEL_ALIAS: str = "champion"
    MODEL_POLL_SECONDS: float = Field(
        30.0, gt=0, description="How often each replica checks the alias"
    )
    PREDICT_BATCH_LIMIT: int = Field(10_000, ge=1, description="Most patients in one batch request")
    DATA_DB_URL: str | None = Field(
        None, description="Where serving.predictions lives; unset: no log"
    )
    INFERENCE_LOG_BATCH: int = Field(500, ge=1, description="Rows per inference-log insert")
    INFERENCE_LOG_QUEUE: int = Field(50_000, ge=1, description="Rows buffered before dropping")
    INFERENCE_LOG_FLUSH_SECONDS: float = Field(1.0, gt=0)
    MICROBATCH_WINDOW_MS: float = Field(
        1.0, ge=0, le=50, description="Under load, how long /predict waits to batch requests"
    )
    MICROBATCH_MAX: int = Field(64, ge=1, description="Most /predict requests in one model call")
    ADMIN_TOKEN: SecretStr | None = Field(
        None, description="The credential named admin, with the admin scope (reload, keys)"
    )
    AUTH_JWT_ISSUER: str | None = Field(
        None, description="Identity provider whose access tokens (JWT) are accepted; unset: none"
    )
    AUTH_JWT_AUDIENCE: str | None = Field(None, description="The tokens' required audience")
    AUTH_JWKS_URL: str | None = Field(
        None, description="The issuer's signing keys; unset: its OpenID discovery's jwks_uri"
    )
    AUTH_JWT_ALGORITHMS: str = Field("RS256,ES256", description="Accepted signing algorithms")
    AUTH_JWT_SCOPE_PREFIX: str = Field(
        "", description="Prefix of this API's scopes in tokens (e.g. 'readmission:')"
    )
    SERVICE_KEYS: str = Field(
        "",
        description="Service credentials registered at start, 'name:scope,scope' separated by "
        "spaces; each key's value from the env var API_KEY_<NAME> (upper case, - as _)",
    )
    API_KEY_CACHE_SECONDS: float = Field(
        0.5,
        ge=0,
        le=0.5,
        description="A key lookup is fresh this long (served at most twice "
        "this long while it refreshes): a revoked key is refused within 2x",
    )
    RATE_LIMIT_PREDICT: float = Field(
        1000, ge=0, description="Requests/s per credential on predict routes (0: no limit)"
    )
    RATE_LIMIT_READ: float = Field(50, ge=0, description="Requests/s per credential on read routes")
    RATE_LIMIT_ADMIN: float = Field(
        5, ge=0, description="Requests/s per credential on admin routes"
    )
    ACCESS_LOG: bool = Field(
        False, description="One log line per request (Prometheus counts requests either way)"
    )
    DRIFT_WINDOW_ROWS: int = Field(5_000, ge=1, description="Drift window: the last N rows scored")
    DRIFT_WINDOW_SECONDS: float = Field(
        3_600.0, gt=0, description="Drift window: rows older than this leave it"
    )
    DRIFT_MIN_ROWS: int = Field(
        drift.MIN_ROWS, ge=1, description="Rows the window needs before it reports a PSI"
    )
    HOST: str = "0.0.0.0"
    PORT: int = 8989

    def service_keys(self) -> list[tuple[str, str, list[str]]]:
        """(name, key, scopes) of each SERVICE_KEYS entry whose API_KEY_<NAME> is set."""
        found = []
        for entry in self.SERVICE_KEYS.split():
            name, _, scopes = entry.partition(":")
            key = os.environ.get(key_env(name))
            if key:
                found.append((name, key, scopes.split(",")))
        return found

    def rate_limits(self) -> dict[str, float]:
        return {
            "predict": self.RATE_LIMIT_PREDICT,
            "read": self.RATE_LIMIT_READ,
            "admin": self.RATE_LIMIT_ADMIN,
        }


def key_env(name: str) -> str:
    """The env var holding service credential ``name``'s key."""
    return "API_KEY_" + name.upper().replace("-", "_")
