"""JupyterLab in the umbrella: on in the minikube profile, off in the cluster profile unless
turned on; the pipeline's settings and credentials; a volume; nothing reaches it."""

from __future__ import annotations

from tests.chart.test_render import by_kind, env_of, kinds_and_names

OBJECTS = {
    ("Deployment", "mlops-jupyter"),
    ("Service", "mlops-jupyter"),
    ("PersistentVolumeClaim", "mlops-jupyter-notebooks"),
}


def named(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    return doc


def test_the_minikube_profile_runs_jupyterlab_with_the_pipelines_settings(render_chart) -> None:
    docs = render_chart(profile="minikube")
    assert kinds_and_names(docs) >= OBJECTS
    deployment = named(docs, "Deployment", "mlops-jupyter")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "mlops-settings"}}]
    env = env_of(deployment)
    for name, key in (("JUPYTER_TOKEN", "jupyter-token"), ("DATA_DB_URL", "data-db-url")):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "mlops-credentials", "key": key}
    token = named(docs, "Secret", "mlops-credentials")["stringData"]["jupyter-token"]
    assert len(token) >= 32
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes[mounts["/srv/mine"]]["persistentVolumeClaim"]["claimName"]
    assert claim == "mlops-jupyter-notebooks"
    assert named(docs, "Service", "mlops-jupyter")["spec"]["type"] == "ClusterIP"


def test_the_cluster_profile_has_no_jupyterlab_unless_turned_on(render_chart) -> None:
    assert not OBJECTS & kinds_and_names(render_chart(profile="cluster"))
    turned_on = render_chart({"jupyter": {"enabled": True}}, profile="cluster")
    assert kinds_and_names(turned_on) >= OBJECTS


def test_nothing_reaches_jupyterlab_and_it_reaches_the_data_mlflow_and_the_api(
    render_chart,
) -> None:
    docs = render_chart({"jupyter": {"enabled": True}, "networkPolicies": {"enabled": True}})
    policies = {d["metadata"]["name"]: d["spec"] for d in by_kind(docs, "NetworkPolicy")}
    assert policies["mlops-jupyter"]["ingress"] == []
    jupyter = {"app.kubernetes.io/name": "jupyter", "app.kubernetes.io/instance": "mlops"}
    for target in ("postgres", "mlflow", "inference-api"):
        peers = [p for rule in policies[f"mlops-{target}"]["ingress"] for p in rule["from"]]
        assert {"podSelector": {"matchLabels": jupyter}} in peers, target
    for target in ("minio", "streamlit", "airflow"):
        peers = [p for rule in policies[f"mlops-{target}"]["ingress"] for p in rule["from"]]
        assert {"podSelector": {"matchLabels": jupyter}} not in peers, target
