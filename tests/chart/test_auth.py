"""The chart's edges: the API always authenticates, every client has its own credential from the
Secret, the published app signs people in from a Secret of its own."""

from __future__ import annotations

import pytest

from tests.chart.test_render import by_kind, env_of


def named(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in by_kind(docs, kind) if d["metadata"]["name"] == name)


def secret_key(env: dict, name: str) -> str:
    """The credentials-Secret key an env var is taken from (fails for a plain value)."""
    ref = env[name]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "mlops-credentials", (name, ref)
    return ref["key"]


@pytest.mark.parametrize("profile", ["minikube", "cluster"])
def test_the_api_requires_credentials_and_every_client_has_one(render_chart, profile) -> None:
    docs = render_chart(profile=profile)
    api = env_of(named(docs, "Deployment", "mlops-inference-api"))
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    # minikube generates the credentials; on a cluster they are the user's Secret (docs/deploy.md)
    generated = secrets["mlops-credentials"]["stringData"] if profile == "minikube" else None
    assert secret_key(api, "ADMIN_TOKEN") == "api-admin-token"
    registered = {}
    for entry in api["SERVICE_KEYS"]["value"].split():
        name, scopes = entry.split(":")
        key = secret_key(api, "API_KEY_" + name.upper().replace("-", "_"))
        if generated is not None:
            assert generated[key].startswith("rk_") and len(generated[key]) >= 40
        registered[key] = scopes.split(",")
    secret_names = [n for n in api if n.endswith(("_TOKEN", "_KEY")) or n.startswith("API_KEY")]
    for name in secret_names:
        assert "value" not in api[name], f"{name} is a plain value"
    # Each client calls with a key the API registers (scopes predict + read; none has admin).
    clients = {"mlops-streamlit": "API_KEY"}
    if profile == "minikube":
        clients["mlops-jupyter"] = "API_KEY"
    for deployment, var in clients.items():
        key = secret_key(env_of(named(docs, "Deployment", deployment)), var)
        assert registered[key] == ["predict", "read"], deployment
    test_pod = named(docs, "Pod", "mlops-test-inference-api")["spec"]["containers"][0]
    pod_env = {e["name"]: e for e in test_pod["env"]}
    assert registered[secret_key(pod_env, "API_KEY")] == ["predict", "read"]
    assert "X-API-Key" in test_pod["args"][0]


def test_the_published_app_signs_people_in_from_a_secret(render_chart) -> None:
    app = named(render_chart(profile="cluster"), "Deployment", "mlops-streamlit")
    assert env_of(app)["UI_LOGIN"]["value"] == "true"
    pod = app["spec"]["template"]["spec"]
    oidc = next(v for v in pod["volumes"] if v["name"] == "oidc")
    assert oidc["secret"]["secretName"] == "mlops-streamlit-oidc"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "oidc")
    assert mount["mountPath"] == "/tmp/.streamlit/secrets.toml"  # HOME=/tmp (the image)
    assert mount["subPath"] == "secrets.toml" and mount["readOnly"] is True


def test_on_minikube_the_app_has_no_sign_in(render_chart) -> None:
    app = named(render_chart(profile="minikube"), "Deployment", "mlops-streamlit")
    assert env_of(app)["UI_LOGIN"]["value"] == "false"
    assert all(v["name"] != "oidc" for v in app["spec"]["template"]["spec"]["volumes"])


def test_sign_in_without_its_secret_does_not_render(render_chart) -> None:
    from tests.chart.conftest import RenderError

    with pytest.raises(RenderError, match=r"streamlit\.login\.secretName"):
        render_chart({"streamlit": {"login": {"enabled": True}}}, profile="minikube")
