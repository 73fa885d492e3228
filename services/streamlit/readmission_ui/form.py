"""The patient form: one widget per contract feature, prefilled with a realistic patient.

Each input is labelled with the contract's description; its column name and what it accepts
are in its help. The diagnoses are searchable pickers (readmission_ui.diagnosis). No
``st.form``: the pickers search as a person types, so the form reruns on each change and the
button submits.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from readmission import codes, contract
from readmission.contract import Kind

from readmission_ui import diagnosis
from readmission_ui.client import ApiClient

UNKNOWN = diagnosis.UNKNOWN
SUBMIT = "Predict readmission risk"
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
        "max_glu_serum",
        "A1Cresult",
        "change",
        "diabetesMed",
    ],
    "Diagnoses (ICD-9-CM)": ["diag_1", "diag_2", "diag_3"],
    "Diabetes medications": list(contract.DRUGS),
}


def _widget(col: contract.Column, descriptions: dict[str, dict[int, str]]) -> Any:
    label, help_text = col.description, col.help
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
        help=help_text,
    )


def patient_form(client: ApiClient) -> dict[str, Any] | None:
    """Render the form; return the patient when the button is pressed, else None."""
    descriptions = codes.descriptions()
    values: dict[str, Any] = {}
    for section, names in SECTIONS.items():
        with st.expander(section, expanded=section != "Diabetes medications"):
            columns = st.columns(3)
            for i, name in enumerate(names):
                col = contract.BY_NAME[name]
                with columns[i % 3]:
                    if col.vocabulary == "icd9":
                        values[name] = diagnosis.picker(col, client)
                    else:
                        values[name] = _widget(col, descriptions)
    if not st.button(SUBMIT, type="primary"):
        return None
    return {k: (None if v in (UNKNOWN, "") else v) for k, v in values.items()}


assert sorted(n for names in SECTIONS.values() for n in names) == sorted(contract.FEATURE_NAMES)
