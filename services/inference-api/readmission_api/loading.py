"""A downloaded MLflow model folder → the fitted pipeline and its input example.

What ``mlflow.sklearn.load_model`` does for the models this project logs (skops format,
``readmission.tracking``), without importing MLflow into the serving process (registry.py says
why). Stricter than it: only skops is loaded (never pickle), and the types the model asks skops
to trust must come from the libraries a pipeline is built of.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sklearn.pipeline import Pipeline

# Where the types a logged pipeline needs may come from (sklearn, LightGBM, their numerics, and
# the stdlib callables of readmission.clinical's lookups: functools.partial over numpy functions
# now, operator.methodcaller in models logged before 2026-12). Anything else is refused; what a
# partial wraps is checked by skops like any other object.
T = TypeVar("T")
TRUSTED_MODULES = ("sklearn.", "lightgbm.", "numpy.", "scipy.", "operator.", "collections.")
TRUSTED_TYPES = ("functools.partial",)


class ModelFormatError(RuntimeError):
    """The folder is not a model this API can load safely."""


def _flavor(folder: Path) -> dict[str, Any]:
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    flavor = meta.get("flavors", {}).get("sklearn")
    if flavor is None:
        raise ModelFormatError(f"{folder.name}: not an sklearn model (flavors: {meta['flavors']})")
    return {**flavor, "_example": meta.get("saved_input_example_info")}


def load_pipeline(folder: Path) -> Pipeline:
    """The fitted pipeline, loaded with skops and an allow-list of trusted types."""
    import skops.io  # imported here: only the loading child needs it

    flavor = _flavor(folder)
    if flavor.get("serialization_format") != "skops":
        raise ModelFormatError(
            f"serialized as {flavor.get('serialization_format')!r}: the API loads skops only"
        )
    trusted = list(flavor.get("skops_trusted_types") or [])
    foreign = [t for t in trusted if not t.startswith(TRUSTED_MODULES) and t not in TRUSTED_TYPES]
    if foreign:
        raise ModelFormatError(f"the model asks to trust types of other libraries: {foreign}")
    pipeline = skops.io.load(folder / flavor["pickled_model"], trusted=trusted)
    if not isinstance(pipeline, Pipeline):
        raise ModelFormatError(f"expected a scikit-learn Pipeline, got {type(pipeline).__name__}")
    return pipeline


def in_child(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a short-lived child process; its result comes back pickled.

    Loading parses the model's ~150 MB of skops JSON, imports skops, and compiling transforms
    ~19k rows: done in the serving process, they would stay in it for good (imports, heap it
    cannot give back, ~45 MB). Only objects skops let through cross the pipe, between two
    processes of this program.
    """
    spawn = multiprocessing.get_context("spawn")  # not fork: the server has threads
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        return child.submit(function, *args).result()


def input_example(folder: Path) -> list[dict[str, Any]]:
    """The rows logged as the model's input example (pandas "split" JSON), or [] without one."""
    info = _flavor(folder)["_example"]
    if not info or info.get("type") != "dataframe":
        return []
    split = json.loads((folder / info["artifact_path"]).read_text())
    return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
