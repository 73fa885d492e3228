"""The API's settings: one object, env names shared with the chart (DESIGN.md)."""

from __future__ import annotations

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
    ADMIN_TOKEN: SecretStr | None = Field(None, description="Bearer token of POST /admin/reload")
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
