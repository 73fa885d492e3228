"""Streamlit app: enter a patient, see the 30-day readmission risk and which model answered.

Talks to the inference API only (API_URL).
Run: streamlit run services/streamlit/readmission_ui/app.py
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from readmission_ui import batch
from readmission_ui.client import ApiClient, ApiError
from readmission_ui.form import patient_form
from readmission_ui.model_page import model_page

st.set_page_config(page_title="Readmission risk", page_icon="🏥", layout="wide")
client = ApiClient(os.environ.get("API_URL", "http://127.0.0.1:8989"))


def unavailable(error: Exception) -> None:
    """A clear message and a way to try again; never a traceback."""
    st.error(f"{error}")
    st.caption("Predictions appear once the API is reachable and a champion model is registered.")
    if st.button("Retry", key="retry"):
        st.rerun()
    st.stop()


st.title("30-day hospital readmission risk")
try:
    served = client.model()
except ApiError as exc:
    unavailable(exc)

st.caption(
    f"Served model: **{served['name']}** version **{served['version']}** "
    f"(alias `{served['alias']}`) · decision threshold {served['threshold']:.3f}"
)
patient_tab, batch_tab, model_tab = st.tabs(["Patient", "Batch (CSV)", "Model"])

with patient_tab:
    patient = patient_form()
    if patient is not None:
        try:
            answer = client.explain(patient, top=12)
        except ApiError as exc:
            st.error(f"The prediction failed: {exc}")
        else:
            prediction = answer["prediction"]
            model = prediction["model"]
            left, right = st.columns([1, 2])
            with left:
                st.metric(
                    "Probability of readmission within 30 days", f"{prediction['probability']:.1%}"
                )
                verdict = "HIGH RISK" if prediction["label"] == 1 else "lower risk"
                st.markdown(f"**{verdict}** (threshold {prediction['threshold']:.3f})")
                st.markdown(
                    f"Model **{model['name']}** version **{model['version']}** "
                    f"(alias `{model['alias']}`, run `{model['run_id'][:12]}`)"
                )
            with right:
                st.markdown("**What pushed this patient's risk up (+) or down (-)** (log-odds)")
                chart = pd.DataFrame(
                    {"contribution": [c["contribution"] for c in answer["contributions"]]},
                    index=[f"{c['feature']} = {c['value']}" for c in answer["contributions"]],
                )
                st.bar_chart(chart, horizontal=True)

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
