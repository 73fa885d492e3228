"""Threshold choice, metrics and settings."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from readmission.evaluate import choose_threshold, classification_metrics
from readmission.settings import Settings


def test_threshold_maximises_f1_on_a_separable_case() -> None:
    y = np.array([0, 0, 0, 1, 1])
    proba = np.array([0.1, 0.2, 0.3, 0.6, 0.9])
    threshold = choose_threshold(y, proba)
    assert 0.3 < threshold <= 0.6
    assert classification_metrics(y, proba, threshold)["f1"] == 1.0


def test_brier_baseline_is_the_prevalence_variance() -> None:
    y = np.array([0] * 8 + [1] * 2)
    metrics = classification_metrics(y, np.full(10, 0.2), 0.5)
    assert metrics["brier"] == pytest.approx(metrics["brier_baseline"]) == pytest.approx(0.16)


def test_settings_read_the_design_env_names(monkeypatch) -> None:
    monkeypatch.setenv("DATA_DB_URL", "postgresql://u@h:1/d")
    monkeypatch.setenv("BATCH_SIZE", "500")
    monkeypatch.setenv("MODEL_ALIAS", "staging")
    settings = Settings()
    assert (settings.DATA_DB_URL, settings.BATCH_SIZE, settings.MODEL_ALIAS) == (
        "postgresql://u@h:1/d",
        500,
        "staging",
    )


def test_a_nonsense_batch_size_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "0")
    with pytest.raises(ValidationError, match="BATCH_SIZE"):
        Settings()
