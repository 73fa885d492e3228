"""One settings object for the pipeline; env names are the ones the chart and Makefile set."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from readmission import clinical, drift

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SOURCE = REPO_ROOT / "data" / "diabetic_data.csv.gz"


class Settings(BaseSettings):
    """Pipeline configuration, read from the environment (see DESIGN.md for the names)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    DATA_DB_URL: str = Field(
        "postgresql://postgres@127.0.0.1:5432/readmission",
        description="SQLAlchemy URL of the data database (raw_data, clean_data, serving)",
    )
    DATA_SOURCE_URI: str = Field(
        str(DEFAULT_SOURCE),
        description="Where the CSV (optionally .gz) is read from: a path or file://",
    )
    BATCH_SIZE: int = Field(15_000, gt=0, description="Rows per ingested batch")
    MLFLOW_TRACKING_URI: str = Field("http://127.0.0.1:5000")
    MLFLOW_EXPERIMENT: str = Field("diabetes-readmission")
    MODEL_NAME: str = Field("diabetes-readmission")
    MODEL_ALIAS: str = Field("champion")
    SPLIT_SALT: str = Field(
        "diabetes-readmission-v1",
        description="Salt of the patient hash that assigns splits; changing it reshuffles splits",
    )
    PROMOTION_MARGIN: float = Field(
        0.002,
        ge=0.0,
        description="The lower bound of the interval of (challenger - champion) test ROC-AUC "
        "must exceed this for the challenger to take the alias",
    )
    PROMOTION_CONFIDENCE: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence of the bootstrap intervals (two-sided)"
    )
    BOOTSTRAP_SAMPLES: int = Field(
        1000, ge=100, description="Patient-level bootstrap resamples behind every interval"
    )
    MIN_ROC_AUC: float = Field(0.62, ge=0.5, le=1.0, description="Quality gate for any champion")
    TUNING_TRIALS: int = Field(6, ge=1, description="LightGBM configurations tried on val")
    FEATURE_SETS: str = Field(
        "base,clinical",
        description="Comma-separated feature sets the training search compares on val "
        "(base: the data set's columns; clinical: + CCS groups, chapters, chronic flags)",
    )
    QUICK_FIRST_MODEL: bool = Field(
        False,
        description="With no champion yet, train one configuration of the base feature set (a "
        "first model within a minute, the same gate); the next training runs the full search",
    )
    RANDOM_SEED: int = Field(42)
    TRAIN_THREADS: int | None = Field(
        None,
        ge=1,
        description="LightGBM's threads; unset: the physical cores this process may use "
        "(container limits included). Two trainings sharing cores: give each its share",
    )
    DRIFT_RETRAIN_PSI: float = Field(
        drift.SHIFTED, gt=0, description="diabetes_monitor asks for a retrain past this PSI"
    )
    DRIFT_MIN_ROWS: int = Field(
        drift.MIN_ROWS, ge=1, description="Rows a drift figure needs (the API's window too)"
    )
    DRIFT_WINDOW_HOURS: float = Field(
        24.0, gt=0, description="diabetes_monitor reads the inference log of this many hours"
    )
    INFERENCE_LOG_RETENTION_DAYS: float = Field(
        90.0,
        gt=0,
        description="diabetes_monitor deletes the inference log's rows (patients' features) "
        "older than this many days",
    )

    @field_validator("FEATURE_SETS")
    @classmethod
    def _known_sets(cls, value: str) -> str:
        for name in value.split(","):
            clinical.check(name.strip())
        return value

    @property
    def feature_sets(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.FEATURE_SETS.split(","))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()
