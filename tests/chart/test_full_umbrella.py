"""The umbrella as it really installs: rendered with the packaged upstream charts (Airflow,
kube-prometheus-stack), with `make deploy`'s own flags, checked as a cluster would meet it."""

from __future__ import annotations

import collections
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from readmission import metrics
from readmission.settings import Settings

from tests.chart.conftest import (
    LOCAL,
    RenderError,
    render,
    render_manifest,
    require_upstream,
    upstream_archives,
    with_sources,
)
from tests.chart.test_deploy import SHA, deploy_sets
from tests.conftest import REPO

PROFILES = ["minikube", "cluster"]
RELEASES = ["mlops", "readmission", "st-marys-hospital-readmission-prod"]  # the last: 34 chars
REPO_URL = "https://git.example.com/you/mlops-readmission.git"
OWN = ("mlops-platform/templates/", *(f"mlops-platform/charts/{name}/" for name in LOCAL))
CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PriorityClass",
    "Namespace",
}


@pytest.fixture(scope="module", autouse=True)
def _upstream() -> None:
    require_upstream()


@pytest.fixture(scope="module")
def deployed(helm, umbrella):
    """``deployed(profile, release, **make_vars)``: the render `make deploy` would install."""
    cache: dict = {}

    def run(profile: str, release: str = "mlops", **make_vars: str) -> list[tuple[str, dict]]:
        make_vars = {"DAGS_REF": SHA, "DAGS_REPO": REPO_URL, **make_vars}
        key = (profile, release, tuple(sorted(make_vars.items())))
        if key not in cache:
            sets = deploy_sets(PROFILE=profile, **make_vars)
            cache[key] = with_sources(
                render_manifest(
                    helm, umbrella, None, profile, extra_args=sets, release=release,
                    cluster_inputs=False,  # DAGS_REPO is among the sets
                )
            )  # fmt: skip
        return cache[key]

    return run


def objects(rendered: list[tuple[str, dict]]) -> list[dict]:
    return [doc for _, doc in rendered]


def identity(doc: dict, namespace: str = "mlops") -> tuple[str, str | None, str]:
    """(kind, namespace, name): what must be unique in a cluster."""
    meta = doc["metadata"]
    where = None if doc["kind"] in CLUSTER_SCOPED else meta.get("namespace", namespace)
    return doc["kind"], where, meta["name"]


def pod_specs(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    """(where, pod spec) of every workload, and of the KubernetesExecutor's pod template."""
    for d in docs:
        kind, name, spec = d["kind"], d["metadata"]["name"], d.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{name}", spec["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"{kind}/{name}", spec
        elif kind == "ConfigMap" and "pod_template_file.yaml" in (d.get("data") or {}):
            template = yaml.safe_load(d["data"]["pod_template_file.yaml"])
            yield f"pod template in ConfigMap/{name}", template["spec"]


def containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def pod_template(docs: list[dict]) -> dict:
    (found,) = [pod for where, pod in pod_specs(docs) if where.startswith("pod template")]
    return found


class TestNoCollisions:
    @pytest.mark.parametrize("profile", PROFILES)
    @pytest.mark.parametrize("release", RELEASES)
    def test_no_two_objects_share_kind_namespace_and_name(self, deployed, profile, release):
        counts = collections.Counter(identity(d) for d in objects(deployed(profile, release)))
        assert not [key for key, n in counts.items() if n > 1]

    @pytest.mark.parametrize("profile", PROFILES)
    def test_own_fixed_names_cannot_match_an_upstream_name_for_any_release(
        self, deployed, profile
    ) -> None:
        """An upstream name is <before><release><after>; a name of ours that does not follow the
        release must not be <before>X<after> for any X, or some release name collides."""
        first, second = (deployed(profile, release) for release in RELEASES[:2])
        names = [{identity(d) for s, d in r if s.startswith(OWN)} for r in (first, second)]
        fixed = names[0] & names[1]
        assert any(kind == "ConfigMap" for kind, _, _ in fixed)  # the check sees them
        for source, doc in first:
            kind, _, name = identity(doc)
            if source.startswith(OWN) or RELEASES[0] not in name:
                continue
            before, after = name.split(RELEASES[0], 1)
            clash = [
                own
                for own_kind, _, own in fixed
                if own_kind == kind
                and own.startswith(before)
                and own.endswith(after)
                and len(own) > len(before) + len(after)
            ]
            assert not clash, (kind, name, clash)


def airflow_schema() -> dict:
    archive = next(a for a in upstream_archives() if a.name.startswith("airflow-"))
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile("airflow/values.schema.json"))


class TestAirflowValues:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_validate_against_the_packaged_charts_schema(self, merged, profile) -> None:
        airflow = merged(profile)["airflow"]
        jsonschema.validate(airflow, airflow_schema())

    def test_the_schema_check_refuses_a_wrong_value(self, merged) -> None:
        airflow = merged("cluster")["airflow"]
        airflow["executor"] = "LocalExecutor;rm"  # not an executor's name
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(airflow, airflow_schema())


def git_sync_ref(env: dict[str, str]) -> str:
    """The ref git-sync v4 checks out, from its environment (kubernetes/git-sync main.go): the
    deprecated --branch wins when --rev is empty or HEAD, else a non-empty --rev wins, else
    --ref (default HEAD)."""
    ref = env.get("GITSYNC_REF") or "HEAD"
    branch, rev = env.get("GIT_SYNC_BRANCH", ""), env.get("GIT_SYNC_REV", "")
    if branch and rev in ("", "HEAD"):
        return branch
    return rev or ref


def git_sync_containers(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    for where, pod in pod_specs(docs):
        for container in containers(pod):
            env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
            if "GITSYNC_REPO" in env:
                yield f"{where}/{container['name']}", env


class TestGitSync:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_every_git_sync_container_checks_out_the_deployed_commit(self, deployed, profile):
        found = dict(git_sync_containers(objects(deployed(profile))))
        # the dag-processor's sidecar and init container, and the task pods' (KubernetesExecutor)
        assert sum("dag-processor" in w for w in found) == 2
        assert any("pod template" in w for w in found) == (profile == "cluster")
        for where, env in found.items():
            assert git_sync_ref(env) == SHA, where
            assert env["GITSYNC_REPO"] == REPO_URL, where

    def test_a_branch_when_asked_for(self, deployed) -> None:
        found = dict(git_sync_containers(objects(deployed("cluster", DAGS_REF="main"))))
        assert found and {git_sync_ref(env) for env in found.values()} == {"main"}

    def test_resolution_follows_git_sync(self) -> None:
        # the chart's own defaults, which checked out v2-2-stable whatever ref said
        upstream = {"GITSYNC_REF": SHA, "GIT_SYNC_BRANCH": "v2-2-stable", "GIT_SYNC_REV": "HEAD"}
        assert git_sync_ref(upstream) == "v2-2-stable"
        assert git_sync_ref({**upstream, "GIT_SYNC_REV": "v1"}) == "v1"
        assert git_sync_ref({"GITSYNC_REF": SHA, "GIT_SYNC_BRANCH": "", "GIT_SYNC_REV": ""}) == SHA

    def test_the_deprecated_keys_are_refused(self, helm, umbrella) -> None:
        values = {"airflow": {"dags": {"gitSync": {"branch": "main"}}}}
        with pytest.raises(RenderError, match=r"branch and \.rev must stay empty"):
            render(helm, umbrella, values, "cluster")


class TestClusterResources:
    def test_every_container_has_cpu_and_memory_requests_and_limits(self, deployed) -> None:
        docs = objects(deployed("cluster"))
        checked = 0
        for where, pod in pod_specs(docs):
            for container in containers(pod):
                resources = container.get("resources") or {}
                for bound in ("requests", "limits"):
                    have = set(resources.get(bound) or {})
                    assert {"cpu", "memory"} <= have, (where, container["name"], bound)
                checked += 1
        assert checked >= 30  # the whole release, Airflow's and monitoring's included

    def test_the_task_pod_is_sized_from_the_measured_training_peak(self, deployed) -> None:
        notes = (REPO / "values" / "cluster.yaml").read_text()
        peak = int(re.search(r"measured peak resident memory: (\d+) MiB", notes).group(1))
        (base,) = pod_template(objects(deployed("cluster")))["containers"]
        resources = base["resources"]
        assert mebibytes(resources["requests"]["memory"]) >= peak
        assert mebibytes(resources["limits"]["memory"]) >= 2 * peak


def mebibytes(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", quantity).groups()
    return float(number) * units[unit]


def env_names(container: dict, docs: list[dict]) -> set[str]:
    """Names a container's environment sets: its env, and the keys of the ConfigMaps and
    Secrets of its envFrom that the release itself creates."""
    names = {e["name"] for e in container.get("env", [])}
    made = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for source in container.get("envFrom", []):
        for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if ref in source and (kind, source[ref]["name"]) in made:
                doc = made[kind, source[ref]["name"]]
                names |= set(doc.get("data") or {}) | set(doc.get("stringData") or {})
    return names


# Settings the chart leaves unset on purpose. TRAIN_THREADS: LightGBM then counts the cores the
# task pod's CPU limit allows (joblib reads the container's quota); a value would copy the limit.
UNSET_IN_THE_CHART = {"TRAIN_THREADS"}


class TestPipelineEnvironment:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_every_pipeline_setting_reaches_the_tasks(self, deployed, profile) -> None:
        docs = objects(deployed(profile))
        needed = set(Settings.model_fields) - UNSET_IN_THE_CHART
        pods = {where.split("/", 1)[1]: pod for where, pod in pod_specs(docs)}
        where = {"scheduler": pods["mlops-scheduler"], "dag-processor": pods["mlops-dag-processor"]}
        if profile == "cluster":
            where["task pod"] = pod_template(docs)
        for name, pod in where.items():
            main = pod["containers"][0]
            missing = needed - env_names(main, docs)
            assert not missing, (name, main["name"], sorted(missing))


STATSD_SUFFIXES = ("", "_sum", "_count", "_bucket")  # gauges/counters; timers as summaries


def statsd_names(docs: list[dict], release: str = "mlops") -> set[str]:
    """Every Prometheus name the release's statsd exporter can produce from what Airflow (its
    metrics registry) and the pipeline (readmission.metrics) send."""
    config = next(d for d in docs if "airflow.cfg" in (d.get("data") or {}))["data"]["airflow.cfg"]
    prefix = re.search(r"^statsd_prefix = (\S+)$", config, re.M).group(1)
    mapping = next(d for d in docs if d["metadata"]["name"] == f"{release}-statsd")
    rules = yaml.safe_load(mapping["data"]["mappings.yml"])["mappings"]
    return {
        exported + suffix
        for stat in sent_stats()
        for exported in [statsd_export(f"{prefix}.{stat}", rules)]
        for suffix in STATSD_SUFFIXES
    }


def sent_stats() -> set[str]:
    """Airflow's metric names (new and legacy, variables filled in) and the pipeline's."""
    import airflow

    registry = Path(airflow.__file__).parent / "_shared/observability/metrics/metrics_template.yaml"
    stats = set()
    for entry in yaml.safe_load(registry.read_text())["metrics"]:
        for name in (entry["name"], entry.get("legacy_name", "-")):
            if name != "-":
                stats.add(re.sub(r"\{[a-z_]+\}", "diabetes_ingest", name))
    own = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
    return stats | own


def statsd_export(stat: str, rules: list[dict]) -> str:
    """statsd_exporter's name for ``stat``: the first mapping that matches (glob: ``*`` is one
    dot-free part; regex: searched), else its default escaping."""
    for rule in rules:
        if rule.get("match_type") == "regex":
            matched = re.search(rule["match"], stat)
        else:
            pattern = r"\.".join(
                "([^.]+)" if p == "*" else re.escape(p) for p in rule["match"].split(".")
            )
            matched = re.fullmatch(pattern, stat)
        if matched:
            return rule["name"]
    return re.sub(r"[^a-zA-Z0-9_]", "_", stat)


PROMQL_WORDS = {"by", "without", "on", "ignoring", "bool", "offset", "group_left", "group_right"}


def queried_names(dashboard: Path) -> set[str]:
    """The metric names a dashboard's PromQL expressions select."""
    exprs = re.findall(r'"expr":\s*"((?:[^"\\]|\\.)*)"', dashboard.read_text())
    names = set()
    for expr in exprs:
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)", " ", expr)
        bare = re.sub(r"(?<![\w:])\d[\d.]*(?:e[-+]?\d+)?", " ", bare)  # number literals
        for token in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:]|\s*\()", bare):
            if token.group() not in PROMQL_WORDS:
                names.add(token.group())
    return names


class TestPipelineDashboard:
    DASHBOARD = REPO / "charts/mlops-platform/files/dashboards/pipeline.json"

    def test_every_queried_metric_is_exported_by_the_statsd_exporter(self, deployed) -> None:
        producible = statsd_names(objects(deployed("cluster")))
        queried = queried_names(self.DASHBOARD)
        assert "airflow_readmission_champion_test_roc_auc" in queried  # the parse sees them
        assert not queried - producible, sorted(queried - producible)

    def test_a_misspelt_name_is_caught(self, deployed) -> None:
        producible = statsd_names(objects(deployed("cluster")))
        assert "airflow_readmission_batches_loaded" in producible
        assert "airflow_readmission_batch_loaded" not in producible
        assert "airflow_dagrun_duration_count" in producible  # a mapped timer's summary
