"""What `make deploy` passes and what NOTES.txt prints, against what the charts really render."""

from __future__ import annotations

import itertools
import re
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import RenderError, kps_fullname, render
from tests.conftest import REPO

DIGITS_TAG = "4815162"  # an all-digit short sha: YAML would read it as a number
SHA = "0123456789abcdef0123456789abcdef01234567"


def deploy_sets(**make_vars: str) -> list[str]:
    """The ``--set-string``/``--set`` arguments of the helm command `make deploy` runs."""
    assigns = [f"{k}={v}" for k, v in make_vars.items()]
    done = subprocess.run(
        ["make", "-n", "deploy", "HELM=helm", *assigns],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    joined = done.stdout.replace("\\\n", " ")  # make -n keeps the recipe's continuations
    line = next(x for x in joined.splitlines() if "upgrade --install" in x)
    words = shlex.split(line)
    return [
        arg
        for flag, value in itertools.pairwise(words)
        if flag.startswith("--set")
        for arg in (flag, value)
    ]


class TestDeployCommand:
    def test_should_keep_an_all_digit_image_tag_a_string(self, helm, umbrella) -> None:
        sets = deploy_sets(IMAGE_TAG=DIGITS_TAG, PROFILE="minikube")
        docs = render(helm, umbrella, profile="minikube", extra_args=sets)
        images = {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in docs
            if d["kind"] == "Deployment"
        }
        ours = {name: image for name, image in images.items() if image.startswith("mlops/")}
        assert {"mlops-mlflow", "mlops-inference-api", "mlops-streamlit", "mlops-jupyter"} <= set(
            ours
        )
        for name, image in ours.items():  # every image `make images` builds, at its tag
            assert image.endswith(f":{DIGITS_TAG}"), (name, image)
        assert f"airflow.defaultAirflowTag={DIGITS_TAG}" in sets
        # The control: the same tag through plain --set breaks the subcharts' schemas.
        plain = [("--set" if a == "--set-string" else a) for a in sets]
        with pytest.raises(RenderError, match=r"want string|expected string"):
            render(helm, umbrella, profile="minikube", extra_args=plain)

    def test_should_pin_the_dags_to_the_commit_of_the_images(self) -> None:
        sets = deploy_sets(IMAGE_TAG="abc1234", DAGS_REF=SHA)
        assert sets[sets.index(f"airflow.dags.gitSync.ref={SHA}") - 1] == "--set-string"
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        if head:  # by default, the checked-out commit
            assert f"airflow.dags.gitSync.ref={head}" in deploy_sets()
        assert not any(s.startswith("airflow.dags.gitSync.ref=") for s in deploy_sets(DAGS_REF=""))


@pytest.fixture(scope="module")
def notes_chart(umbrella: Path) -> Iterator[Path]:
    """A copy of the umbrella where NOTES.txt also renders into a ConfigMap (helm template
    never prints NOTES, and `helm install --dry-run` wants a cluster here)."""
    root = Path(tempfile.mkdtemp(prefix="readmission-notes-"))
    chart = root / "mlops-platform"
    shutil.copytree(umbrella, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_test.tpl").write_text(
        '{{- define "test.notes" -}}\n' + notes + "\n{{- end -}}\n"
    )
    (chart / "templates" / "notes-test.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  notes: {{ include "test.notes" . | quote }}\n'
    )
    yield chart
    shutil.rmtree(root, ignore_errors=True)


class TestNotes:
    @pytest.mark.parametrize("release", ["mlops", "ml", "readmission-production"])
    def test_should_print_services_the_charts_create(self, helm, notes_chart, release) -> None:
        values = {"kube-prometheus-stack": {"enabled": True}}
        notes = render(
            helm,
            notes_chart,
            values,
            show_only=["templates/notes-test.yaml"],
            release=release,
        )[0]["data"]["notes"]
        printed = set(re.findall(r"svc/(\S+)", notes))
        assert f"{kps_fullname(release)}-prometheus" in printed
        if release == "mlops":
            assert "mlops-kube-prometheus-stac-prometheus" in printed
        services = {
            d["metadata"]["name"]
            for d in render(helm, notes_chart, values, release=release)
            if d["kind"] == "Service"
        }
        ours = {f"{release}-{n}" for n in ("streamlit", "inference-api", "mlflow", "minio")}
        assert ours <= printed and ours <= services
        # The rest come from the upstream charts: Airflow's API server and Grafana.
        assert printed - services <= {
            f"{release}-api-server",
            f"{release}-grafana",
            f"{kps_fullname(release)}-prometheus",
        }


class TestVersions:
    def test_should_pin_the_airflow_version_of_the_image(self) -> None:
        values = yaml.safe_load((REPO / "charts/mlops-platform/values.yaml").read_text())
        pinned = values["airflow"]["airflowVersion"]
        project = tomllib.loads((REPO / "pyproject.toml").read_text())
        assert f"apache-airflow=={pinned}" in project["project"]["optional-dependencies"]["airflow"]
        dockerfile = (REPO / "services/airflow/Dockerfile").read_text()
        assert f"FROM apache/airflow:{pinned}-" in dockerfile
        deploy = (REPO / "docs/deploy.md").read_text()
        chart = next(
            d["version"]
            for d in yaml.safe_load((REPO / "charts/mlops-platform/Chart.yaml").read_text())[
                "dependencies"
            ]
            if d["name"] == "airflow"
        )
        assert f"Airflow {pinned}" in deploy and f"chart {chart}" in deploy


class TestGitSync:
    def test_should_name_git_sync_v4_credentials(self) -> None:
        for path in ("charts/mlops-platform/values.yaml", "docs/deploy.md"):
            text = (REPO / path).read_text()
            assert "GIT_SYNC_USERNAME" not in text and "GIT_SYNC_PASSWORD" not in text, path
            assert "GITSYNC_USERNAME" in text and "GITSYNC_PASSWORD" in text, path

    def test_should_follow_a_ref_with_the_v3_keys_emptied(self) -> None:
        values = yaml.safe_load((REPO / "charts/mlops-platform/values.yaml").read_text())
        git_sync = values["airflow"]["dags"]["gitSync"]
        assert git_sync["ref"] == "main"
        assert git_sync["branch"] == git_sync["rev"] == ""  # see test_full_umbrella.TestGitSync


class TestDocs:
    def test_every_make_command_in_the_deploy_guide_exists(self) -> None:
        makefile = (REPO / "Makefile").read_text()
        targets = set(re.findall(r"^([a-z][a-z0-9-]*):.*## ", makefile, re.MULTILINE))
        variables = set(re.findall(r"^([A-Z_]+)\s*[:?]?=", makefile, re.MULTILINE))
        guide = (REPO / "docs/deploy.md").read_text().replace("\\\n", " ")
        commands = re.findall(r"make ([a-z][a-z0-9-]*)((?: [A-Z_]+=\S+)*)", guide)
        assert {"deploy", "images", "minikube-load", "helm-test"} <= {t for t, _ in commands}
        for target, assigns in commands:
            assert target in targets, target
            for name in re.findall(r"([A-Z_]+)=", assigns):
                assert name in variables, (target, name)

    def test_dags_repo_turns_git_sync_on(self) -> None:
        sets = deploy_sets(DAGS_REPO="https://git.example.com/me/fork.git")
        assert "airflow.dags.gitSync.repo=https://git.example.com/me/fork.git" in sets
        assert "airflow.dags.gitSync.enabled=true" in sets
        assert not any("gitSync.enabled" in s for s in deploy_sets())
