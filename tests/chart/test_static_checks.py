"""Linters and validators on the charts, their renders and the Dockerfiles — all offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHARTS, LOCAL, UMBRELLA, own, require_upstream
from tests.conftest import REPO

BIN = Path(sys.executable).parent
ALERTS = UMBRELLA / "files" / "alerts.yaml"
ALERT_TESTS = REPO / "tests" / "chart" / "alerts_test.yaml"
CRD_GROUPS = ("monitoring.coreos.com/",)  # not covered by kubernetes-validate's schemas


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize("chart", LOCAL)
def test_helm_lint_strict_on_each_subchart(helm: str, chart: str) -> None:
    done = run(
        [helm, "lint", "--strict", CHARTS / chart, "--set", "global.s3Endpoint=http://s3:9000"]
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("profile", [None, "minikube", "cluster"])
def test_helm_lint_strict_on_the_umbrella(helm: str, umbrella: Path, profile: str | None) -> None:
    extra = ["-f", REPO / "values" / f"{profile}.yaml"] if profile else []
    done = run([helm, "lint", "--strict", umbrella, *extra])
    assert done.returncode == 0, done.stdout + done.stderr


def _core_objects(docs: list[dict]) -> list[dict]:
    return [d for d in docs if not d["apiVersion"].startswith(CRD_GROUPS)]


def _validate(path: Path) -> subprocess.CompletedProcess:
    return run([BIN / "kubernetes-validate", "--strict", "--quiet", path])


@pytest.mark.parametrize("profile", ["minikube", "cluster"])
def test_kubernetes_validate_strict_on_every_core_object(render_chart, tmp_path, profile) -> None:
    docs = _core_objects(render_chart(profile=profile))
    assert len(docs) > 15
    path = tmp_path / "render.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    done = _validate(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_validate_catches_a_broken_object(render_chart, tmp_path) -> None:
    deployment = render_chart(show_only=["charts/streamlit/templates/deployment.yaml"])[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["portz"] = []
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(deployment))
    assert _validate(path).returncode != 0


# minikube's default CNI enforces no NetworkPolicy, so that profile ships none; the cluster
# profile does, and passes CKV2_K8S_6. Global skips with their reasons: charts/.checkov.yaml.
PROFILE_SKIPS = {"minikube": ["CKV2_K8S_6"], "cluster": []}


@pytest.mark.parametrize("profile", ["minikube", "cluster"])
def test_checkov_passes_on_both_renders(render_chart, tmp_path, profile: str) -> None:
    checkov = (
        os.environ.get("CHECKOV")
        or shutil.which("checkov")
        or str(REPO / ".tools" / "checkov-venv" / "bin" / "checkov")
    )
    if not Path(checkov).exists():
        pytest.fail("checkov is not installed: run `make tools`")
    path = tmp_path / f"{profile}.yaml"
    # Our objects: the upstream charts' are theirs to harden (their resources are ours to set:
    # tests/chart/test_full_umbrella.py checks them).
    path.write_text(yaml.safe_dump_all(own(render_chart(profile=profile))))
    skips = yaml.safe_load((CHARTS / ".checkov.yaml").read_text())["skip-check"]
    skips += PROFILE_SKIPS[profile]
    done = run(
        [
            checkov,
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "--skip-check",
            ",".join(skips),
            "-f",
            path,
        ]
    )
    assert done.returncode == 0, done.stdout[-5000:]


def test_hadolint_on_every_dockerfile() -> None:
    dockerfiles = sorted(REPO.glob("services/*/Dockerfile"))
    assert len(dockerfiles) >= 2
    done = run([BIN / "hadolint", *dockerfiles])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("extra", ["airflow", "jupyter", None])
def test_the_dockerfiles_export_resolves_offline_from_the_lock(extra: str | None) -> None:
    """The images install `uv export --frozen` of uv.lock: the same command, run here."""
    uv = shutil.which("uv") or str(REPO / ".tools" / "uv-venv" / "bin" / "uv")
    args = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"]
    done = run(args + (["--extra", extra] if extra else []), cwd=REPO)
    assert done.returncode == 0, done.stderr
    pins = {line.split("==")[0] for line in done.stdout.splitlines() if "==" in line}
    # The chart runs `mlflow server --expose-prometheus`, which imports prometheus_flask_exporter.
    assert {"mlflow", "lightgbm", "scikit-learn", "psycopg", "prometheus-flask-exporter"} <= pins
    assert ("apache-airflow" in pins) is (extra == "airflow")
    assert ("jupyterlab" in pins) is (extra == "jupyter")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not installed (Debian package 'prometheus'; .ci/run installs it)")
    return found


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    done = run([promtool, "check", "rules", ALERTS])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def test_every_alert_fires_when_it_should_and_only_then(promtool: str) -> None:
    done = run([promtool, "test", "rules", ALERT_TESTS])
    assert done.returncode == 0, done.stdout + done.stderr
    fired, quiet = set(), set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case["promql_expr_test"]:
            if check["exp_samples"]:
                fired |= {
                    re.search(r'alertname="(\w+)"', s["labels"])[1] for s in check["exp_samples"]
                }
            else:
                quiet |= set(re.findall(r"\w+", check["expr"].split('alertname=~"')[-1]))
    names = {r["alert"] for r in alert_rules()}
    assert names - fired == set(), "alerts no test fires"
    assert names - quiet == set(), "alerts no test keeps quiet"


def test_every_alert_explains_itself_and_has_a_runbook_section() -> None:
    headings = {
        line.removeprefix("## ").strip().lower()
        for line in (REPO / "docs" / "runbook.md").read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in alert_rules():
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        assert notes["runbook"] == f"docs/runbook.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in headings, rule["alert"]


def test_full_umbrella_with_upstream_charts(render_chart) -> None:
    require_upstream()
    docs = render_chart(profile="minikube")
    names = {d["metadata"]["name"] for d in docs}
    assert any("scheduler" in n for n in names) and any("grafana" in n for n in names)
