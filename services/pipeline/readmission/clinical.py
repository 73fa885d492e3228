"""Clinical features of the diagnosis columns: CCS group, ICD-9 chapter and chronic flag.

The vocabulary is turned into plain lookup tables (``code → value``) at build time, held as
numpy arrays and applied by numpy functions inside ``FunctionTransformer``s (``lookup_steps``):
the logged pipeline holds only scikit-learn, numpy and builtin objects, and loads without this
package. A code the tables do not hold has no group ("") and is not chronic; a missing
diagnosis stays missing (the encoders' "missing" category; not chronic).

Which feature set a model uses is chosen on val by the training search (``FEATURE_SETS``).
"""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np
from sklearn.preprocessing import FunctionTransformer

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


def lookup_steps(table: str, missing: str) -> tuple[FunctionTransformer, FunctionTransformer]:
    """Two steps that turn codes into the values of ``table``, as numpy arrays.

    The input has had its missing values replaced by ``missing`` (the encoders' category). A
    code of the table gets its value; ``missing`` stays the missing category (not chronic:
    0.0); any other string gets the default (no group "", not chronic 0.0).

    Step 1, ``searchsorted(bounds, X, side="right")``: ``bounds`` holds each key ``k`` followed
    by ``k + "\\x01"`` (the next string a code can be: codes hold no control characters), so
    a key lands at an odd position and anything between two keys at an even one. Step 2,
    ``take(answers, positions)``: ``answers`` holds the values at odd positions, the default at
    even ones. Both are library functions over two string or float arrays, so the logged model
    loads without this project, and skops saves each table as two ``.npy`` files (a dict
    would be ~20k JSON nodes per copy: minutes to save, log and load).
    """
    entries = {**tables()[table], missing: 0.0 if table == "chronic" else missing}
    keys = np.array(sorted(entries))
    values = np.array([entries[k] for k in keys])
    bounds = np.empty(2 * len(keys), dtype=f"<U{keys.dtype.itemsize // 4 + 1}")
    bounds[0::2], bounds[1::2] = keys, np.char.add(keys, "\x01")
    answers = np.full(len(bounds) + 1, 0.0 if table == "chronic" else "", dtype=values.dtype)
    answers[1::2] = values
    return (
        FunctionTransformer(
            partial(np.searchsorted, bounds, side="right"), feature_names_out="one-to-one"
        ),
        FunctionTransformer(partial(np.take, answers), feature_names_out="one-to-one"),
    )


def codes_in(func: object) -> list[str] | None:
    """The codes of a lookup ``lookup_steps()`` made (given its first step's function), or
    None for another function."""
    if isinstance(func, partial) and func.func is np.searchsorted:
        return [str(k) for k in func.args[0][0::2]]
    try:  # models logged before 2026-12: methodcaller("apply", methodcaller("map", dict, ...))
        _, (outer, inner) = func.__reduce__()
        _, (name, lookup, _) = inner.__reduce__()
    except (TypeError, ValueError, AttributeError):
        return None
    return list(lookup) if (outer, name) == ("apply", "map") and isinstance(lookup, dict) else None


def check(feature_set: str) -> str:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {FEATURE_SETS}")
    return feature_set
