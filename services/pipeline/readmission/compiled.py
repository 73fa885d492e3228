"""A fitted pipeline compiled for serving: lookup tables to the feature vector, estimator called
directly.

Every step of the preprocessing works column by column (imputers, one-hot and ordinal
encoders, target encoders, the clinical lookups, log + scaling), so what one input column
contributes to the encoded vector depends on that column's value alone. Compiling runs the
fitted ``ColumnTransformer`` itself once over every value a column can take (the contract's
closed sets and integer ranges, the categories the encoders learnt, the vocabulary's codes for
the diagnoses) and keeps, per column, ``value → its slice of the vector``. A patient is then
encoded with one dict lookup per column; no pandas, no ``ColumnTransformer`` per call.

The estimator is called directly: LightGBM's ``Booster.predict`` on one thread, or the
logistic model's coefficients; then the fitted calibrator, as ``CalibratedClassifierCV`` does.
``verify`` compares with the pipeline's own ``predict_proba``: a compiled model is used only
when it reproduces the pipeline (the logged pipeline stays the source of truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from readmission import clinical, contract, explain, model

UNSEEN = "\x00unseen"  # a text value no encoder has seen: how unseen values are encoded
TOLERANCE = 1e-9


class NotCompilable(Exception):
    """The pipeline has a step the compiler does not know; serve it as it is."""


@dataclass(frozen=True)
class ColumnTable:
    """What one input column writes into the encoded vector: one row of ``block`` per value."""

    name: str
    positions: np.ndarray  # where in the vector
    index: dict[Any, int]  # value → its row of ``block``
    block: np.ndarray  # (distinct encodings, positions)
    unseen: int | None  # the row of a value outside ``index`` (open text columns), else KeyError

    def rows(self, values: list[Any]) -> list[int]:
        index, unseen = self.index, self.unseen
        try:
            return [index[v] if unseen is None else index.get(v, unseen) for v in values]
        except KeyError as exc:
            raise KeyError(f"{self.name}={exc.args[0]!r} is outside what the model knows") from None


def _domain(col: contract.Column, preprocess: Any) -> list[Any]:
    """Every value of ``col`` the compiled model must know, missing (None) included."""
    if col.kind is contract.Kind.INTEGER:
        return list(range(col.minimum, col.maximum + 1))
    if col.kind is contract.Kind.CODE:
        return [int(c) for c in col.allowed]
    values: set[Any] = set(col.allowed or ())
    if col.nullable:  # the encoders' own word for missing is a value a request could send
        values.add(model.MISSING_CATEGORY)
    for _, transformer, columns in preprocess.transformers_:
        steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else []
        last = steps[-1] if steps else transformer
        if col.name in columns and hasattr(last, "categories_"):
            values.update(str(v) for v in last.categories_[list(columns).index(col.name)])
        # The codes of the model's own clinical lookups (not today's vocabulary: the model's).
        lookups = (clinical.codes_in(getattr(s, "func", None)) for s in steps or [transformer])
        if col.name in columns:
            values.update(*(codes for codes in lookups if codes is not None))
    return [None, *sorted(values)] if col.nullable else sorted(values)


def _tables(preprocess: Any, sources: np.ndarray) -> tuple[ColumnTable, ...]:
    """Every column's table from ONE transform: row i holds the i-th value of each column's
    domain (columns with fewer values repeat their first one; each column's output depends on
    its own value only)."""
    columns = [c for c in contract.FEATURES if (sources == c.name).any()]
    domains = {
        c.name: _domain(c, preprocess) + ([UNSEEN] if c.kind is contract.Kind.TEXT else [])
        for c in columns
    }
    rows = max(len(d) for d in domains.values())
    frame = pd.DataFrame(
        {name: pd.Series(d + [d[0]] * (rows - len(d)), dtype=object) for name, d in domains.items()}
    )
    encoded = model.dense(preprocess.transform(model.to_model_frame(frame)))
    tables = []
    for col in columns:
        positions = np.flatnonzero(sources == col.name)
        domain = domains[col.name]
        # Values that encode alike share a row (most diagnosis codes differ by group only).
        encodings = encoded[: len(domain)][:, positions]
        block, rows_of = np.unique(encodings, axis=0, return_inverse=True)
        index = {v: int(r) for v, r in zip(domain, rows_of.ravel(), strict=True)}
        unseen = index.pop(UNSEEN, None)  # open text columns only
        tables.append(ColumnTable(col.name, positions, index, block, unseen))
    return tuple(tables)


@dataclass(frozen=True)
class CompiledModel:
    """Encodes validated patients with lookup tables and scores them without the pipeline."""

    tables: tuple[ColumnTable, ...]
    width: int
    score: Any  # encoded rows → P(readmitted): a DirectScore

    def encode(self, rows: list[dict[str, Any]]) -> np.ndarray:
        out = np.empty((len(rows), self.width))
        for table in self.tables:
            picked = table.rows([row.get(table.name) for row in rows])
            out[:, table.positions] = table.block[picked]
        return out

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """P(readmitted within 30 days) for each row (dicts with the contract's columns)."""
        return self.score(self.encode(rows))


@dataclass(frozen=True)
class DirectScore:
    """The estimator (and calibrator) called directly on encoded rows (picklable, so a model
    can be compiled in another process)."""

    booster: Any | None  # a LightGBM Booster, or None for a linear model
    coef: np.ndarray | None
    intercept: float
    calibrator: Any | None  # sigmoid or isotonic, fitted on the raw score

    def raw(self, X: np.ndarray) -> np.ndarray:
        logit = self.calibrator is not None  # calibration sees the raw score, as sklearn does
        if self.booster is not None:
            return self.booster.predict(X, raw_score=logit, num_threads=1)
        decision = X @ self.coef + self.intercept
        return decision if logit else expit(decision)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return self.raw(X)
        proba = self.calibrator.predict(self.raw(X))
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0  # as CalibratedClassifierCV does
        return proba


def _scorer(pipeline: Pipeline) -> DirectScore:
    """The fitted estimator and calibrator, taken out of the pipeline."""
    fitted = pipeline.named_steps["classifier"].estimator_
    calibrator = None
    if isinstance(fitted, CalibratedClassifierCV):
        calibrated = fitted.calibrated_classifiers_[0]
        if calibrated.method not in ("sigmoid", "isotonic"):
            raise NotCompilable(f"calibration {calibrated.method!r}")
        fitted, calibrator = calibrated.estimator, calibrated.calibrators[0]
    if isinstance(fitted, LogisticRegression):
        return DirectScore(None, fitted.coef_[0], float(fitted.intercept_[0]), calibrator)
    if hasattr(fitted, "booster_"):
        return DirectScore(fitted.booster_, None, 0.0, calibrator)
    raise NotCompilable(f"estimator {type(fitted).__name__}")


def compile_pipeline(pipeline: Pipeline) -> CompiledModel:
    """Lookup tables for every input column and a direct scorer (raises NotCompilable)."""
    preprocess = pipeline.named_steps["preprocess"]
    try:
        names = preprocess.get_feature_names_out()
        sources = np.array([explain.source_column(n) for n in names])
    except (AttributeError, StopIteration) as exc:
        raise NotCompilable(f"feature names: {exc}") from exc
    return CompiledModel(_tables(preprocess, sources), len(names), _scorer(pipeline))


def sample(compiled: CompiledModel, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` patients drawn column by column from the compiled tables (every kind of value)."""
    rng = np.random.default_rng(seed)
    rows = [dict(contract.default_patient()) for _ in range(n)]
    for table in compiled.tables:
        values = list(table.index)
        for row, i in zip(rows, rng.integers(0, len(values), n), strict=True):
            row[table.name] = values[i]
    return rows


def max_difference(pipeline: Pipeline, compiled: CompiledModel, rows: list[dict]) -> float:
    """Largest |compiled - pipeline| probability over ``rows``."""
    expected = model.positive_proba(pipeline, model.to_model_frame(pd.DataFrame(rows)))
    return float(np.max(np.abs(compiled.predict_proba(rows) - expected)))
