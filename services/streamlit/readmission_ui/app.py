"""Streamlit app: enter a patient, see the 30-day readmission risk and which model answered.

Every prediction comes from the inference API (API_URL); the names of diagnosis codes come from
the vocabulary module the API serves (readmission.vocabulary).
Run: streamlit run services/streamlit/readmission_ui/app.py
"""

from __future__ import annotations

import os

import altair as alt
import pandas as pd
import streamlit as st
from readmission import contract

from readmission_ui import batch, diagnosis, login
from readmission_ui.client import ApiClient, ApiError
from readmission_ui.form import patient_form
from readmission_ui.model_page import model_page
from readmission_ui.monitoring_page import monitoring_page

st.set_page_config(page_title="Readmission risk", page_icon="🏥", layout="wide")
login.gate()
client = ApiClient(os.environ.get("API_URL", "http://127.0.0.1:8989"), os.environ.get("API_KEY"))
TOP = 12  # inputs in the explanation chart


def unavailable(error: Exception) -> None:
    """A clear message and a way to try again; never a traceback."""
    st.error(f"{error}")
    st.caption("Predictions appear once the API is reachable and a champion model is registered.")
    if st.button("Retry", key="retry"):
        st.rerun()
    st.stop()


def show_prediction(answer: dict) -> None:
    """The probability, the model that answered, what drove the risk, and the diagnosis groups."""
    prediction = answer["prediction"]
    model = prediction["model"]
    left, right = st.columns([1, 2])
    with left:
        st.metric("Probability of readmission within 30 days", f"{prediction['probability']:.1%}")
        verdict = "HIGH RISK" if prediction["label"] == 1 else "lower risk"
        st.markdown(f"**{verdict}** (threshold {prediction['threshold']:.3f})")
        st.markdown(
            f"Model **{model['name']}** version **{model['version']}** "
            f"(alias `{model['alias']}`, run `{model['run_id'][:12]}`)"
        )
    with right:
        st.markdown("**What pushed this patient's risk up (+) or down (-)** (log-odds)")
        st.altair_chart(_contribution_chart(answer["contributions"][:TOP]))
        st.markdown("**Diagnosis groups** (what the model's clinical features see)")
        for c in answer["contributions"]:
            if contract.BY_NAME[c["feature"]].vocabulary == "icd9" and c["value"]:
                direction = "up" if c["contribution"] > 0 else "down"
                st.markdown(
                    f"- {contract.BY_NAME[c['feature']].description}: "
                    f"{diagnosis.name(c['value'])} — {diagnosis.group(c['value'])}; "
                    f"pushed the risk {direction} ({c['contribution']:+.3f})"
                )


def _contribution_chart(contributions: list[dict]) -> alt.Chart:
    """Horizontal bars in the API's order (largest effect first), labelled in words."""
    frame = pd.DataFrame(
        {
            "input": [_input_label(c["feature"], c["value"]) for c in contributions],
            "contribution": [c["contribution"] for c in contributions],
        }
    )
    frame["direction"] = frame["contribution"].map(lambda v: "raises" if v > 0 else "lowers")
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title="log-odds"),
            y=alt.Y("input:N", sort=None, title=None, axis=alt.Axis(labelLimit=360)),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["raises", "lowers"], range=["#c0392b", "#2e86c1"]),
                legend=None,
            ),
            tooltip=["input", alt.Tooltip("contribution:Q", format="+.3f")],
        )
    )


def _input_label(feature: str, value: object) -> str:
    col = contract.BY_NAME[feature]
    shown = diagnosis.name(value) if col.vocabulary == "icd9" else value
    return f"{col.description.split(' (')[0]} = {shown}"


st.title("30-day hospital readmission risk")
try:
    served = client.model()
except ApiError as exc:
    unavailable(exc)

st.caption(
    f"Served model: **{served['name']}** version **{served['version']}** "
    f"(alias `{served['alias']}`) · decision threshold {served['threshold']:.3f}"
)
patient_tab, batch_tab, model_tab, monitoring_tab = st.tabs(
    ["Patient", "Batch (CSV)", "Model", "Monitoring"]
)

with patient_tab:
    patient = patient_form(client)
    if patient is not None:
        try:
            answer = client.explain(patient, top=len(contract.FEATURES))
        except ApiError as exc:
            st.error(f"The prediction failed: {exc}")
        else:
            show_prediction(answer)

with batch_tab:
    upload = st.file_uploader(
        "A CSV in the data set's format (extra columns are kept, '?' = missing)", type="csv"
    )
    if upload is not None:
        frame = pd.read_csv(upload, dtype=str, keep_default_na=False)
        try:
            result = batch.score(client, frame)
        except ApiError as exc:
            st.error(f"Scoring failed: {exc}")
        else:
            if result.missing_columns:
                st.error(f"The CSV lacks these columns: {', '.join(result.missing_columns)}")
            else:
                st.success(
                    f"{len(result.scored)} patients scored, {result.high_risk} at high risk; "
                    f"{len(result.invalid)} problems in the rows below."
                )
                if len(result.invalid):
                    st.warning("Rows not scored (row = data row number in the file):")
                    st.dataframe(result.invalid, hide_index=True)
                st.dataframe(result.scored, hide_index=True)
                st.download_button(
                    "Download the results (CSV)",
                    result.scored.to_csv(index=False).encode(),
                    file_name="readmission_scores.csv",
                    mime="text/csv",
                )

with model_tab:
    model_page(served, client)

with monitoring_tab:
    monitoring_page(client)
