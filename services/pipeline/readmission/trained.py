"""The training data and what training makes of it: the types ``train`` builds and
``tracking`` logs, in a module of their own so that neither imports the other's internals."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sqlalchemy.engine import Engine

from readmission import contract, db, lineage, model
from readmission.lineage import Lineage
from readmission.settings import Settings


@dataclass
class Dataset:
    """The clean rows with their lineage (which batches, how many rows per split)."""

    frame: pd.DataFrame
    lineage: Lineage
    # splits → (model frame, labels): slices of one frame, built once, read by every trial,
    # report and check.
    _parts: dict[tuple[str, ...], tuple[pd.DataFrame, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def rows(self, split: str) -> pd.DataFrame:
        return self.frame[self.frame["split"] == split]

    def part(self, *splits: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The model's columns and the labels of one split, or of consecutive splits in
        ``db.SPLITS`` order ("train", "val": the refit's rows, without a concatenated copy).
        Row slices of one model frame, the same objects on every call: don't modify them."""
        if splits not in self._parts:
            frame, labels, bounds = self._by_split
            first, last = db.SPLITS.index(splits[0]), db.SPLITS.index(splits[-1])
            if splits != db.SPLITS[first : last + 1]:
                raise ValueError(f"splits {splits} are not consecutive in {db.SPLITS}")
            start, stop = bounds[first], bounds[last + 1]
            self._parts[splits] = frame.iloc[start:stop], labels[start:stop]
        return self._parts[splits]

    @cached_property
    def _by_split(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Every row's model columns and label, ordered by split (``db.SPLITS``; each split's
        rows in the order of ``rows(split)``), and where each split starts (and the end)."""
        rank = self.frame["split"].map({s: i for i, s in enumerate(db.SPLITS)}).to_numpy()
        order = np.argsort(rank, kind="stable")
        labels = self.frame[contract.LABEL].to_numpy()[order]
        bounds = np.searchsorted(rank[order], np.arange(len(db.SPLITS) + 1))
        return model.to_model_frame(self.frame).iloc[order], labels, bounds

    def patients(self, split: str) -> np.ndarray:
        return self.rows(split)["patient_nbr"].to_numpy()

    @property
    def tags(self) -> dict[str, Any]:
        counts = self.frame["split"].value_counts()
        return {
            "data.table": f"{db.CLEAN_SCHEMA}.{db.diabetes_clean.name}",
            "data.batch_ids": ",".join(map(str, self.lineage.batch_ids)),
            "data.n_batches": len(self.lineage.batch_ids),
            "data.n_rows": len(self.frame),
            **{f"data.n_{s}": int(counts.get(s, 0)) for s in db.SPLITS},
            **self.lineage.tags,
        }


@dataclass
class Candidate:
    """A tuned, calibrated model family: its pipeline, params, threshold and scores."""

    family: str
    pipeline: Pipeline
    params: dict[str, Any]
    features: str  # the feature set (readmission.clinical.FEATURE_SETS)
    val: dict[str, float]
    test: dict[str, float]
    trials: list[dict[str, Any]] = field(default_factory=list)
    calibration: dict[str, Any] = field(default_factory=dict)
    # P(readmitted) on the test split, as served and before calibration (for the reports).
    test_proba: np.ndarray | None = None
    test_raw: np.ndarray | None = None
    train_seconds: float = 0.0
    run_id: str | None = None
    model_uri: str | None = None


def load_dataset(engine: Engine, settings: Settings) -> Dataset:
    """All clean rows and their lineage; raises if a split is empty (nothing to judge on)."""
    with engine.connect() as conn:
        frame = db.read_table(conn, db.diabetes_clean)
    present = set(frame["split"]) if len(frame) else set()
    if not set(db.SPLITS) <= present:
        raise RuntimeError(
            f"clean data has splits {sorted(present)}; need train, val and test — "
            "ingest and clean at least one batch first"
        )
    return Dataset(frame, lineage.current(engine, settings))
