"""The Monitoring tab: is the served model still seeing the patients it was trained on?"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from readmission_ui.client import ApiClient, ApiError


def _reading(psi: float, thresholds: dict[str, float]) -> str:
    if psi > thresholds["shifted"]:
        return "shifted"
    return "worth a look" if psi > thresholds["stable"] else "stable"


TOO_FEW = "too few rows"


def psi_table(
    psi: dict[str, float], thresholds: dict[str, float], rows: int | None = None
) -> pd.DataFrame:
    """Features, largest PSI first, with the field's reading of each: none from fewer than
    ``thresholds["min_rows"]`` rows (the rule the API's metrics and diabetes_monitor apply)."""
    frame = pd.DataFrame({"feature": list(psi), "PSI": [round(v, 4) for v in psi.values()]})
    judged = rows is None or rows >= thresholds.get("min_rows", 0)
    frame["reading"] = frame["PSI"].map(lambda v: _reading(v, thresholds) if judged else TOO_FEW)
    return frame.sort_values("PSI", ascending=False, ignore_index=True)


def _trend(checks: list[dict[str, Any]]) -> alt.Chart:
    frame = pd.DataFrame(
        [
            {"checked at": c["checked_at"], "feature": f, "PSI": v}
            for c in checks
            for f, v in c["psi"].items()
        ]
    )
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(x="checked at:T", y="PSI:Q", color="feature:N", tooltip=["feature", "PSI"])
    )


def _online(online: dict[str, Any] | None, thresholds: dict[str, float]) -> None:
    st.markdown("**Now: the API's window of recent requests**")
    if online is None:
        st.caption("The served version was logged without a drift reference.")
        return
    rows, needed = online["rows"], thresholds.get("min_rows", 0)
    st.caption(
        f"version {online['model_version']}, last {rows} patients scored"
        + (f": too few rows to judge (a reading needs {needed})" if rows < needed else "")
    )
    st.dataframe(psi_table(online["psi"], thresholds, rows), hide_index=True)


def _recorded(checks: list[dict[str, Any]], thresholds: dict[str, float]) -> None:
    st.markdown("**Daily: diabetes_monitor over the inference log**")
    if not checks:
        st.caption("No drift check yet: the diabetes_monitor DAG, or `make pipeline-monitor`.")
        return
    latest = checks[-1]
    st.caption(
        f"latest check {latest['checked_at']}: version {latest['model_version']}, "
        f"{latest['rows']} predictions"
    )
    st.dataframe(psi_table(latest["psi"], thresholds), hide_index=True)
    st.altair_chart(_trend(checks), width="stretch")


def _requests(requests: list[dict[str, Any]]) -> None:
    st.markdown("**Retraining asked for by drift**")
    if not requests:
        st.caption("Drift has not asked for a retrain.")
        return
    last = requests[0]
    st.info(
        f"Last request ({last['requested_at']}): {last['reason']}\n\n"
        f"Outcome: {last['outcome'] or 'waiting for the next training run'}"
    )
    st.dataframe(pd.DataFrame(requests), hide_index=True)


def monitoring_page(client: ApiClient) -> None:
    """Render the Monitoring tab (PSI < 0.1 stable, 0.1-0.2 worth a look, > 0.2 shifted)."""
    try:
        answer = client.monitoring()
    except ApiError as exc:
        st.warning(f"Monitoring is unavailable: {exc}")
        return
    thresholds = answer["thresholds"]
    st.caption(
        "Population stability index (PSI) of each watched feature and of the predicted "
        f"probability against the training split: < {thresholds['stable']} stable, > "
        f"{thresholds['shifted']} a population the model was not trained on."
    )
    left, right = st.columns(2)
    with left:
        _online(answer["online"], thresholds)
    with right:
        _recorded(answer["checks"], thresholds)
    _requests(answer["requests"])
