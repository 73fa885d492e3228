"""Diagnoses in words: a searchable picker per diagnosis field, and names for codes.

The picker's options come from the API's vocabulary search (GET /vocabulary/icd9), ordered by
ICD-9 chapter; names of single codes (labels, results, CSV columns) come from the same
vocabulary module the API serves, imported here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from readmission import contract, vocabulary

from readmission_ui.client import ApiClient, ApiError

UNKNOWN = "(unknown)"
OPTIONS = 60  # search hits offered per query


def name(code: str | None) -> str:
    """``428 · Congestive heart failure, unspecified`` (or the bare code if unknown)."""
    if code in (None, "", UNKNOWN):
        return UNKNOWN
    entry = vocabulary.lookup(str(code))
    return f"{code} · {entry.description}" if entry else f"{code} · not an ICD-9-CM code we know"


def group(code: str | None) -> str:
    """The CCS group and chapter of ``code``: what the model's clinical features see."""
    entry = vocabulary.lookup(str(code)) if code else None
    if entry is None:
        return "no clinical group"
    return f"CCS {entry.ccs}: {entry.ccs_name} · chapter {entry.chapter} ({entry.chapter_range})"


@st.cache_data(ttl=3600, show_spinner=False)
def _search(_client: ApiClient, base_url: str, query: str) -> list[dict[str, Any]]:
    return _client.search_icd9(query, OPTIONS)


def _options(client: ApiClient, query: str, current: str | None) -> list[str]:
    """Codes matching ``query`` (or around the current code), by chapter, current one kept."""
    try:
        hits = (
            _search(client, client.base_url, query or (current or "")) if (query or current) else []
        )
    except ApiError as exc:
        st.caption(f"search unavailable: {exc}")
        hits = []
    by_chapter = sorted(hits, key=lambda e: (e["chapter"] or 99, e["code"]))
    codes = [e["code"] for e in by_chapter]
    if current and current not in codes:
        codes.insert(0, current)
    return codes


def picker(col: contract.Column, client: ApiClient) -> str | None:
    """A search box and a select of matching codes; returns the chosen code (None: unknown)."""
    query = st.text_input(
        f"Find: {col.description.split(' (')[0].lower()}",
        key=f"{col.name}_search",
        placeholder=f"words or a code, {vocabulary.EXAMPLES}",
    ).strip()
    current = st.session_state.get(col.name, col.default)
    current = None if current == UNKNOWN else current
    options = ([UNKNOWN] if col.nullable else []) + _options(client, query, current)
    chosen = st.selectbox(
        col.description,
        options,
        index=options.index(current) if current in options else 0,
        key=col.name,
        format_func=name,
        help=col.help,
    )
    st.caption(group(None if chosen == UNKNOWN else chosen))
    return None if chosen == UNKNOWN else chosen
