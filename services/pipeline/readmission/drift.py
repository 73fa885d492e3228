"""Population stability: the patients a model sees against the ones it was trained on.

At training, ``reference()`` bins the key features of the training split (the top ones by
importance plus the ones clinicians watch) and the predicted probability, and the proportions
are logged with the model (``REFERENCE_PATH``). The API (a sliding window of requests) and the
monitor DAG (the inference log) count recent rows into the SAME bins and compare with ``psi()``:
one rule, read from one file, so the online and offline figures agree.

PSI = Σ (a - e) · ln(a / e) over the bins, with each proportion floored at ``FLOOR`` (an empty
bin would make it infinite). Reading it, as the field does: < 0.1 stable, 0.1 to 0.2 a shift worth
a look, > 0.2 a population the model was not trained on.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from readmission import contract

REFERENCE_PATH = "drift/reference.json"
PROBABILITY = "probability"  # the pseudo-feature of the predicted probability
WATCHED = ("age", "discharge_disposition_id", "admission_type_id", "number_inpatient")
TOP = 10  # features by importance, besides the watched ones
QUANTILES = 10  # bins of a numeric feature (fewer when values repeat)
MIN_SHARE = 0.005  # a category rarer than this in training counts as "other"
MAX_CATEGORIES = 40
FLOOR = 1e-4
STABLE, SHIFTED = 0.1, 0.2  # the field's reading of a PSI
MIN_ROWS = 500  # fewer rows: sampling noise alone can pass STABLE on a 40-bin feature


@dataclass(frozen=True)
class Binning:
    """How one feature's values fall into bins, and the training split's share of each."""

    feature: str
    edges: list[float] | None  # numeric: bin i holds edges[i-1] <= v < edges[i]
    categories: list[str] | None  # categorical: these, then "other"
    expected: list[float]  # training proportions: the value bins, then one for missing

    @property
    def size(self) -> int:
        return len(self.expected)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories or [])}

    def bin(self, value: Any) -> int:
        """The bin of one value (the last bin: missing)."""
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return self.size - 1
        if self.edges is not None:
            return bisect.bisect_right(self.edges, float(value))
        return self._positions.get(str(value), self.size - 2)  # else "other"

    def counts(self, values: Iterable[Any]) -> np.ndarray:
        return np.bincount([self.bin(v) for v in values], minlength=self.size)


def psi(expected: Iterable[float], counts: Iterable[float]) -> float:
    """The population stability index of ``counts`` against the ``expected`` proportions."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total == 0:
        return 0.0
    e = np.maximum(np.asarray(list(expected), dtype=float), FLOOR)
    a = np.maximum(counts / total, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(feature: str, values: pd.Series) -> Binning:
    present = values.dropna().astype(float)
    qs = np.linspace(0, 1, QUANTILES + 1)[1:-1]
    edges = sorted(set(np.quantile(present, qs).tolist())) if len(present) else []
    binning = Binning(feature, edges, None, [0.0] * (len(edges) + 2))
    return _with_shares(binning, values)


def _categorical(feature: str, values: pd.Series) -> Binning:
    shares = values.dropna().astype(str).value_counts(normalize=True)
    kept = [str(c) for c, s in shares.items() if s >= MIN_SHARE][:MAX_CATEGORIES]
    binning = Binning(feature, None, kept, [0.0] * (len(kept) + 2))
    return _with_shares(binning, values)


def _with_shares(binning: Binning, values: pd.Series) -> Binning:
    counts = binning.counts(values)
    shares = (counts / max(counts.sum(), 1)).round(6).tolist()
    return Binning(binning.feature, binning.edges, binning.categories, shares)


def watched_features(importance: Mapping[str, float]) -> list[str]:
    """The top ``TOP`` features by importance, then the always-watched ones."""
    top = sorted(importance, key=lambda f: -importance[f])[:TOP]
    return top + [f for f in WATCHED if f not in top]


def binning_for(feature: str, values: pd.Series) -> Binning:
    kind = contract.BY_NAME[feature].kind if feature in contract.BY_NAME else None
    numeric = kind is contract.Kind.INTEGER or feature == PROBABILITY
    return _numeric(feature, values) if numeric else _categorical(feature, values)


def reference(
    features: pd.DataFrame, proba: np.ndarray, importance: Mapping[str, float]
) -> dict[str, Any]:
    """The training split's bins (JSON-ready): watched features and the probability."""
    names = watched_features(importance)
    binnings = [binning_for(f, features[f]) for f in names]
    binnings.append(binning_for(PROBABILITY, pd.Series(proba, dtype=float)))
    return {
        "rows": len(features),
        "importance": {f: round(float(importance[f]), 6) for f in names if f in importance},
        "features": [asdict(b) for b in binnings],
    }


def load(document: str | bytes | Mapping[str, Any]) -> dict[str, Binning]:
    """Feature → Binning, from the logged reference (the JSON text or its parsed form)."""
    data = json.loads(document) if isinstance(document, str | bytes) else document
    return {f["feature"]: Binning(**f) for f in data["features"]}


def report(binnings: Mapping[str, Binning], rows: pd.DataFrame) -> pd.DataFrame:
    """PSI per feature of ``rows`` (the features, and ``probability``) against the reference."""
    out = []
    for name, binning in binnings.items():
        counts = binning.counts(rows[name])
        out.append({"feature": name, "psi": psi(binning.expected, counts), "rows": len(rows)})
    return pd.DataFrame(out)
