"""What the umbrella renders, per profile and per switch."""

from __future__ import annotations

import base64

import pytest

from tests.chart.conftest import RenderError, own, upstream_present


def kinds_and_names(docs: list[dict]) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def env_of(doc: dict) -> dict[str, dict]:
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container.get("env", [])}


OWN_DEFAULT = {
    ("ConfigMap", "mlops-settings"),
    ("ConfigMap", "mlops-dashboard-inference-api"),
    ("ConfigMap", "mlops-dashboard-drift"),
    ("ConfigMap", "mlops-dashboard-pipeline"),
    ("ConfigMap", "mlops-postgres-init"),
    ("Secret", "mlops-credentials"),
    ("Secret", "mlops-airflow-metadata"),
    ("StatefulSet", "mlops-postgres"),
    ("Service", "mlops-postgres"),
    ("Deployment", "mlops-minio"),
    ("Service", "mlops-minio"),
    ("PersistentVolumeClaim", "mlops-minio"),
    ("Job", "mlops-minio-buckets"),
    ("Deployment", "mlops-mlflow"),
    ("Service", "mlops-mlflow"),
    ("ServiceMonitor", "mlops-mlflow"),
    ("Deployment", "mlops-inference-api"),
    ("Service", "mlops-inference-api"),
    ("ServiceMonitor", "mlops-inference-api"),
    ("Deployment", "mlops-streamlit"),
    ("Service", "mlops-streamlit"),
    ("PrometheusRule", "mlops-alerts"),
    ("ServiceMonitor", "mlops-airflow-statsd"),
    ("Pod", "mlops-test-inference-api"),
    ("Pod", "mlops-test-mlflow"),
}


class TestDefaultRender:
    def test_should_render_exactly_the_expected_objects(self, render_chart) -> None:
        rendered = kinds_and_names(render_chart())
        if upstream_present():
            assert rendered >= OWN_DEFAULT
        else:
            assert rendered == OWN_DEFAULT

    @pytest.mark.parametrize("profile", ["minikube", "cluster"])
    def test_should_render_both_profiles(self, render_chart, profile: str) -> None:
        docs = render_chart(profile=profile)
        assert ("Deployment", "mlops-inference-api") in kinds_and_names(docs)

    def test_should_put_every_object_in_the_release_namespace(self, render_chart) -> None:
        docs = render_chart(profile="cluster")
        assert {d["metadata"].get("namespace") for d in own(docs)} == {"mlops"}
        # kube-prometheus-stack's only exception: the Services it scrapes the control plane by
        elsewhere = [d for d in docs if d["metadata"].get("namespace") not in ("mlops", None)]
        assert {(d["kind"], d["metadata"]["namespace"]) for d in elsewhere} <= {
            ("Service", "kube-system")
        }


class TestProfiles:
    def test_minikube_uses_nodeports_and_a_fast_schedule(self, render_chart) -> None:
        docs = render_chart(profile="minikube")
        services = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
        assert services["mlops-inference-api"]["spec"]["type"] == "NodePort"
        assert services["mlops-streamlit"]["spec"]["ports"][0]["nodePort"] == 30501
        config = next(d for d in docs if d["metadata"]["name"] == "mlops-settings")["data"]
        assert config["INGEST_SCHEDULE"] == "*/3 * * * *"
        assert not by_kind(docs, "NetworkPolicy")

    def test_the_configmap_sets_real_settings_with_the_codes_defaults(self, render_chart) -> None:
        from readmission.settings import Settings
        from readmission_api.settings import Settings as ApiSettings

        config = next(d for d in render_chart() if d["metadata"]["name"] == "mlops-settings")
        known = {**Settings.model_fields, **ApiSettings.model_fields}
        # read by MLflow, the UI, and the DAG files (readmission.dag_config)
        extra = {
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION",
            "API_URL",
            "INGEST_SCHEDULE",
            "TRAIN_SCHEDULE",
            "MONITOR_SCHEDULE",
            "TRAIN_ON_NEW_DATA",
        }
        assert set(config["data"]) - extra <= set(known)
        defaults = Settings()
        for key in (
            "PROMOTION_MARGIN", "MIN_ROC_AUC", "PROMOTION_CONFIDENCE", "BOOTSTRAP_SAMPLES",
            "DRIFT_RETRAIN_PSI", "DRIFT_MIN_ROWS", "DRIFT_WINDOW_HOURS",
            "INFERENCE_LOG_RETENTION_DAYS",
        ):  # fmt: skip
            assert float(config["data"][key]) == float(getattr(defaults, key)), key
        assert config["data"]["QUICK_FIRST_MODEL"] == str(defaults.QUICK_FIRST_MODEL).lower()

    def test_cluster_has_tls_ingress_hpa_pdb_and_network_policies(self, render_chart) -> None:
        docs = render_chart(profile="cluster")
        assert {i["spec"]["tls"][0]["secretName"] for i in by_kind(docs, "Ingress")} == {
            "mlops-api-tls",
            "mlops-app-tls",
        }
        assert by_kind(docs, "HorizontalPodAutoscaler")[0]["spec"]["minReplicas"] == 2
        assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["minAvailable"] == 1
        assert (
            len(by_kind(docs, "NetworkPolicy")) == 11
        )  # 7 between the parts + 4 for the bundled monitoring
        assert not by_kind(own(docs), "Secret")  # existing Secrets only

    def test_cluster_profile_refuses_generated_credentials(self, render_chart) -> None:
        with pytest.raises(RenderError, match="generated development credentials are refused"):
            render_chart({"global": {"existingSecrets": False}}, profile="cluster")

    def test_cluster_profile_requires_airflow_secret_names(self, render_chart) -> None:
        with pytest.raises(
            RenderError, match=r"airflow\.jwtSecretName must name an existing Secret"
        ):
            render_chart({"airflow": {"jwtSecretName": ""}}, profile="cluster")

    def test_schema_refuses_unknown_keys(self, render_chart) -> None:
        with pytest.raises(RenderError, match="additional properties 'batchsize' not allowed"):
            render_chart({"pipeline": {"batchsize": 10}})
        with pytest.raises(RenderError, match="inference-api"):
            render_chart({"inference-api": {"replicas": 3}})


class TestSwitches:
    def test_external_database_replaces_postgres(self, render_chart) -> None:
        docs = render_chart(
            {"postgres": {"enabled": False}, "global": {"databaseHost": "db.example.com"}}
        )
        assert not [d for d in docs if d["metadata"]["name"].startswith("mlops-postgres")]
        secret = next(d for d in docs if d["metadata"]["name"] == "mlops-credentials")
        assert "@db.example.com:5432/readmission" in secret["stringData"]["data-db-url"]
        airflow = next(d for d in docs if d["metadata"]["name"] == "mlops-airflow-metadata")
        assert "@db.example.com:5432/airflow" in airflow["stringData"]["connection"]

    def test_external_s3_replaces_minio(self, render_chart) -> None:
        docs = render_chart(
            {
                "minio": {"enabled": False},
                "global": {"s3Endpoint": "https://s3.eu-west-1.amazonaws.com"},
            }
        )
        assert not [d for d in docs if "minio" in d["metadata"]["name"]]
        mlflow = next(
            d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "mlops-mlflow"
        )
        assert (
            env_of(mlflow)["MLFLOW_S3_ENDPOINT_URL"]["value"]
            == "https://s3.eu-west-1.amazonaws.com"
        )

    def test_default_s3_endpoint_is_the_in_chart_minio(self, render_chart) -> None:
        docs = render_chart(show_only=["charts/mlflow/templates/deployment.yaml"])
        assert env_of(docs[0])["MLFLOW_S3_ENDPOINT_URL"]["value"] == "http://mlops-minio:9000"

    @pytest.mark.parametrize(
        ("values", "kind", "count"),
        [
            ({"inference-api": {"autoscaling": {"enabled": True}}}, "HorizontalPodAutoscaler", 1),
            (
                {"inference-api": {"podDisruptionBudget": {"enabled": True}}},
                "PodDisruptionBudget",
                1,
            ),
            ({"inference-api": {"ingress": {"enabled": True}}}, "Ingress", 1),
            ({"streamlit": {"ingress": {"enabled": True}}}, "Ingress", 1),
            ({"networkPolicies": {"enabled": True}}, "NetworkPolicy", 11),
            ({}, "HorizontalPodAutoscaler", 0),
            ({}, "Ingress", 0),
            ({}, "NetworkPolicy", 0),
        ],
    )
    def test_switch_adds_its_objects(self, render_chart, values, kind, count) -> None:
        assert len(by_kind(render_chart(values), kind)) == count

    def test_hpa_removes_the_fixed_replica_count(self, render_chart) -> None:
        docs = render_chart(
            {"inference-api": {"autoscaling": {"enabled": True}}},
            show_only=["charts/inference-api/templates/deployment.yaml"],
        )
        assert "replicas" not in docs[0]["spec"]


class TestSecrets:
    @staticmethod
    def secret_values(docs: list[dict]) -> set[str]:
        values = set()
        for secret in by_kind(docs, "Secret"):
            values |= set(secret.get("stringData", {}).values())
            values |= {base64.b64decode(v).decode() for v in secret.get("data", {}).values()}
        return {v for v in values if len(v) >= 8}

    def test_no_secret_value_appears_in_a_configmap(self, render_chart) -> None:
        docs = render_chart(profile="minikube")  # cluster: the Secrets are the user's
        secrets = self.secret_values(docs)
        assert len(secrets) >= 13  # the API's admin token and four service keys among them
        for config_map in by_kind(docs, "ConfigMap"):
            text = str(config_map.get("data", {}))
            leaked = [s for s in secrets if s in text]
            assert not leaked, (config_map["metadata"]["name"], leaked)

    def test_generated_passwords_are_random_and_long(self, render_chart) -> None:
        renders = [render_chart(fresh=True) for _ in range(2)]  # two helm runs, not one memoised
        first, second = (
            next(d for d in r if d["metadata"]["name"] == "mlops-credentials") for r in renders
        )
        for key in ("postgres-password", "mlflow-db-password", "s3-secret-key", "api-admin-token"):
            assert len(first["stringData"][key]) >= 32
            assert first["stringData"][key] != second["stringData"][key]

    def test_urls_carry_the_generated_passwords(self, render_chart) -> None:
        secret = next(d for d in render_chart() if d["metadata"]["name"] == "mlops-credentials")
        data = secret["stringData"]
        assert data["data-db-url"] == (
            f"postgresql://readmission:{data['data-db-password']}@mlops-postgres:5432/readmission"
        )
        assert data["mlflow-backend-uri"].startswith(
            f"postgresql://mlflow:{data['mlflow-db-password']}@"
        )

    def test_grafana_reads_its_password_from_our_secret(self, render_chart) -> None:
        docs = render_chart()
        secret = next(d for d in docs if d["metadata"]["name"] == "mlops-credentials")
        assert secret["stringData"]["grafana-admin-user"] == "admin"
        assert len(secret["stringData"]["grafana-admin-password"]) >= 32


class TestWorkloads:
    @staticmethod
    def workloads(docs: list[dict]) -> list[tuple[dict, dict]]:
        """(object, pod spec) of every Deployment, StatefulSet, Job and Pod of ours (the
        upstream charts' are sized in tests/chart/test_full_umbrella.py)."""
        out = []
        for d in own(docs):
            if d["kind"] in ("Deployment", "StatefulSet", "Job"):
                out.append((d, d["spec"]["template"]["spec"]))
            elif d["kind"] == "Pod":
                out.append((d, d["spec"]))
        return out

    @pytest.mark.parametrize("profile", ["minikube", "cluster"])
    def test_every_container_is_non_root_read_only_and_limited(self, render_chart, profile) -> None:
        for obj, pod in self.workloads(render_chart(profile=profile)):
            assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
            assert pod["securityContext"]["runAsUser"] >= 10000, obj["metadata"]["name"]
            for c in pod["containers"] + pod.get("initContainers", []):
                where = f"{obj['metadata']['name']}/{c['name']}"
                assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
                assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
                assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], where
                assert c["resources"]["requests"] and c["resources"]["limits"], where
                assert ":" in c["image"] and not c["image"].endswith(":latest"), where

    def test_every_long_running_container_has_probes(self, render_chart) -> None:
        for obj, pod in self.workloads(render_chart(profile="cluster")):
            if obj["kind"] in ("Job", "Pod"):
                continue  # run to completion
            for c in pod["containers"]:
                where = f"{obj['metadata']['name']}/{c['name']}"
                assert "readinessProbe" in c and "livenessProbe" in c, where

    def test_api_probes_use_the_health_routes(self, render_chart) -> None:
        docs = render_chart(show_only=["charts/inference-api/templates/deployment.yaml"])
        api = docs[0]["spec"]["template"]["spec"]["containers"][0]
        assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert docs[0]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    def test_config_changes_roll_the_pods(self, render_chart) -> None:
        base = render_chart(show_only=["charts/inference-api/templates/deployment.yaml"])[0]
        changed = render_chart(
            {"inference-api": {"env": {"MODEL_POLL_SECONDS": "5"}}},
            show_only=["charts/inference-api/templates/deployment.yaml"],
        )[0]
        key = "checksum/config"
        assert (
            base["spec"]["template"]["metadata"]["annotations"][key]
            != (changed["spec"]["template"]["metadata"]["annotations"][key])
        )

    def test_mlflow_serves_artifacts_and_metrics_after_migrating(self, render_chart) -> None:
        docs = render_chart(show_only=["charts/mlflow/templates/deployment.yaml"])
        pod = docs[0]["spec"]["template"]["spec"]
        assert "mlflow db upgrade" in pod["initContainers"][0]["command"][-1]
        args = pod["containers"][0]["args"][0]
        for flag in (
            "--serve-artifacts",
            '--artifacts-destination "s3://mlflows3"',
            "--expose-prometheus",
            "--allowed-hosts",
        ):
            assert flag in args

    def test_dashboards_are_labelled_for_the_grafana_sidecar(self, render_chart) -> None:
        dashboards = [
            d
            for d in render_chart()
            if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1"
        ]
        assert dashboards and all(k.endswith(".json") for d in dashboards for k in d["data"])
