"""Bad input, tried as a new user would and as a fuzzer would: never an answer of 500 or more."""

from __future__ import annotations

import json
import random
import threading

import httpx
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readmission import contract
from readmission.settings import DEFAULT_SOURCE

from tests.api.conftest import TEST_KEY

ENDPOINTS = ("/predict", "/predict/batch", "/explain", "/v2/models/readmission/infer")


def test_a_non_utf8_body_is_422_not_500(api) -> None:
    body = bytes(random.Random(7).getrandbits(8) for _ in range(256)) + b"\xff\xfe"
    with api.client() as client:
        for path in ENDPOINTS:
            answer = client.post(
                path, content=body, headers={"Content-Type": "application/octet-stream"}
            )
            assert answer.status_code == 422, (path, answer.text)
            assert answer.json()["detail"], path


def test_rows_copied_from_the_data_set_are_scored_with_question_marks_as_missing(api) -> None:
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False, nrows=300)
    frame = frame[~frame["discharge_disposition_id"].astype(int).isin(contract.NOT_READMITTABLE)]
    rows = []
    for record in frame[list(contract.FEATURE_NAMES)].to_dict("records"):
        for col in contract.FEATURES:  # numbers as numbers; text exactly as the file has it
            if col.kind in (contract.Kind.INTEGER, contract.Kind.CODE):
                record[col.name] = int(record[col.name])
        rows.append(record)
    assert sum(r["weight"] == "?" for r in rows) > 200  # the file's own missing marker
    with api.client() as client:
        one = client.post("/predict", json=rows[0])
        many = client.post("/predict/batch", json={"patients": rows})
    assert one.status_code == 200, one.text
    assert many.status_code == 200, many.text
    assert len(many.json()["probabilities"]) == len(rows)


def test_a_question_mark_in_a_required_field_is_422_naming_it(api) -> None:
    with api.client() as client:
        answer = client.post("/predict", json={**contract.default_patient(), "age": "?"})
    assert answer.status_code == 422
    assert any("age is required" in e["msg"] for e in answer.json()["detail"]), answer.text


BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode()),
    # A real patient with one field replaced by anything.
    st.tuples(st.sampled_from(contract.FEATURE_NAMES), st.text(max_size=8) | st.integers()).map(
        lambda kv: json.dumps({**contract.default_patient(), kv[0]: kv[1]}).encode()
    ),
)
TYPES = st.sampled_from(
    ["application/json", "application/octet-stream", "text/plain; charset=latin-1", ""]
)


def test_fuzzed_raw_bodies_never_get_a_server_error(api) -> None:
    seen: list[int] = []

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(path=st.sampled_from(ENDPOINTS), body=BODIES, content_type=TYPES)
    def post(path: str, body: bytes, content_type: str) -> None:
        headers = {"X-API-Key": TEST_KEY}
        if content_type:
            headers["Content-Type"] = content_type
        answer = httpx.post(api.url + path, content=body, headers=headers, timeout=30)
        seen.append(answer.status_code)
        assert answer.status_code < 500, (path, body[:80], answer.text[:300])

    post()
    print(f"\nfuzzed bodies: {len(seen)} requests, statuses {sorted(set(seen))}")
    assert len(seen) >= 300


def test_under_concurrent_load_only_the_bad_request_fails(api) -> None:
    good = contract.default_patient()
    answers: dict[int, int] = {}

    def send(i: int) -> None:
        body = {**good, "age": "[200-210)"} if i == 25 else {**good, "time_in_hospital": i % 14 + 1}
        key = {"X-API-Key": TEST_KEY}
        answers[i] = httpx.post(
            api.url + "/predict", json=body, headers=key, timeout=30
        ).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.pop(25) == 422
    assert set(answers.values()) == {200}, answers
