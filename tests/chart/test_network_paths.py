"""Every scrape and every Grafana query is admitted by some rendered NetworkPolicy.

The walk follows each ServiceMonitor (namespace, selector, endpoint port) to the Services and
pods it targets, and checks that a NetworkPolicy selecting those pods admits that port from the
Prometheus pods; the same for Grafana's datasource (Prometheus on 9090). Pods of the upstream
charts are taken from the render when `make deps` put the charts there; absent, from the labels
those charts give their pods (listed below, and said so in the printed table).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.chart.conftest import kps_fullname, upstream_present

NAMESPACE = "mlops"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def prometheus_pod(release: str) -> dict[str, str]:
    """Labels the Prometheus Operator gives the bundled Prometheus's pods."""
    return {
        "app.kubernetes.io/name": "prometheus",
        "prometheus": f"{kps_fullname(release)}-prometheus",
    }


def grafana_pod(release: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release}


def upstream_targets(release: str) -> dict[str, list[tuple[dict[str, str], int]]]:
    """ServiceMonitor name → (pod labels, port) of targets whose pods the upstream charts make."""
    statsd = {"tier": "airflow", "component": "statsd", "release": release}
    return {f"{release}-airflow-statsd": [(statsd, 9102)]}


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Path:
    what: str
    sender: str
    sender_labels: tuple
    receiver_labels: tuple
    port: int
    port_name: str | None
    source: str


def _pods(docs: list[dict]) -> list[tuple[dict[str, str], dict[str, int]]]:
    """Pod labels and named container ports of the rendered workloads (host-network pods, such
    as node-exporter's, are left out: NetworkPolicies do not apply to them)."""
    out = []
    for d in docs:
        if d["kind"] in WORKLOADS and not d["spec"]["template"]["spec"].get("hostNetwork"):
            template = d["spec"]["template"]
            ports = {
                p["name"]: p["containerPort"]
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
                if "name" in p
            }
            out.append((template["metadata"].get("labels") or {}, ports))
    return out


def _targets(monitor: dict, docs: list[dict]):
    """(pod labels, port number, port name) of each rendered pod a ServiceMonitor scrapes."""
    spec = monitor["spec"]
    for service in (d for d in docs if d["kind"] == "Service"):
        if not matches(spec.get("selector"), service["metadata"].get("labels") or {}):
            continue
        for endpoint in spec.get("endpoints", []):
            port = next(p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"])
            target = port.get("targetPort", port["port"])
            for labels, ports in _pods(docs):
                if matches({"matchLabels": service["spec"].get("selector")}, labels):
                    named = isinstance(target, str)
                    yield labels, int(ports[target] if named else target), target if named else None


def scrape_paths(docs: list[dict], release: str) -> list[Path]:
    """Prometheus → each target of each rendered ServiceMonitor, in this namespace."""
    sender = tuple(sorted(prometheus_pod(release).items()))
    paths = []
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        name, selector = monitor["metadata"]["name"], monitor["spec"].get("namespaceSelector") or {}
        if NAMESPACE not in selector.get("matchNames", [NAMESPACE]) and not selector.get("any"):
            continue
        found = [(*target, "rendered") for target in _targets(monitor, docs)]
        if not found and not upstream_present():
            absent = "upstream labels (chart absent)"
            found = [
                (labels, port, None, absent)
                for labels, port in upstream_targets(release).get(name, [])
            ]
        for labels, port, port_name, source in found:
            receiver = tuple(sorted(labels.items()))
            paths.append(
                Path(f"scrape {name}", "prometheus", sender, receiver, port, port_name, source)
            )
    return paths


def grafana_path(release: str) -> Path:
    return Path(
        "grafana datasource",
        "grafana",
        tuple(sorted(grafana_pod(release).items())),
        tuple(sorted(prometheus_pod(release).items())),
        9090,
        None,
        "rendered" if upstream_present() else "upstream labels (chart absent)",
    )


def _peer_admits(peer: dict, sender: dict[str, str]) -> bool:
    if "namespaceSelector" in peer:
        own = {"kubernetes.io/metadata.name": NAMESPACE}
        if not matches(peer["namespaceSelector"], own):
            return False
    return matches(peer.get("podSelector"), sender) if "podSelector" in peer else True


def admitting(policies: list[dict], path: Path) -> list[str]:
    """Names of the policies that let ``path`` through."""
    receiver, sender = dict(path.receiver_labels), dict(path.sender_labels)
    names = []
    for policy in policies:
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]):
            continue
        if not matches(spec.get("podSelector"), receiver):
            continue
        for rule in spec.get("ingress") or []:
            ports = rule.get("ports") or [{}]
            port_ok = any(
                "port" not in p or p["port"] in (path.port, path.port_name) for p in ports
            )
            peers = rule.get("from") or [{}]
            if port_ok and any(_peer_admits(peer, sender) for peer in peers):
                names.append(policy["metadata"]["name"])
    return names


def walk(docs: list[dict], release: str) -> list[tuple[Path, list[str]]]:
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    paths = [*scrape_paths(docs, release), grafana_path(release)]
    return [(path, admitting(policies, path)) for path in paths]


def table(rows: list[tuple[Path, list[str]]]) -> str:
    lines = [f"{'path':42s} {'to':48s} {'port':>5s}  admitted by / checked from"]
    for path, names in rows:
        to = ",".join(f"{k}={v}" for k, v in path.receiver_labels)[:48]
        verdict = ", ".join(names) or "NOT ADMITTED"
        lines.append(f"{path.what:42s} {to:48s} {path.port:>5d}  {verdict} ({path.source})")
    return "\n".join(lines)


@pytest.mark.parametrize("release", ["mlops", "readmission-production"])
def test_every_scrape_and_grafana_query_is_admitted(helm, umbrella, release) -> None:
    from tests.chart.conftest import render

    docs = render(helm, umbrella, profile="cluster", release=release)
    rows = walk(docs, release)
    print(f"\nnetwork paths checked (cluster profile, release {release}):\n{table(rows)}")
    scraped = {p.what for p, _ in rows}
    assert {f"scrape {release}-mlflow", f"scrape {release}-inference-api"} <= scraped
    assert f"scrape {release}-airflow-statsd" in scraped
    assert all(names for _, names in rows), table(rows)


def test_without_a_prometheus_to_derive_nothing_is_admitted(helm, umbrella) -> None:
    """The control: no bundled stack and no monitoring namespace → the scrapes are refused."""
    from tests.chart.conftest import render

    values = {"kube-prometheus-stack": {"enabled": False}}
    docs = render(helm, umbrella, values, profile="cluster")
    rows = [r for r in walk(docs, "mlops") if r[0].what.startswith("scrape")]
    assert rows and not any(names for _, names in rows), table(rows)


def test_an_external_monitoring_namespace_is_still_an_option(helm, umbrella) -> None:
    from tests.chart.conftest import render

    values = {
        "kube-prometheus-stack": {"enabled": False},
        "networkPolicies": {"monitoringNamespace": {"kubernetes.io/metadata.name": "monitoring"}},
    }
    docs = render(helm, umbrella, values, profile="cluster")
    api = next(d for d in docs if d["metadata"]["name"] == "mlops-inference-api"
               and d["kind"] == "NetworkPolicy")  # fmt: skip
    peers = [peer for rule in api["spec"]["ingress"] for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    } in (peers)
    assert not any(p.get("podSelector", {}).get("matchLabels", {}).get("prometheus") for p in peers)
