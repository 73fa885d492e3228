"""Online drift: the served model's recent patients against its training split.

Each model version brings its reference (``readmission.drift.REFERENCE_PATH``, logged at
training); its window counts the last ``DRIFT_WINDOW_ROWS`` rows it scored, none older than
``DRIFT_WINDOW_SECONDS``, into the same bins. The PSI per feature (and of the predicted
probability) is computed when Prometheus scrapes, from ``DRIFT_MIN_ROWS`` rows on; a new champion
starts a new window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from readmission import drift

from readmission_api import metrics


class DriftWindow:
    """Bin counts of a sliding window of scored rows (thread-safe; O(features) per row)."""

    def __init__(self, binnings: dict[str, drift.Binning], size: int, seconds: float):
        self.binnings = binnings
        self.size, self.seconds = size, seconds
        sizes = [b.size for b in binnings.values()]
        self._offsets = np.cumsum([0, *sizes])
        self._counts = np.zeros(int(self._offsets[-1]), dtype=np.int64)
        self._rows: deque[tuple[float, np.ndarray]] = deque()
        self._lock = threading.Lock()

    def observe(self, rows: Sequence[dict[str, Any]], proba: Sequence[float]) -> None:
        now = time.monotonic()
        entries = []
        for row, p in zip(rows, proba, strict=True):
            bins = [
                b.bin(p if name == drift.PROBABILITY else row.get(name))
                for name, b in self.binnings.items()
            ]
            entries.append(self._offsets[:-1] + bins)
        with self._lock:
            for flat in entries:
                self._counts[flat] += 1
                self._rows.append((now, flat))
            self._evict(now)

    def _evict(self, now: float) -> None:
        while self._rows and (len(self._rows) > self.size or self._rows[0][0] < now - self.seconds):
            self._counts[self._rows.popleft()[1]] -= 1

    def snapshot(self) -> tuple[int, dict[str, np.ndarray]]:
        """(rows in the window, bin counts per feature)."""
        with self._lock:
            self._evict(time.monotonic())
            counts, rows = self._counts.copy(), len(self._rows)
        cuts = self._offsets
        return rows, {n: counts[cuts[i] : cuts[i + 1]] for i, n in enumerate(self.binnings)}

    def psi(self) -> tuple[int, dict[str, float]]:
        """(rows in the window, PSI per feature)."""
        rows, counts = self.snapshot()
        return rows, psi_of(self.binnings, counts)


def psi_of(binnings: dict[str, drift.Binning], counts: dict[str, np.ndarray]) -> dict[str, float]:
    """PSI per feature of a snapshot's bin counts."""
    return {n: drift.psi(binnings[n].expected, c) for n, c in counts.items()}


def _bin_labels(binning: drift.Binning) -> list[str]:
    """A numeric binning's value bins by their upper edge (the probability's histogram)."""
    return [f"{e:.4f}" for e in binning.edges or []] + ["+Inf"]


class DriftCollector:
    """Exports the current model's window when Prometheus scrapes (no cost per request)."""

    def __init__(self) -> None:
        self.source: Any = None  # the ModelStore, set when the app starts
        self.min_rows = 1

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows_family = GaugeMetricFamily(
            metrics.DRIFT_ROWS, "Rows in the drift window", labels=["model_version"]
        )
        psi_family = GaugeMetricFamily(
            metrics.FEATURE_PSI,
            f"PSI of the window against the training split (from {self.min_rows} rows)",
            labels=["feature", "model_version"],
        )
        shares_family = GaugeMetricFamily(
            metrics.PROBABILITY_SHARE,
            "Share of predicted probabilities per bin: the window's and the training split's",
            labels=["bin", "population", "model_version"],
        )
        loaded = getattr(self.source, "loaded", None)
        window = getattr(loaded, "drift", None)
        if window is not None:
            rows, counts = window.snapshot()
            version = loaded.version
            rows_family.add_metric([version], rows)
            if rows >= self.min_rows:
                for name, value in psi_of(window.binnings, counts).items():
                    psi_family.add_metric([name, version], value)
                self._shares(shares_family, window.binnings[drift.PROBABILITY], counts, version)
        yield rows_family
        yield psi_family
        yield shares_family

    @staticmethod
    def _shares(
        family: GaugeMetricFamily, binning: drift.Binning, counts: dict, version: str
    ) -> None:
        now = counts[drift.PROBABILITY] / max(counts[drift.PROBABILITY].sum(), 1)
        for i, label in enumerate(_bin_labels(binning)):
            family.add_metric([label, "window", version], float(now[i]))
            family.add_metric([label, "reference", version], binning.expected[i])


COLLECTOR = DriftCollector()
REGISTRY.register(COLLECTOR)
