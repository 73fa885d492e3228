"""Clinical features of the diagnosis columns: CCS group, ICD-9 chapter and chronic flag.

The vocabulary is turned into plain lookup tables (``code → value``) at build time, and each
table is applied column by column (``Series.map(table)``) inside a ``FunctionTransformer``: the
logged pipeline still holds only scikit-learn, pandas and builtin objects, and loads without
this package. A code the tables do not hold (not ICD-9, or missing) maps to NaN, which the
encoders treat as the "missing" category (and the chronic flag as 0).

Which feature set a model uses is chosen on val by the training search (``FEATURE_SETS``).
"""

from __future__ import annotations

import operator
from functools import lru_cache

from readmission import contract, vocabulary

FEATURE_SETS = ("base", "clinical")
DIAGNOSES = tuple(c.name for c in contract.FEATURES if c.vocabulary == "icd9")


@lru_cache
def tables() -> dict[str, dict[str, object]]:
    """{"ccs": code → CCS group, "chapter": code → chapter, "chronic": code → 0.0/1.0}."""
    out: dict[str, dict[str, object]] = {"ccs": {}, "chapter": {}, "chronic": {}}
    for code in vocabulary.known_codes():
        entry = vocabulary.lookup(code)
        if entry is None:
            continue
        if entry.ccs is not None:
            out["ccs"][code] = str(entry.ccs)
        if entry.chapter is not None:
            out["chapter"][code] = str(entry.chapter)
        if entry.chronic is not None:
            out["chronic"][code] = float(entry.chronic)
    return out


def mapper(table: str) -> operator.methodcaller:
    """``frame.apply(lambda column: column.map(table))`` without a lambda: each column's codes
    mapped through the table (a hash lookup; unknown or missing → NaN).

    Made of ``operator.methodcaller`` and a dict, it is saved by skops (the model format) and
    by pickle alike; a function of this package would tie the model to the package.
    """
    return operator.methodcaller("apply", operator.methodcaller("map", tables()[table]))


def check(feature_set: str) -> str:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {FEATURE_SETS}")
    return feature_set
