"""Who may call what, on the real server: every route of its OpenAPI document, every credential."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
import uuid

import httpx
import sqlalchemy as sa
from readmission import contract, db
from readmission_local.process import free_port

from tests.api.conftest import ADMIN_TOKEN, TEST_KEY, patients

PUBLIC = ("/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready")
SCOPES = ("predict", "read", "admin")


def v2_body(rows: list[dict]) -> dict:
    def datatype(c: contract.Column) -> str:
        return "INT64" if c.kind in (contract.Kind.INTEGER, contract.Kind.CODE) else "BYTES"

    inputs = [
        {
            "name": c.name,
            "shape": [len(rows)],
            "datatype": datatype(c),
            "data": [r[c.name] for r in rows],
        }
        for c in contract.FEATURES
    ]
    return {"inputs": inputs}


def admin(idp) -> dict[str, str]:
    """An admin token of a client of its own (its own rate-limit bucket)."""
    return {"Authorization": f"Bearer {idp.token('admin', client='admin-' + uuid.uuid4().hex)}"}


def call(
    client: httpx.Client, method: str, path: str, operation: dict, idp, model: str, headers: dict
) -> httpx.Response:
    """One valid request to ``method path`` (a route without an example here fails the test)."""
    patient = contract.default_patient()
    examples = {
        ("post", "/predict"): {"json": patient},
        ("post", "/predict/batch"): {"json": {"patients": [patient]}},
        ("post", "/explain"): {"json": patient},
        ("post", "/v2/models/{name}/infer"): {"json": v2_body([patient])},
        ("get", "/vocabulary/icd9"): {"params": {"q": "428"}},
        ("post", "/admin/keys"): {
            "json": {"name": f"k-{uuid.uuid4().hex[:8]}", "scopes": ["read"]}
        },
    }
    name = model
    if path == "/admin/keys/{name}":  # a live key to revoke
        name = f"k-{uuid.uuid4().hex[:8]}"
        made = client.post(
            "/admin/keys", json={"name": name, "scopes": ["read"]}, headers=admin(idp)
        )
        assert made.status_code == 201, made.text
    kwargs = examples.get((method, path), {})
    needs = "requestBody" in operation or any(
        p.get("required") for p in operation.get("parameters", []) if p["in"] == "query"
    )
    if needs:
        assert kwargs, f"{method.upper()} {path}: add a valid example request to this test"
    return client.request(method, path.replace("{name}", name), headers=headers, **kwargs)


def test_every_route_refuses_strangers_and_wrong_scopes_and_serves_the_right_one(
    api, idp, registered
) -> None:
    with api.client(credential=None) as client:
        document = client.get("/openapi.json").json()
        bad = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                route = f"{method.upper()} {path}"
                security = operation.get("security")
                if not security:
                    answer = call(client, method, path, operation, idp, registered.name, {})
                    if path not in PUBLIC or answer.status_code != 200:
                        bad.append(f"{route}: public ({answer.status_code})")
                    continue
                needed = {s for requirement in security for v in requirement.values() for s in v}
                assert len(needed) == 1, (route, security)
                scope = needed.pop()
                others = " ".join(s for s in SCOPES if s != scope)
                me = f"route-{len(bad)}-{method}{path}"  # a rate-limit bucket of its own
                cases = {
                    "none": ({}, 401),
                    "expired": (idp.token(scope, me, ttl=-120), 401),
                    "foreign-signed": (idp.token(scope, me, key="foreign"), 401),
                    "other audience": (idp.token(scope, me, aud="someone-else"), 401),
                    "wrong scope": (idp.token(others, me), 403),
                    "right scope": (idp.token(scope, me), 200),
                }
                for case, (token, expected) in cases.items():
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    answer = call(client, method, path, operation, idp, registered.name, headers)
                    got = answer.status_code
                    if (got // 100 != 2) if expected == 200 else (got != expected):
                        bad.append(f"{route} {case}: {got} {answer.text[:200]}")
                    elif expected != 200 and not answer.json().get("detail"):
                        bad.append(f"{route} {case}: no message")
        assert len(document["paths"]) >= 15
        assert not bad, "\n".join(bad)
        schemes = document["components"]["securitySchemes"]
        assert schemes["bearer"]["scheme"] == "bearer" and schemes["apiKey"]["in"] == "header"
        assert client.get("/metrics").status_code == 200 and client.get("/docs").status_code == 200


def test_the_messages_say_what_is_missing(api, idp) -> None:
    with api.client(credential=None) as client:
        none = client.get("/model")
        expired = client.get(
            "/model", headers={"Authorization": f"Bearer {idp.token('read', ttl=-120)}"}
        )
        key = client.get("/model", headers={"X-API-Key": "rk_unknown"})
        scope = client.post("/admin/reload", headers={"X-API-Key": TEST_KEY})
    assert "authentication required" in none.json()["detail"]
    assert none.headers["WWW-Authenticate"] == "Bearer"
    assert "expired" in expired.json()["detail"]
    assert key.status_code == 401 and "unknown or revoked API key" in key.json()["detail"]
    assert scope.status_code == 403
    assert scope.json()["detail"] == (
        "the credential 'tests' lacks the scope 'admin' that POST /admin/reload requires"
    )
    assert 'insufficient_scope", scope="admin"' in scope.headers["WWW-Authenticate"]


def test_keys_are_stored_hashed_and_a_revoked_one_is_refused_within_a_second(
    api, api_env, idp
) -> None:
    boss = admin(idp)
    name = f"batch-{uuid.uuid4().hex[:6]}"
    with api.client(credential=None) as client:
        created = client.post(
            "/admin/keys", json={"name": name, "scopes": ["predict"]}, headers=boss
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        mine = {"X-API-Key": key}
        assert (
            client.post("/predict", json=contract.default_patient(), headers=mine).status_code
            == 200
        )
        assert client.get("/model", headers=mine).status_code == 403  # predict only
        again = client.post("/admin/keys", json={"name": name, "scopes": ["read"]}, headers=boss)
        assert again.status_code == 409 and "revoke it first" in again.json()["detail"]
        listed = {k["name"]: k for k in client.get("/admin/keys", headers=boss).json()}
        assert listed[name]["scopes"] == ["predict"] and listed[name]["last_used_at"]
        assert key not in client.get("/admin/keys", headers=boss).text

        assert client.delete(f"/admin/keys/{name}", headers=boss).status_code == 200
        revoked = time.monotonic()
        while time.monotonic() - revoked < 1.0:  # refused by then, whatever the cache held
            time.sleep(0.05)
        assert client.get("/health/ready").status_code == 200
        late = client.post("/predict", json=contract.default_patient(), headers=mine)
        assert late.status_code == 401, late.text
        assert client.delete(f"/admin/keys/{name}", headers=boss).status_code == 404

    engine = db.make_engine(api_env["DATA_DB_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.api_keys)).all()
        dump = " ".join(str(tuple(r)) for r in rows)
    engine.dispose()
    assert key not in dump and TEST_KEY not in dump  # no key, in any column
    stored = {r.name: r.key_hash for r in rows}
    assert stored[name] == hashlib.sha256(key.encode()).hexdigest()
    assert stored["tests"] == hashlib.sha256(TEST_KEY.encode()).hexdigest()


def test_the_keys_cli_creates_lists_and_revokes(api, api_env) -> None:
    def cli(*args: str, url: str = api_env["DATA_DB_URL"]) -> subprocess.CompletedProcess:
        env = {"DATA_DB_URL": url, "PATH": "/usr/bin:/bin"}
        return subprocess.run(
            [sys.executable, "-m", "readmission_api", "keys", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    name = f"cli-{uuid.uuid4().hex[:6]}"
    made = cli("create", name, "--scopes", "read")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    with api.client(credential=key) as client:
        assert client.get("/model").status_code == 200
        listed = cli("list")
        line = next(x for x in listed.stdout.splitlines() if x.startswith(name + "\t"))
        assert "\tread\t" in line and key not in listed.stdout and "last used 20" in line
        assert cli("revoke", name).returncode == 0
        time.sleep(1.0)
        assert client.get("/model").status_code == 401
    wrong = cli("create", "x", "--scopes", "everything")
    assert wrong.returncode == 2 and "scopes must be among predict, read, admin" in wrong.stderr
    down = cli("list", url=f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert down.returncode == 1 and "key store (DATA_DB_URL) is unreachable" in down.stderr
    assert "Traceback" not in down.stderr


def test_past_the_rate_limit_429_with_retry_after_and_others_are_not_slowed(api, idp) -> None:
    hammer = {"Authorization": f"Bearer {idp.token('admin', client='hammer')}"}
    other = {"Authorization": f"Bearer {idp.token('admin', client='other')}"}
    with api.client(credential=None) as client:
        answers = [client.get("/admin/keys", headers=hammer) for _ in range(30)]
        codes = [a.status_code for a in answers]
        # The admin scope's default: 5 requests/s per credential, a burst of 5.
        assert codes[:5] == [200] * 5 and codes.count(429) >= 20, codes
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1
        assert "5 requests/s for scope 'admin'" in limited.json()["detail"]
        assert client.get("/admin/keys", headers=other).status_code == 200
        assert client.get("/model", headers={"X-API-Key": TEST_KEY}).status_code == 200
        metrics = client.get("/metrics").text
    assert 'readmission_rate_limited_total{credential="hammer",scope="admin"}' in metrics
    counted = 'readmission_requests_by_credential_total{credential="tests",kind="key",scope="read"}'
    assert counted in metrics
    assert TEST_KEY not in metrics and ADMIN_TOKEN not in metrics


def test_no_log_line_carries_a_patients_values(api, registered) -> None:
    """Sentinels in the open text fields (scored) and in every field (refused), on every route
    that takes patients: the server's log (access log on) holds none of them."""
    sentinel = f"Zq{uuid.uuid4().hex[:10]}"
    rows = patients(3, seed=9)
    for row in rows:
        row["payer_code"], row["medical_specialty"] = sentinel + "P", sentinel + "S"
    refused = {c.name: sentinel + c.name for c in contract.FEATURES}
    with api.client() as client:
        sent = [
            client.post("/predict", json=rows[0]),
            client.post("/predict/batch", json={"patients": rows}),
            client.post("/explain", json=rows[1]),
            client.post(f"/v2/models/{registered.name}/infer", json=v2_body(rows)),
        ]
        assert [a.status_code for a in sent] == [200] * 4, [a.text[:200] for a in sent]
        for path in ("/predict", "/explain"):
            assert client.post(path, json=refused).status_code == 422
            assert client.post(path, content=f'{{"age": "{sentinel}", ').status_code == 422
        assert client.post("/predict/batch", json={"patients": [refused]}).status_code == 422
    time.sleep(1.0)  # the access log and the inference log's writer
    text = api.log.read_text()
    assert "POST /predict" in text  # the access log is on: the search is not vacuous
    assert sentinel not in text


def test_creating_one_name_at_once_gives_one_key_and_clear_conflicts(api, idp) -> None:
    name = f"race-{uuid.uuid4().hex[:6]}"
    codes: list[int] = []

    def create() -> None:
        with api.client(credential=None) as client:
            body = {"name": name, "scopes": ["read"]}
            codes.append(client.post("/admin/keys", json=body, headers=admin(idp)).status_code)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409, 409, 409], codes
