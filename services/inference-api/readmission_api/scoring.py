"""How the served model scores patients: the compiled fast path, or the logged pipeline.

At load, the pipeline is compiled (readmission.compiled) and the compiled model must reproduce
the pipeline's probabilities on the model's input example and on a reference sample drawn from
every column's values (``compiled.TOLERANCE``). If compiling fails or a probability differs,
the pipeline serves, and the log and ``readmission_serving_path`` say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from readmission import compiled, model
from sklearn.pipeline import Pipeline

from readmission_api import metrics

log = logging.getLogger(__name__)
REFERENCE_ROWS = 500


@dataclass(frozen=True)
class Scorer:
    """Scores validated patients (dicts of the contract's columns) with the chosen path."""

    pipeline: Pipeline
    fast: compiled.CompiledModel | None
    reason: str  # why this path serves

    @property
    def path(self) -> str:
        return "compiled" if self.fast is not None else "pipeline"

    def pipeline_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        return model.positive_proba(self.pipeline, model.to_model_frame(pd.DataFrame(rows)))

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """P(readmitted within 30 days) per row; times the model call."""
        with metrics.INFERENCE_SECONDS.time():
            if self.fast is None:
                return self.pipeline_proba(rows)
            try:
                return self.fast.predict_proba(rows)
            except KeyError:  # a value the tables do not hold: the pipeline decides
                metrics.FAST_PATH_MISSES.inc()
                return self.pipeline_proba(rows)


def build(pipeline: Pipeline, example: list[dict[str, Any]], version: str) -> Scorer:
    """Compile and verify on the input example's rows and a sample; fall back to the pipeline
    (with the reason) when either fails."""
    try:
        fast = compiled.compile_pipeline(pipeline)
        reference = example + compiled.sample(fast, REFERENCE_ROWS, seed=0)
        difference = compiled.max_difference(pipeline, fast, reference)
    except compiled.NotCompilable as exc:
        scorer = Scorer(pipeline, None, f"not compilable: {exc}")
    except Exception as exc:  # any failure to compile keeps the pipeline serving
        log.exception("compiling version %s failed", version)
        scorer = Scorer(pipeline, None, f"compiling failed: {exc}")
    else:
        if difference > compiled.TOLERANCE:
            reason = f"refused: differs from the pipeline by {difference:.3g}"
            scorer = Scorer(pipeline, None, reason)
        else:
            reason = f"matches the pipeline on {len(reference)} rows (max diff {difference:.2g})"
            scorer = Scorer(pipeline, fast, reason)
    return scorer
