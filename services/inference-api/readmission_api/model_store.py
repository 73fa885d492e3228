"""The served model: loaded from the registry, polled, and swapped atomically.

Requests read ``store.current`` once and keep that reference, so a swap never affects a request
already running: it finishes on the model it started with. A failed load keeps the old model.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from readmission import contract, drift, model_card
from sklearn.pipeline import Pipeline

from readmission_api import loading, metrics, registry, scoring
from readmission_api.drift import DriftWindow
from readmission_api.registry import NotFound, Registry
from readmission_api.settings import Settings

log = logging.getLogger(__name__)
PROMOTION = "promotion."  # the prefix of the promotion decision's version tags
FIRST_MODEL_POLL_SECONDS = 1.0  # how often a replica with no model yet checks the alias


class NoModelError(RuntimeError):
    """No model is loaded yet (no champion, or the registry was never reachable)."""


@dataclass(frozen=True)
class LoadedModel:
    """One registered version, ready to predict."""

    name: str
    alias: str
    version: str
    run_id: str
    pipeline: Pipeline
    scorer: scoring.Scorer
    threshold: float
    family: str | None
    calibration: str | None
    metrics: dict[str, float]
    promoted_at: str | None
    promotion_reason: str | None
    promotion: dict[str, str]
    subgroups: list[dict[str, Any]]
    drift: DriftWindow | None  # None: a model logged without a drift reference
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """P(readmitted within 30 days) for validated rows (the contract's columns)."""
        return self.scorer.predict_proba(rows)


def _subgroups(registry: Registry, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The model card's subgroup table (``mlflow.log_table``'s JSON), or [] without one."""
    try:
        table = json.loads(registry.run_artifact(run, model_card.SUBGROUPS_PATH))
    except Exception as exc:  # a model from before model cards, or the artifact is missing
        log.info("no subgroup table for run %s: %s", run["info"]["run_id"], exc)
        return []
    # A metric that does not apply to a small group is NaN there; JSON has null for it.
    columns = table["columns"]
    return [
        {c: None if isinstance(v, float) and v != v else v for c, v in zip(columns, r, strict=True)}
        for r in table["data"]
    ]


def _drift_window(
    registry: Registry, run: dict[str, Any], settings: Settings
) -> DriftWindow | None:
    """A fresh window over the run's training-split bins, or None for a run without them."""
    try:
        binnings = drift.load(registry.run_artifact(run, drift.REFERENCE_PATH))
    except Exception as exc:
        log.info("no drift reference for run %s: %s", run["info"]["run_id"], exc)
        return None
    return DriftWindow(binnings, settings.DRIFT_WINDOW_ROWS, settings.DRIFT_WINDOW_SECONDS)


def prepare(folder: Path, version: str) -> scoring.Scorer:
    """The downloaded model, loaded and compiled (and the compiled path checked against the
    pipeline on its input example): run in the loading child (``loading.in_child``)."""
    pipeline = loading.load_pipeline(folder)
    return scoring.build(pipeline, loading.input_example(folder), version)


def _release_free_heap() -> None:
    """Hand the heap pages freed by loading back to the OS (glibc keeps them otherwise)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if hasattr(libc, "malloc_trim"):  # glibc only
        libc.malloc_trim(0)


def _settle() -> None:
    """After a load: collect the garbage of loading, give its memory back, then move what is
    left (the model, its tables) out of the collector's sight, so later collections stay short
    (no GC pause of a full heap walk in a request's tail). Objects still go when nothing refers
    to them."""
    gc.collect()
    _release_free_heap()
    gc.freeze()


def _publish(loaded: LoadedModel) -> None:
    """The served version's gauges (only the current version has a series)."""
    for gauge in (metrics.MODEL_INFO, metrics.PROMOTED_AT, metrics.SERVING_PATH):
        gauge.clear()
    metrics.MODEL_INFO.labels(version=loaded.version, run_id=loaded.run_id).set(1)
    if loaded.promoted_at:
        promoted = datetime.fromisoformat(loaded.promoted_at).timestamp()
        metrics.PROMOTED_AT.labels(version=loaded.version).set(promoted)
    metrics.SERVING_PATH.labels(path=loaded.scorer.path, version=loaded.version).set(1)


class ModelStore:
    """Holds the current model and keeps it in step with ``MODEL_NAME@MODEL_ALIAS``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.registry = Registry(settings.MLFLOW_TRACKING_URI)
        self._current: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel:
        loaded = self._current
        if loaded is None:
            reason = f" ({self.last_error})" if self.last_error else ""
            raise NoModelError(
                f"no model loaded yet: waiting for {self.settings.MODEL_NAME}@"
                f"{self.settings.MODEL_ALIAS} in the registry{reason}"
            )
        return loaded

    @property
    def loaded(self) -> LoadedModel | None:
        """The current model, or None (``current`` raises instead)."""
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def _load(self, version: str) -> LoadedModel:
        name, alias = self.settings.MODEL_NAME, self.settings.MODEL_ALIAS
        details = self.registry.version(name, version)
        tags = registry.tags(details)
        with tempfile.TemporaryDirectory(prefix="readmission-model-") as folder:
            local = self.registry.download_model(name, version, Path(folder))
            scorer = loading.in_child(prepare, local, str(version))
        log.info("version %s is served by the %s path: %s", version, scorer.path, scorer.reason)
        pipeline = scorer.pipeline
        run = self.registry.run(details["run_id"])
        run_metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
        loaded = LoadedModel(
            name=name,
            alias=alias,
            version=str(version),
            run_id=details["run_id"],
            pipeline=pipeline,
            scorer=scorer,
            threshold=float(pipeline.named_steps["classifier"].threshold),
            family=tags.get("family"),
            calibration=tags.get("calibration"),
            metrics={k: v for k, v in run_metrics.items() if k.startswith(("test_", "val_"))},
            promoted_at=tags.get("promotion.promoted_at"),
            promotion_reason=tags.get("promotion.reason"),
            promotion={k[len(PROMOTION) :]: v for k, v in tags.items() if k.startswith(PROMOTION)},
            subgroups=_subgroups(self.registry, run),
            drift=_drift_window(self.registry, run, self.settings),
        )
        # Warm up (and prove it works) before it may take traffic.
        loaded.predict_proba([contract.default_patient()])
        return loaded

    def refresh(self) -> str:
        """Check the alias; load and swap in a new version. Returns what happened."""
        with self._load_lock:
            name, alias = self.settings.MODEL_NAME, self.settings.MODEL_ALIAS
            try:
                version = self.registry.version_by_alias(name, alias)["version"]
            except NotFound:
                self.last_error = f"{name}@{alias} does not exist yet"
                return "absent"
            except Exception as exc:  # unreachable, or an error answer
                return self._failed("unreachable", f"registry error: {exc}")
            current = self._current
            if current is not None and current.version == str(version):
                return "unchanged"
            try:
                loaded = self._load(version)
            except Exception as exc:
                return self._failed("failure", f"loading version {version} failed: {exc}")
            self._current = loaded  # the atomic swap: one reference assignment
            _settle()
            _publish(loaded)
            metrics.RELOADS.labels(result="success").inc()
            self.last_error = None
            old = current.version if current else None
            log.info("serving %s version %s (was %s)", name, loaded.version, old)
            return "swapped"

    def _failed(self, result: str, message: str) -> str:
        metrics.RELOADS.labels(result=result).inc()
        self.last_error = message
        keeping = f"; keeping version {self._current.version}" if self._current else ""
        log.warning("%s%s", message, keeping)
        return result

    def poll_seconds(self) -> float:
        """Seconds to the next check: MODEL_POLL_SECONDS once a model serves; until then at most
        FIRST_MODEL_POLL_SECONDS, so a fresh install serves its first champion within a second
        of its promotion (a check is one registry call)."""
        every = self.settings.MODEL_POLL_SECONDS
        return every if self._current else min(every, FIRST_MODEL_POLL_SECONDS)

    def start_polling(self) -> None:
        """Load the champion, then poll every MODEL_POLL_SECONDS, in a background thread: the
        API answers at once (live; not ready, 503 on predictions, until the model is in)."""

        def loop() -> None:
            log.info("startup model check: %s", self.refresh())
            while not self._stop.wait(self.poll_seconds()):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.registry.close()
