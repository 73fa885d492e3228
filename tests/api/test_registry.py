"""The API reads the registry over MLflow's REST API and loads models without MLflow: the same
pipeline MLflow loads, nothing unsafe, and no ``mlflow`` module in the serving process."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from readmission import model
from readmission_api import loading
from readmission_api.registry import NotFound, Registry

from tests.api.conftest import patients


@pytest.fixture(scope="module")
def model_folder(registered, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("model")
    return Path(mlflow.artifacts.download_artifacts(f"models:/{registered.name}/1", dst_path=dst))


def test_our_loader_gives_the_pipeline_mlflow_gives(registered, model_folder, mlflow_uri):
    ours = loading.load_pipeline(model_folder)
    theirs = mlflow.sklearn.load_model(f"models:/{registered.name}/1")
    example = loading.input_example(model_folder)
    assert len(example) == 5 and set(example[0]) >= {"age", "diag_1"}
    frame = model.to_model_frame(pd.DataFrame(example + patients(200, seed=3)))
    assert np.array_equal(model.positive_proba(ours, frame), model.positive_proba(theirs, frame))


def test_the_registry_client_downloads_what_mlflow_downloads(
    registered, model_folder, mlflow_uri, tmp_path
):
    registry = Registry(mlflow_uri)
    version = registry.version_by_alias(registered.name, "champion")["version"]
    got = registry.download_model(registered.name, version, tmp_path / "ours")
    ours = {p.relative_to(got) for p in got.rglob("*") if p.is_file()}
    theirs = {p.relative_to(model_folder) for p in model_folder.rglob("*") if p.is_file()}
    # MLflow writes one file of its own beside a registered model it downloads.
    assert ours == theirs - {Path("registered_model_meta")} and Path("MLmodel") in ours
    files = sorted(ours)
    assert all((got / f).read_bytes() == (model_folder / f).read_bytes() for f in files)
    with pytest.raises(NotFound):
        registry.version_by_alias(registered.name, "no-such-alias")


def _edited_copy(folder: Path, tmp_path: Path, edit) -> Path:
    copy = Path(shutil.copytree(folder, tmp_path / "edited"))
    meta = yaml.safe_load((copy / "MLmodel").read_text())
    edit(meta["flavors"]["sklearn"])
    (copy / "MLmodel").write_text(yaml.safe_dump(meta))
    return copy


def test_a_pickled_model_is_refused(model_folder, tmp_path) -> None:
    copy = _edited_copy(
        model_folder, tmp_path, lambda f: f.update(serialization_format="cloudpickle")
    )
    with pytest.raises(loading.ModelFormatError, match="skops only"):
        loading.load_pipeline(copy)


def test_a_model_asking_to_trust_foreign_types_is_refused(model_folder, tmp_path) -> None:
    copy = _edited_copy(
        model_folder, tmp_path, lambda f: f["skops_trusted_types"].append("os.system")
    )
    with pytest.raises(loading.ModelFormatError, match=r"os\.system"):
        loading.load_pipeline(copy)


def test_the_serving_process_never_imports_mlflow(start_api, api_env) -> None:
    # Python lists every module it imports on stderr (the server's log) with this variable set.
    with start_api({**api_env, "PYTHONPROFILEIMPORTTIME": "1"}) as server, server.client() as c:
        assert c.post("/predict", json=patients(1)[0]).status_code == 200
        assert c.get("/model/versions").json()[0]["version"] == "1"
        assert c.get("/model").json()["subgroups"], "the model card's table comes over REST too"
    imported = re.findall(r"^import time:.*\|\s+(\S+)$", server.log.read_text(), re.M)
    assert {"lightgbm", "sklearn", "httpx"} <= set(imported), "the log lists the imports"
    assert [m for m in imported if m.split(".")[0] == "mlflow"] == []
