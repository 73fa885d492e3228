"""The Model tab: what is served, the evidence it was promoted on, and how it does by subgroup."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from readmission_ui.client import ApiClient, ApiError


def _number(value: Any, digits: int = 4) -> str:
    return "—" if value in (None, "") else f"{float(value):.{digits}f}"


def _evidence(served: dict[str, Any]) -> None:
    """Test ROC-AUC with its interval, calibration, and the comparison that promoted it."""
    m, promotion = served["metrics"], served.get("promotion") or {}
    level = f"{float(promotion.get('confidence', 0.95)):.0%}"
    left, middle, right = st.columns(3)
    left.metric("Test ROC-AUC", _number(m.get("test_roc_auc")))
    left.caption(
        f"{level} interval (patient bootstrap): {_number(m.get('test_roc_auc_ci_low'))} to "
        f"{_number(m.get('test_roc_auc_ci_high'))}"
    )
    middle.metric("Test Brier score", _number(m.get("test_brier")))
    middle.caption(
        f"calibration: {served.get('calibration') or 'none'} · uncalibrated Brier "
        f"{_number(m.get('test_brier_uncalibrated'))} · slope "
        f"{_number(m.get('test_calibration_slope'), 2)} · intercept "
        f"{_number(m.get('test_calibration_intercept'), 2)}"
    )
    champion, gain = promotion.get("champion_version"), None
    if promotion.get("champion_test_roc_auc"):
        gain = float(promotion["challenger_test_roc_auc"]) - float(
            promotion["champion_test_roc_auc"]
        )
    right.metric("ROC-AUC gain over the champion it faced", _number(gain))
    right.caption(
        f"vs version {champion}: {level} interval of the difference "
        f"{_number(promotion.get('diff_ci_low'))} to {_number(promotion.get('diff_ci_high'))}"
        if gain is not None
        else "no champion was scored: decided on the quality gate alone"
    )


def _profile(served: dict[str, Any], client: ApiClient) -> None:
    """The training split's data profile: a page to open, and the same page inline."""
    st.markdown("**Data profile** of the training split this version learned from")
    try:
        page = _profile_page(client, client.base_url, served["version"])
    except ApiError as exc:
        st.caption(f"No data profile for this version: {exc}")
        return
    st.download_button(
        "Open the data profile (HTML)",
        page,
        file_name=f"{served['name']}-v{served['version']}-data-profile.html",
        mime="text/html",
    )
    with st.expander("Show the data profile here"):
        components.html(page, height=640, scrolling=True)


@st.cache_data(ttl=3600, max_entries=4, show_spinner=False)
def _profile_page(_client: ApiClient, base_url: str, version: str) -> str:
    """One version's profile (~0.7 MB), fetched once per API and version, not on every rerun
    (``_client`` is not part of the cache key)."""
    return _client.data_profile()


def model_page(served: dict[str, Any], client: ApiClient) -> None:
    """Render the Model tab for the model ``/model`` describes."""
    st.subheader(f"{served['name']} — version {served['version']} is serving")
    _evidence(served)
    st.markdown(
        f"Promoted at **{served.get('promoted_at') or 'unknown'}**: "
        f"{served.get('promotion_reason') or 'no reason recorded'}"
    )
    metrics = {k: v for k, v in served["metrics"].items() if k.startswith("test_")}
    st.dataframe(pd.DataFrame([metrics]), hide_index=True)
    st.markdown("**By subgroup** (test split; groups under 30 patients or with one class: blank)")
    if served.get("subgroups"):
        st.dataframe(pd.DataFrame(served["subgroups"]), hide_index=True)
    else:
        st.caption("This version was logged without a subgroup table.")
    _profile(served, client)
    try:
        history = client.versions()
    except ApiError as exc:
        st.warning(f"The version history is unavailable: {exc}")
    else:
        st.markdown("**Registry history**")
        st.dataframe(pd.DataFrame(history), hide_index=True)
