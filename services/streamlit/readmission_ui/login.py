"""Who may use the app where it is published: Streamlit's own OIDC login (``st.login``).

On (``UI_LOGIN=true``, the chart's cluster profile) the identity provider comes from the
``[auth]`` table of ``.streamlit/secrets.toml`` (a Secret in the chart: ``redirect_uri``,
``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``); nothing but the
sign-in button is shown until the person has signed in, then their name. Off (``make up``: the app
listens on 127.0.0.1 only), the app says so. Either way the app calls the API with its own
service credential (API_KEY), never with the person's.
"""

from __future__ import annotations

import os

import streamlit as st


def required() -> bool:
    return os.environ.get("UI_LOGIN", "false").strip().lower() in ("1", "true", "yes")


def gate() -> None:
    """Stop the page for a person not signed in; show who is."""
    if not required():
        st.sidebar.caption("No sign-in: this app listens on this machine only (make up).")
        return
    if not st.user.get("is_logged_in", False):
        st.title("Readmission risk")
        st.write("Sign in with your organisation's account to use this app.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    st.sidebar.write(f"Signed in as **{st.user.get('name') or st.user.get('email')}**")
    st.sidebar.button("Sign out", on_click=st.logout)
