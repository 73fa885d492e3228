"""streamlit.testing AppTest of the form, the batch upload, the model page and the error paths."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from readmission import contract
from readmission.settings import DEFAULT_SOURCE
from readmission_local.process import free_port
from readmission_ui import form
from streamlit.testing.v1 import AppTest

from tests.api.conftest import patients
from tests.ui.conftest import APP

SUBMIT = form.SUBMIT


@pytest.fixture
def app(api, monkeypatch) -> AppTest:
    monkeypatch.setenv("API_URL", api.url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == SUBMIT).click().run()
    assert not at.exception, at.exception
    return at


def probability(at: AppTest) -> float:
    return float(at.metric[0].value.rstrip("%")) / 100


def test_form_is_prefilled_with_the_default_patient(app) -> None:
    default = contract.default_patient()
    assert app.selectbox(key="age").value == default["age"]
    assert app.selectbox(key="admission_source_id").value == 7
    assert "Emergency Room" in app.selectbox(key="admission_source_id").format_func(7)
    assert app.number_input(key="time_in_hospital").value == default["time_in_hospital"]
    assert app.number_input(key="time_in_hospital").max == 14
    assert app.selectbox(key="weight").value == "(unknown)"


def test_inputs_are_labelled_in_words_with_the_column_in_the_help(app) -> None:
    age = app.selectbox(key="age")
    assert age.label == contract.BY_NAME["age"].description and "`age`" in age.help
    assert app.number_input(key="num_lab_procedures").label.startswith("Lab tests")
    assert app.selectbox(key="glyburide-metformin").label.startswith("Glyburide + metformin")


def test_the_default_diagnoses_are_shown_with_descriptions_and_groups(app) -> None:
    diag_1 = app.selectbox(key="diag_1")
    assert diag_1.value == "428"
    assert diag_1.format_func("428") == "428 · Congestive heart failure, unspecified"
    captions = " ".join(c.value for c in app.caption)
    assert "CCS 108: Congestive heart failure" in captions and "chapter 7 (390-459)" in captions


def test_searching_heart_failure_offers_it_by_chapter_and_it_is_scored(app) -> None:
    app.text_input(key="diag_2_search").set_value("heart failure").run()
    assert not app.exception, app.exception
    labels = app.selectbox(key="diag_2").options  # as shown: "code · description"
    assert any("428 · Congestive heart failure" in label for label in labels)
    found = [label for label in labels if not label.startswith(("(unknown)", "427 "))]
    assert all("heart failure" in label.lower() for label in found), labels  # 427: current
    app.selectbox(key="diag_2").set_value("428.1")
    submit(app)
    groups = " ".join(m.value for m in app.markdown)
    assert "428.1 · Left heart failure" in groups and "CCS 108" in groups


def test_submitting_shows_probability_label_and_model_version(app, registered) -> None:
    submit(app)
    assert 0 < probability(app) < 1
    text = " ".join(m.value for m in app.markdown)
    version = re.search(r"version \*\*(\d+)\*\*", text)
    assert version and registered.name in text and "champion" in text
    assert "risk" in text.lower()


def test_more_prior_admissions_raise_the_shown_risk(app) -> None:
    base = probability(submit(app))
    app.number_input(key="number_inpatient").set_value(8)
    assert probability(submit(app)) > base


def test_explanation_chart_is_shown(app) -> None:
    submit(app)
    assert any("pushed this patient's risk" in m.value for m in app.markdown)
    assert len(app.get("vega_lite_chart")) == 1


def test_unknown_diagnoses_and_unseen_text_are_scored(app) -> None:
    app.selectbox(key="diag_1").set_value("(unknown)")  # diag_1 may be missing...
    app.text_input(key="medical_specialty").set_value("x" * 40)  # ...and text be unseen
    submit(app)
    assert not app.error and 0 < probability(app) < 1


def _csv(rows: int, broken: dict[int, tuple[str, str]]) -> bytes:
    frame = pd.read_csv(DEFAULT_SOURCE, dtype=str, keep_default_na=False, nrows=rows)
    for index, (column, value) in broken.items():
        frame.loc[index, column] = value
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_batch_upload_scores_valid_rows_and_reports_invalid_ones(app) -> None:
    data = _csv(40, {3: ("age", "[200-210)"), 10: ("time_in_hospital", "many")})
    app.tabs[1].file_uploader[0].set_value(("patients.csv", data, "text/csv")).run()
    assert not app.exception, app.exception
    assert "37 patients scored" in app.success[0].value
    problems = app.dataframe[0].value
    # Row 35 of the data set is an encounter that ended in death (disposition 11): out of scope.
    assert sorted(zip(problems["row"], problems["field"], strict=True)) == [
        (4, "age"),
        (11, "time_in_hospital"),
        (35, "discharge_disposition_id"),
    ]
    assert "out of scope" in problems[problems["row"] == 35]["problem"].iloc[0]
    scored = app.dataframe[1].value
    assert len(scored) == 37 and scored["probability"].between(0, 1).all()
    described = scored[scored["diag_1"] != contract.MISSING]
    assert (described["diag_1_description"] != "").all() and "diag_3_group" in scored
    assert app.download_button[0].label.startswith("Download")


def test_a_csv_without_the_feature_columns_is_refused_clearly(app) -> None:
    app.tabs[1].file_uploader[0].set_value(("x.csv", b"a,b\n1,2\n", "text/csv")).run()
    assert "lacks these columns" in app.error[0].value


MODEL_TAB, MONITORING_TAB = 2, 3


def test_model_page_shows_metrics_history_and_promotion(app, registered) -> None:
    text = " ".join(s.value for s in app.subheader)
    assert registered.name in text and "is serving" in text
    metrics = app.tabs[MODEL_TAB].dataframe[0].value
    assert 0.6 < float(metrics["test_roc_auc"].iloc[0]) < 0.8
    history = app.tabs[MODEL_TAB].dataframe[-1].value
    assert "champion" in {a for aliases in history["aliases"] for a in aliases}


def test_model_page_shows_the_interval_calibration_and_subgroups(app) -> None:
    shown = {m.label: m.value for m in app.metric}
    assert 0.6 < float(shown["Test ROC-AUC"]) < 0.8
    captions = " ".join(c.value for c in app.caption)
    assert "95% interval (patient bootstrap): 0.6" in captions
    assert "uncalibrated Brier" in captions and "slope" in captions
    subgroups = app.tabs[MODEL_TAB].dataframe[1].value
    assert {"race", "gender", "age_group"} == set(subgroups["attribute"])
    assert subgroups["roc_auc"].dropna().between(0.5, 0.9).all()


def test_model_page_links_the_data_profile(app) -> None:
    (button,) = [b for b in app.tabs[MODEL_TAB].get("download_button")]
    assert button.proto.label == "Open the data profile (HTML)"
    assert "Data profile" in " ".join(m.value for m in app.tabs[MODEL_TAB].markdown)


def test_monitoring_page_shows_drift_now_the_checks_and_the_last_retrain(
    api, drift_checked, monkeypatch
) -> None:
    monkeypatch.setenv("API_URL", api.url)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert not at.exception, at.exception
    tab = at.tabs[MONITORING_TAB]
    online, latest = tab.dataframe[0].value, tab.dataframe[1].value
    assert {"age", "probability"} <= set(online["feature"]) and online["PSI"].ge(0).all()
    assert set(online["reading"]) <= {"stable", "worth a look", "shifted"}  # >= 600 rows
    assert set(latest["feature"]) == set(drift_checked[-1]["psi"])
    assert list(latest["PSI"]) == sorted(latest["PSI"], reverse=True)
    assert len(tab.get("vega_lite_chart")) == 1  # the trend of the checks
    shown = " ".join(i.value for i in tab.info)
    assert drift_checked[-1]["reason"] in shown and "waiting for the next training run" in shown


def test_a_window_below_the_minimum_rows_has_no_reading(start_api, api_env, monkeypatch) -> None:
    with start_api(api_env) as server:  # a new server: an empty window
        with server.client() as client:
            client.post("/predict/batch", json={"patients": patients(20)}).raise_for_status()
            assert client.get("/monitoring").json()["thresholds"]["min_rows"] == 500
        monkeypatch.setenv("API_URL", server.url)
        at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert not at.exception, at.exception
    tab = at.tabs[MONITORING_TAB]
    assert set(tab.dataframe[0].value["reading"]) == {"too few rows"}
    assert any("20 patients scored: too few rows to judge" in c.value for c in tab.caption)


def test_api_unreachable_shows_a_message_and_a_retry_button(monkeypatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert "cannot be reached" in at.error[0].value
    retry = next(b for b in at.button if b.label == "Retry")
    retry.click().run()
    assert not at.exception and "cannot be reached" in at.error[0].value


def test_api_without_a_model_says_not_ready(start_api, api_env, monkeypatch) -> None:
    with start_api({**api_env, "MODEL_NAME": "none-yet"}, wait_ready=False) as server:
        monkeypatch.setenv("API_URL", server.url)
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
    assert not at.exception
    assert "not ready" in at.error[0].value and "none-yet@champion" in at.error[0].value


def test_a_refused_credential_is_said_plainly(api, monkeypatch) -> None:
    monkeypatch.setenv("API_URL", api.url)
    monkeypatch.setenv("API_KEY", "rk_not-a-key")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "refused this app's credential (401" in at.error[0].value, at.error[0].value


def test_with_login_on_nothing_but_sign_in_is_shown_to_a_stranger(api, monkeypatch) -> None:
    monkeypatch.setenv("API_URL", api.url)
    monkeypatch.setenv("UI_LOGIN", "true")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.tabs and not at.number_input  # no patient form, no model page
