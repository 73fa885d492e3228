"""The patient form: one widget per contract feature, prefilled with a realistic patient."""

from __future__ import annotations

from typing import Any

import streamlit as st
from readmission import codes, contract
from readmission.contract import Kind

UNKNOWN = "(unknown)"
SECTIONS = {
    "Patient": ["race", "gender", "age", "weight", "payer_code"],
    "Admission": [
        "admission_type_id",
        "admission_source_id",
        "discharge_disposition_id",
        "time_in_hospital",
        "medical_specialty",
    ],
    "History (previous year)": ["number_outpatient", "number_emergency", "number_inpatient"],
    "This encounter": [
        "num_lab_procedures",
        "num_procedures",
        "num_medications",
        "number_diagnoses",
        "diag_1",
        "diag_2",
        "diag_3",
        "max_glu_serum",
        "A1Cresult",
        "change",
        "diabetesMed",
    ],
    "Diabetes medications": list(contract.DRUGS),
}


def _widget(col: contract.Column, descriptions: dict[str, dict[int, str]]) -> Any:
    label, help_text = col.name, col.description
    if col.kind is Kind.INTEGER:
        return st.number_input(
            label,
            min_value=col.minimum,
            max_value=col.maximum,
            value=int(col.default),
            step=1,
            key=col.name,
            help=help_text,
        )
    if col.kind is Kind.CODE:
        names = descriptions.get(col.name, {})
        # Codes the model is not for (death, hospice) are not offered: the API refuses them.
        options = [int(c) for c in col.allowed if not contract.out_of_scope(col.name, int(c))]
        return st.selectbox(
            label,
            options,
            index=options.index(int(col.default)),
            key=col.name,
            format_func=lambda c: f"{c} · {names.get(c, 'not documented')}",
            help=help_text,
        )
    if col.kind is Kind.CATEGORY:
        options = ([UNKNOWN] if col.nullable else []) + list(col.allowed)
        default = UNKNOWN if col.default is None else col.default
        return st.selectbox(
            label, options, index=options.index(default), key=col.name, help=help_text
        )
    return st.text_input(
        label,
        value=col.default or "",
        key=col.name,
        max_chars=40,
        help=help_text + (" — leave empty if unknown" if col.nullable else ""),
    )


def patient_form() -> dict[str, Any] | None:
    """Render the form; return the patient when submitted, else None."""
    descriptions = codes.descriptions()
    values: dict[str, Any] = {}
    with st.form("patient"):
        for section, names in SECTIONS.items():
            with st.expander(section, expanded=section != "Diabetes medications"):
                columns = st.columns(3)
                for i, name in enumerate(names):
                    with columns[i % 3]:
                        values[name] = _widget(contract.BY_NAME[name], descriptions)
        submitted = st.form_submit_button("Predict readmission risk", type="primary")
    if not submitted:
        return None
    return {k: (None if v in (UNKNOWN, "") else v) for k, v in values.items()}


assert sorted(n for names in SECTIONS.values() for n in names) == sorted(contract.FEATURE_NAMES)
