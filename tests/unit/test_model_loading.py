"""The API's loader takes every kind of pipeline the trainer logs, and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml
from readmission import model, tracking
from readmission_api import loading
from sklearn.pipeline import Pipeline


def logged(pipeline: Pipeline, folder: Path, trusted: list[str]) -> Path:
    """A model folder as readmission.tracking logs one (skops, its trusted types in MLmodel)."""
    folder.mkdir()
    skops.io.dump(pipeline, folder / "model.skops")
    flavor = {"serialization_format": "skops", "pickled_model": "model.skops",
              "skops_trusted_types": trusted}  # fmt: skip
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"sklearn": flavor}}))
    return folder


@pytest.mark.parametrize("features", ["base", "clinical"])
@pytest.mark.parametrize("family", model.FAMILIES)
def test_every_pipeline_the_trainer_builds_loads(family, features, tmp_path) -> None:
    pipeline = model.build(family, {}, np.arange(10), calibration="sigmoid", features=features)
    trusted = tracking._trusted_types(pipeline)
    loaded = loading.load_pipeline(logged(pipeline, tmp_path / "m", trusted))
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipeline.steps]


def test_a_foreign_type_is_refused(tmp_path) -> None:
    pipeline = model.build("lightgbm", {}, np.arange(10), features="clinical")
    trusted = [*tracking._trusted_types(pipeline), "builtins.eval"]
    with pytest.raises(loading.ModelFormatError, match=r"builtins\.eval"):
        loading.load_pipeline(logged(pipeline, tmp_path / "m", trusted))
