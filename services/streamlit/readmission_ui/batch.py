"""Score an uploaded CSV through the API; report invalid rows by number and field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from readmission import contract, vocabulary

from readmission_ui.client import ApiClient, InvalidInput

CHUNK = 1_000  # patients per request, below the API's default limit


@dataclass
class BatchResult:
    """Scored rows (with probability, label, model version) and the rows that were refused."""

    scored: pd.DataFrame
    invalid: pd.DataFrame  # columns: row, field, problem
    missing_columns: list[str]

    @property
    def high_risk(self) -> int:
        return int(self.scored["label"].sum()) if len(self.scored) else 0


def to_patient(record: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as a request body: '?' and blanks → null, integers parsed when they parse."""
    patient: dict[str, Any] = {}
    for col in contract.FEATURES:
        value = record.get(col.name)
        text = (
            ""
            if value is None or (isinstance(value, float) and pd.isna(value))
            else str(value).strip()
        )
        if text in ("", contract.MISSING):
            patient[col.name] = None
        elif col.kind in (contract.Kind.INTEGER, contract.Kind.CODE):
            try:
                patient[col.name] = int(text)
            except ValueError:
                patient[col.name] = text  # the API names the field and the problem
        else:
            patient[col.name] = text
    return patient


def describe(scored: pd.DataFrame) -> None:
    """Add ``<diag>_description`` and ``<diag>_group`` (CCS) beside each diagnosis column."""
    for col in (c for c in contract.FEATURES if c.vocabulary == "icd9"):
        entries = [vocabulary.lookup(str(code)) for code in scored[col.name]]
        at = scored.columns.get_loc(col.name) + 1
        scored.insert(at, f"{col.name}_description", [e.description if e else "" for e in entries])
        scored.insert(at + 1, f"{col.name}_group", [e.ccs_name if e else "" for e in entries])


def score(client: ApiClient, frame: pd.DataFrame) -> BatchResult:
    """Send valid rows in chunks; a 422 marks its rows invalid and the rest are sent again."""
    missing = [c for c in contract.FEATURE_NAMES if c not in frame.columns]
    if missing:
        return BatchResult(
            frame.iloc[0:0], pd.DataFrame(columns=["row", "field", "problem"]), missing
        )
    patients = [to_patient(r) for r in frame.to_dict("records")]
    invalid: list[dict[str, Any]] = []
    results: dict[int, tuple[float, int, str]] = {}
    pending = list(range(len(patients)))
    while pending:
        chunk, pending = pending[:CHUNK], pending[CHUNK:]
        while chunk:
            try:
                answer = client.predict_batch([patients[i] for i in chunk])
            except InvalidInput as exc:
                bad = set()
                for error in exc.errors:
                    loc = error.get("loc", [])
                    if len(loc) >= 3 and loc[1] == "patients" and isinstance(loc[2], int):
                        index = chunk[loc[2]]
                        bad.add(index)
                        invalid.append(
                            {
                                "row": index + 1,
                                "field": str(loc[3]) if len(loc) > 3 else "",
                                "problem": error.get("msg", ""),
                            }
                        )
                if not bad:
                    raise
                chunk = [i for i in chunk if i not in bad]
                continue
            version = answer["model"]["version"]
            for i, p, label in zip(chunk, answer["probabilities"], answer["labels"], strict=True):
                results[i] = (p, label, version)
            chunk = []
    order = sorted(results)
    scored = frame.iloc[order].copy()
    scored.insert(0, "row", [i + 1 for i in order])
    scored["probability"] = [results[i][0] for i in order]
    scored["label"] = [results[i][1] for i in order]
    scored["model_version"] = [results[i][2] for i in order]
    describe(scored)
    return BatchResult(scored, pd.DataFrame(invalid, columns=["row", "field", "problem"]), [])
