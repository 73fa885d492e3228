"""Predictions from the real server: single, batch (= pyfunc), OIP V2, explanations, errors."""

from __future__ import annotations

import math
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from readmission import contract, db

from tests.api.conftest import patients


def test_predict_one_patient(api, registered) -> None:
    with api.client() as client:
        answer = client.post("/predict", json=contract.default_patient())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 0 < body["probability"] < 1
    assert body["label"] == int(body["probability"] >= body["threshold"])
    assert body["model"]["name"] == registered.name and body["model"]["alias"] == "champion"
    assert body["model"]["version"] and body["model"]["run_id"]


def test_batch_equals_pyfunc_on_the_same_rows(api, registered) -> None:
    rows = patients(300)
    with api.client() as client:
        answer = client.post("/predict/batch", json={"patients": rows})
    assert answer.status_code == 200, answer.text
    version = answer.json()["model"]["version"]
    pyfunc = mlflow.pyfunc.load_model(f"models:/{registered.name}/{version}")
    expected = np.asarray(pyfunc.predict(pd.DataFrame(rows)))[:, 1]
    assert np.allclose(answer.json()["probabilities"], expected, rtol=0, atol=1e-12)


def test_oip_v2_infer_equals_batch(api, registered) -> None:
    rows = patients(120, seed=5)
    inputs = [
        {
            "name": c.name,
            "shape": [len(rows)],
            "datatype": "INT64"
            if c.kind in (contract.Kind.INTEGER, contract.Kind.CODE)
            else "BYTES",
            "data": [r[c.name] for r in rows],
        }
        for c in contract.FEATURES
    ]
    with api.client() as client:
        batch = client.post("/predict/batch", json={"patients": rows}).json()
        v2 = client.post(f"/v2/models/{registered.name}/infer", json={"id": "r1", "inputs": inputs})
        meta = client.get(f"/v2/models/{registered.name}").json()
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/models/not-this-one").status_code == 404
    assert v2.status_code == 200, v2.text
    outputs = {o["name"]: o for o in v2.json()["outputs"]}
    assert outputs["probability"]["data"] == batch["probabilities"]
    assert outputs["label"]["data"] == batch["labels"]
    assert v2.json()["id"] == "r1" and v2.json()["model_version"] == batch["model"]["version"]
    assert len(meta["inputs"]) == 47


def test_oip_v2_names_the_bad_row_and_input(api, registered) -> None:
    rows = patients(3, seed=6)
    rows[2]["age"] = "[100-110)"
    inputs = [{"name": "age", "shape": [3], "datatype": "BYTES", "data": [r["age"] for r in rows]}]
    with api.client() as client:
        answer = client.post(f"/v2/models/{registered.name}/infer", json={"inputs": inputs})
    assert answer.status_code == 422
    error = answer.json()["detail"][0]
    assert error["loc"][:2] == ["body", "inputs"] and error["loc"][-1] == 0  # row 0 lacks inputs


def test_missing_and_invalid_fields_are_422_naming_the_field(api) -> None:
    patient = contract.default_patient()
    with api.client() as client:
        missing = client.post("/predict", json={k: v for k, v in patient.items() if k != "age"})
        wrong = client.post("/predict", json={**patient, "time_in_hospital": 99})
        unknown = client.post("/predict", json={**patient, "shoe_size": 44})
        closed = client.post("/predict", json={**patient, "A1Cresult": "high"})
    for answer, field in (
        (missing, "age"),
        (wrong, "time_in_hospital"),
        (unknown, "shoe_size"),
        (closed, "A1Cresult"),
    ):
        assert answer.status_code == 422
        assert field in [e["loc"][-1] for e in answer.json()["detail"]], answer.text


def test_an_encounter_the_model_is_not_for_is_422_with_the_reason(api) -> None:
    with api.client() as client:
        for code in contract.NOT_READMITTABLE:
            answer = client.post(
                "/predict", json={**contract.default_patient(), "discharge_disposition_id": code}
            )
            assert answer.status_code == 422
            (error,) = answer.json()["detail"]
            assert error["loc"][-1] == "discharge_disposition_id"
            assert "out of scope" in error["msg"] and str(code) in error["msg"]


def test_every_code_ids_mapping_defines_is_accepted(api) -> None:
    from readmission import codes

    with api.client() as client:
        for column, documented in codes.descriptions().items():
            for code in documented:
                if contract.out_of_scope(column, code):
                    continue
                body = {**contract.default_patient(), column: code}
                assert client.post("/predict", json=body).status_code == 200, (column, code)


def test_a_diagnosis_that_is_not_icd9_is_422_and_an_unseen_valid_one_is_scored(api) -> None:
    patient = contract.default_patient()
    with api.client() as client:
        bad = client.post("/predict", json={**patient, "diag_2": "hello"})
        # 012.34 is a valid ICD-9-CM code (tuberculosis) that the data set never holds
        unseen = client.post("/predict", json={**patient, "diag_2": "012.34"})
    assert bad.status_code == 422
    (error,) = bad.json()["detail"]
    assert error["loc"][-1] == "diag_2" and "not an ICD-9-CM diagnosis code" in error["msg"]
    assert unseen.status_code == 200, unseen.text


def test_the_vocabulary_search_serves_descriptions_and_groups(api) -> None:
    with api.client() as client:
        found = client.get("/vocabulary/icd9", params={"q": "heart failure", "limit": 50})
        empty = client.get("/vocabulary/icd9", params={"q": ""})
    assert found.status_code == 200
    chf = next(e for e in found.json() if e["code"] == "428.0")
    assert chf["description"] == "Congestive heart failure, unspecified"
    assert chf["ccs"] == 108 and chf["chapter"] == 7 and chf["chronic"] is True
    assert empty.status_code == 422


def test_unseen_codes_are_scored_like_training_handles_them(api) -> None:
    odd = {
        **contract.default_patient(),
        "diag_1": "V99",
        "medical_specialty": "Astrobiology",
        "payer_code": None,
        "weight": None,
    }
    with api.client() as client:
        answer = client.post("/predict", json=odd)
    assert answer.status_code == 200 and 0 < answer.json()["probability"] < 1


def test_batch_over_the_limit_is_413(api) -> None:
    with api.client() as client:
        answer = client.post("/predict/batch", json={"patients": patients(501, seed=1)})
    assert answer.status_code == 413
    assert "at most 500" in answer.json()["detail"]


def test_the_served_versions_data_profile_is_an_html_page(api) -> None:
    with api.client() as client:
        answer = client.get("/model/data-profile")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert "number_inpatient" in answer.text and "readmitted" in answer.text


def test_model_info_and_version_history(api, registered) -> None:
    with api.client() as client:
        info = client.get("/model").json()
        history = client.get("/model/versions").json()
    assert info["name"] == registered.name and info["alias"] == "champion"
    assert 0.6 < info["metrics"]["test_roc_auc"] < 0.8
    assert 0 < info["threshold"] < 0.5
    assert len(info["features"]) == 47
    assert info["version"] in {v["version"] for v in history}
    assert any("champion" in v["aliases"] for v in history)
    # The evidence it was promoted on, and how it does by subgroup.
    promotion = info["promotion"]
    assert promotion["decision"] == "promoted"
    assert (
        float(promotion["ci_low"]) < info["metrics"]["test_roc_auc"] < float(promotion["ci_high"])
    )
    assert info["metrics"]["test_roc_auc_ci_low"] < info["metrics"]["test_roc_auc"]
    assert info["calibration"] in ("sigmoid", "isotonic")
    assert info["serving_path"] == "compiled", info["serving_reason"]
    assert "matches the pipeline" in info["serving_reason"]
    groups = {(g["attribute"], g["group"]) for g in info["subgroups"]}
    assert ("gender", "Female") in groups and ("age_group", "80+") in groups
    served = next(v for v in history if v["version"] == info["version"])
    assert served["ci_low"] == pytest.approx(float(promotion["ci_low"]))


def test_explanation_adds_up_to_the_prediction(api) -> None:
    with api.client() as client:
        answer = client.post("/explain?top=47", json=contract.default_patient())
        top3 = client.post("/explain?top=3", json=contract.default_patient()).json()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Contributions add up to the estimator's log-odds (computed apart, by its predict_proba);
    # the served probability is that score after calibration, which keeps the order.
    logit = body["base_value"] + sum(c["contribution"] for c in body["contributions"])
    assert logit == pytest_approx(body["log_odds"])
    assert body["prediction"]["probability"] != pytest_approx(1 / (1 + math.exp(-logit)))
    assert [c["feature"] for c in top3["contributions"]] == [
        c["feature"] for c in body["contributions"][:3]
    ]


def pytest_approx(value: float):
    import pytest

    return pytest.approx(value, rel=1e-6)


def test_metrics_expose_model_and_http_series(api) -> None:
    with api.client() as client:
        client.post("/predict", json=contract.default_patient())
        text = client.get("/metrics").text
    for series in (
        "readmission_predictions_total",
        "readmission_model_info{",
        "readmission_inference_seconds_bucket",
        "readmission_prediction_probability",
        'readmission_model_reloads_total{result="success"}',
        'readmission_serving_path{path="compiled"',
        "readmission_microbatch_size_bucket",
        "readmission_microbatch_wait_seconds_bucket",
        "http_requests_total",
    ):
        assert series in text, series


def test_predictions_are_logged_to_the_database(api, api_env) -> None:
    # Patients no other test sends, so the rows found below are this test's own.
    mine = {**contract.default_patient(), "num_lab_procedures": 131, "num_medications": 77}
    batch = [{**p, "num_lab_procedures": 130} for p in patients(20, seed=9)]
    with api.client() as client:
        version = client.post("/predict", json=mine).json()["model"]["version"]
        client.post("/predict/batch", json={"patients": batch})
    engine = db.make_engine(api_env["DATA_DB_URL"])
    single = sa.text(
        "SELECT model_version, features->>'age', probability FROM serving.predictions "
        "WHERE endpoint = '/predict' AND features->>'num_lab_procedures' = '131' "
        "AND features->>'num_medications' = '77'"
    )
    batched = sa.text(
        "SELECT count(*) FROM serving.predictions "
        "WHERE endpoint = '/predict/batch' AND features->>'num_lab_procedures' = '130'"
    )
    deadline = time.monotonic() + 30
    rows, count = [], 0
    while time.monotonic() < deadline and not (rows and count >= 20):
        try:
            with engine.connect() as conn:
                rows = conn.execute(single).all()
                count = conn.execute(batched).scalar()
        except sa.exc.ProgrammingError:  # table not created yet
            pass
        time.sleep(0.2)
    engine.dispose()
    assert count >= 20 and rows, (count, rows)
    model_version, age, probability = rows[0]
    assert model_version == version and age == mine["age"] and 0 < probability < 1


def test_admin_reload_takes_the_admin_token_as_the_admin_credential(api) -> None:
    from tests.api.conftest import ADMIN_TOKEN

    with api.client(credential=None) as client:
        assert client.post("/admin/reload").status_code == 401
        bad = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
        good = client.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with api.client() as client:  # the tests' key: predict + read, not admin
        assert client.post("/admin/reload").status_code == 403
    assert bad.status_code == 401
    assert good.status_code == 200 and good.json()["result"] in ("unchanged", "swapped")


def test_the_openapi_schema_labels_and_exemplifies_every_field(api) -> None:
    with api.client() as client:
        schema = client.get("/openapi.json").json()
    fields = schema["components"]["schemas"]["Patient"]["properties"]
    assert set(fields) == set(contract.FEATURE_NAMES)
    for name, field in fields.items():
        column = contract.BY_NAME[name]
        assert field["title"] == column.description, name
        assert field["description"].startswith(f"`{name}`"), name
        assert field["examples"] and field["examples"][0] is not None, name
    assert "GET /vocabulary/icd9" in fields["diag_1"]["description"]
