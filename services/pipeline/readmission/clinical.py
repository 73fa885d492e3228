"""Clinical features of the diagnosis columns: CCS group, ICD-9 chapter and chronic flag.

The vocabulary is turned into plain lookup tables (``code → value``) at build time, and each
table is applied column by column (``Series.map(table)``) inside a ``FunctionTransformer``: the
logged pipeline still holds only scikit-learn, pandas and builtin objects, and loads without
this package. A code the tables do not hold has no group ("") and is not chronic; a missing
diagnosis stays missing (the encoders' "missing" category; not chronic).

Which feature set a model uses is chosen on val by the training search (``FEATURE_SETS``).
"""

from __future__ import annotations

import collections
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
    """``frame.apply(lambda column: column.map(lookup, na_action="ignore"))`` without a lambda.

    ``lookup`` is a ``defaultdict`` of the table: a code it does not hold gets the default (no
    group "", not chronic 0.0) by a plain hash lookup per value — pandas maps a dict without a
    default by first turning all ~19k entries into a Series, ~20 ms per call. (A defaultdict
    remembers the unknown codes it answered; the API lets only ICD-9-form codes through, so
    that stays small.) Missing values are left missing. Built of ``operator.methodcaller``, a
    defaultdict and builtins, it is saved by skops (the model format) and by pickle alike.
    """
    default = float if table == "chronic" else str
    lookup = collections.defaultdict(default, tables()[table])
    return operator.methodcaller("apply", operator.methodcaller("map", lookup, "ignore"))


def lookup_in(func: object) -> dict[str, object] | None:
    """The table inside a function ``mapper()`` made (its inverse), or None for another one."""
    try:
        _, (outer, inner) = func.__reduce__()  # methodcaller("apply", inner)
        _, (name, lookup, _) = inner.__reduce__()  # methodcaller("map", lookup, "ignore")
    except (TypeError, ValueError, AttributeError):
        return None
    return lookup if (outer, name) == ("apply", "map") and isinstance(lookup, dict) else None


def check(feature_set: str) -> str:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {FEATURE_SETS}")
    return feature_set
