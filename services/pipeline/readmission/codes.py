"""Descriptions of the lookup codes (data/IDs_mapping.csv), for forms and reports."""

from __future__ import annotations

import csv
import io
import os
from functools import lru_cache
from pathlib import Path

from readmission.settings import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "data" / "IDs_mapping.csv"


@lru_cache
def descriptions(path: str | Path | None = None) -> dict[str, dict[int, str]]:
    """{column: {code: description}} for the three *_id columns (IDS_MAPPING_PATH or data/)."""
    path = path or os.environ.get("IDS_MAPPING_PATH") or DEFAULT_PATH
    text = Path(path).read_text(encoding="utf-8")
    out: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(cell.strip() for cell in row):
            current = None  # a blank ',' line ends a section
            continue
        key, value = row[0].strip(), ",".join(row[1:]).strip()
        if key.endswith("_id") and value == "description":
            current = out.setdefault(key, {})
        elif current is not None and key.isdigit():
            current[int(key)] = value
    return out
