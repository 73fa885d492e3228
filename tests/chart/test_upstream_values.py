"""What the umbrella hands the upstream charts (Airflow, kube-prometheus-stack), per profile.

Offline the upstream charts are absent, so the values helm passes them are checked: a throwaway
template dumps helm's own merge of the umbrella's values and the profile. With the charts present
(`make deps`), the rendered objects are checked as well.
"""

from __future__ import annotations

import pytest
import yaml

from tests.chart.conftest import RenderError, render, upstream_present
from tests.conftest import REPO

PROFILES = ["minikube", "cluster"]
KPS_CONTAINERS = (  # every container kube-prometheus-stack runs, by its values key
    "prometheusOperator",
    "prometheusOperator.prometheusConfigReloader",
    "prometheusOperator.admissionWebhooks.patch",
    "alertmanager.alertmanagerSpec",
    "grafana",
    "grafana.sidecar",
    "grafana.initChownData",
    "grafana.testFramework",
    "kube-state-metrics",
    "prometheus-node-exporter",
    "prometheus.prometheusSpec",
)


def dig(tree: dict, dotted: str) -> dict:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def upstream_objects(helm, umbrella, profile: str) -> list[dict]:
    return render(helm, umbrella, profile=profile) if upstream_present() else []


class TestJobsSurviveUpgrades:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_should_remove_finished_jobs_so_an_upgrade_recreates_them(
        self, merged, helm, umbrella, profile
    ) -> None:
        airflow = merged(profile)["airflow"]
        for job in ("migrateDatabaseJob", "createUserJob"):
            assert airflow[job]["useHelmHooks"] is False, job  # `--wait` would deadlock
            assert airflow[job]["ttlSecondsAfterFinished"] == 0, job
        for doc in upstream_objects(helm, umbrella, profile):
            if doc["kind"] == "Job" and doc["metadata"]["labels"].get("tier") == "airflow":
                assert doc["spec"]["ttlSecondsAfterFinished"] == 0, doc["metadata"]["name"]


class TestAdminCredential:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_should_read_the_admin_password_from_the_secret(
        self, merged, helm, umbrella, profile
    ) -> None:
        job = merged(profile)["airflow"]["createUserJob"]
        command = " ".join(job["args"])
        assert '--password "$(cat /etc/airflow-admin/password)"' in command
        assert "admin" not in command.split("--password", 1)[1].replace("airflow-admin", "")
        (volume,) = job["extraVolumes"]
        assert volume["secret"]["secretName"] == "mlops-credentials"
        assert volume["secret"]["items"] == [{"key": "airflow-admin-password", "path": "password"}]
        assert job["extraVolumeMounts"][0]["mountPath"] == "/etc/airflow-admin"
        for doc in upstream_objects(helm, umbrella, profile):
            if doc["kind"] == "Job" and "create-user" in doc["metadata"]["name"]:
                args = " ".join(doc["spec"]["template"]["spec"]["containers"][0]["args"])
                assert "$(cat /etc/airflow-admin/password)" in args

    def test_should_generate_it_on_minikube_and_document_it_for_clusters(self, helm, umbrella):
        secret = next(
            d
            for d in render(helm, umbrella, profile="minikube")
            if d["kind"] == "Secret" and d["metadata"]["name"] == "mlops-credentials"
        )
        assert len(secret["stringData"]["airflow-admin-password"]) == 32
        assert "airflow-admin-password" in (REPO / "docs/deploy.md").read_text()


class TestDagRepository:
    def test_cluster_should_require_the_repository(self, helm, umbrella) -> None:
        with pytest.raises(RenderError, match=r"airflow\.dags\.gitSync\.repo is required"):
            render(helm, umbrella, profile="cluster", cluster_inputs=False)

    def test_no_placeholder_repository_is_shipped(self) -> None:
        files = ["charts/mlops-platform/values.yaml", *(f"values/{p}.yaml" for p in PROFILES)]
        for path in files:
            tree = yaml.safe_load((REPO / path).read_text())
            git_sync = tree.get("airflow", {}).get("dags", {}).get("gitSync", {})
            assert not git_sync.get("repo"), path

    def test_minikube_should_run_the_dags_baked_into_the_image(self, merged) -> None:
        assert merged("minikube")["airflow"]["dags"]["gitSync"]["enabled"] is False
        dockerfile = (REPO / "services/airflow/Dockerfile").read_text()
        assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in dockerfile


class TestLogsPersistence:
    def test_should_be_off_unless_a_storage_class_is_chosen(self, merged, helm, umbrella):
        assert merged("cluster")["airflow"]["logs"]["persistence"]["enabled"] is False
        on = {"airflow": {"logs": {"persistence": {"enabled": True}}}}
        with pytest.raises(RenderError, match="ReadWriteMany"):
            render(helm, umbrella, on, profile="cluster")
        on["airflow"]["logs"]["persistence"]["storageClassName"] = "efs-sc"
        assert render(helm, umbrella, on, profile="cluster")


class TestMonitoringResources:
    def test_cluster_should_size_every_monitoring_container(self, merged, helm, umbrella):
        kps = merged("cluster")["kube-prometheus-stack"]
        for path in KPS_CONTAINERS:
            resources = dig(kps, path)["resources"]
            assert resources["requests"] and resources["limits"], path
        for doc in upstream_objects(helm, umbrella, "cluster"):
            labels = doc["metadata"].get("labels") or {}
            if labels.get("release") != "mlops" and labels.get("app.kubernetes.io/instance") != (
                "mlops"
            ):
                continue
            spec = doc.get("spec") or {}
            pod = (spec.get("template") or {}).get("spec") or {}
            for container in (*pod.get("containers", []), *pod.get("initContainers", [])):
                resources = container.get("resources") or {}
                assert resources.get("requests") and resources.get("limits"), (
                    doc["kind"],
                    doc["metadata"]["name"],
                    container["name"],
                )
