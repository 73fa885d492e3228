"""The feature contract: every column of the data set, its type, allowed values and limits.

Defined once and used by cleaning (validation), training (feature lists), the API (request
schema) and the UI (form widgets). Pure Python: importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a column is typed in the clean table and treated by the model."""

    ID = "id"  # identifiers: stored, never a feature
    INTEGER = "integer"  # counts and durations: numeric features
    CODE = "code"  # integer codes of a lookup table (IDs_mapping.csv): categorical features
    CATEGORY = "category"  # a small closed set of strings
    TEXT = "text"  # open, high-cardinality strings (ICD-9 codes, specialties)
    TARGET = "target"


@dataclass(frozen=True)
class Column:
    """One column of the raw CSV and its contract."""

    name: str
    kind: Kind
    description: str
    default: str | int | None = None  # a realistic value for forms and examples
    allowed: tuple[str, ...] | None = None  # closed set (CATEGORY) or known codes (CODE)
    minimum: int | None = None
    maximum: int | None = None
    max_null_ratio: float = 0.0  # in one cleaned batch
    nullable: bool = False
    vocabulary: str | None = None  # "icd9": codes of readmission.vocabulary (form checked)

    @property
    def is_feature(self) -> bool:
        return self.kind not in (Kind.ID, Kind.TARGET)

    @property
    def help(self) -> str:
        """One line for forms and /docs: the column, what it holds, and what it accepts."""
        accepts = {
            Kind.INTEGER: f"an integer from {self.minimum} to {self.maximum}",
            Kind.CODE: "a code of data/IDs_mapping.csv",
            Kind.CATEGORY: "one of the listed values",
            Kind.TEXT: "an ICD-9-CM code (see GET /vocabulary/icd9)"
            if self.vocabulary == "icd9"
            else "free text; values training never saw are accepted",
        }.get(self.kind, "")
        missing = "; null or omitted when unknown" if self.nullable else ""
        return f"`{self.name}`: {self.description}. Accepts {accepts}{missing}."


MISSING = "?"  # how the source writes a missing value
TARGET = "readmitted"
POSITIVE = "<30"  # readmitted within 30 days → 1
LABEL = "readmitted_30d"

AGE_BRACKETS = tuple(f"[{lo}-{lo + 10})" for lo in range(0, 100, 10))
WEIGHT_BRACKETS = (*(f"[{lo}-{lo + 25})" for lo in range(0, 200, 25)), ">200")
DRUG_DOSE = ("No", "Steady", "Up", "Down")
DRUGS = (
    "metformin",
    "repaglinide",
    "nateglinide",
    "chlorpropamide",
    "glimepiride",
    "acetohexamide",
    "glipizide",
    "glyburide",
    "tolbutamide",
    "pioglitazone",
    "rosiglitazone",
    "acarbose",
    "miglitol",
    "troglitazone",
    "tolazamide",
    "examide",
    "citoglipton",
    "insulin",
    "glyburide-metformin",
    "glipizide-metformin",
    "glimepiride-pioglitazone",
    "metformin-rosiglitazone",
    "metformin-pioglitazone",
)
# Codes from data/IDs_mapping.csv (the ids the mapping file documents).
ADMISSION_TYPES = tuple(str(i) for i in range(1, 9))
DISCHARGE_DISPOSITIONS = tuple(str(i) for i in range(1, 31))
ADMISSION_SOURCES = tuple(str(i) for i in (*range(1, 16), *range(17, 27)))
# Encounters that cannot be readmitted: the patient died, or went to hospice. Cleaning drops them
# (the model never sees one) and the API refuses them with this reason.
OUT_OF_SCOPE_DISPOSITIONS = {
    11: "expired",
    13: "discharged to hospice (home)",
    14: "discharged to hospice (medical facility)",
    19: "expired at home (hospice)",
    20: "expired in a medical facility (hospice)",
    21: "expired, place unknown (hospice)",
}
NOT_READMITTABLE = tuple(OUT_OF_SCOPE_DISPOSITIONS)
# Values of a feature that put an encounter outside what the model is for: {column: {value: why}}.
OUT_OF_SCOPE = {"discharge_disposition_id": OUT_OF_SCOPE_DISPOSITIONS}


def out_of_scope(column: str, value: int | str | None) -> str | None:
    """Why the model is not for an encounter with ``column == value`` (None: it is)."""
    reason = OUT_OF_SCOPE.get(column, {}).get(value)  # type: ignore[call-overload]
    if reason is None:
        return None
    return (
        f"{column} {value} ({reason}) is out of scope: the model predicts readmission for "
        "patients discharged alive and not to hospice"
    )


def _count(name: str, description: str, default: int, maximum: int, minimum: int = 0) -> Column:
    return Column(name, Kind.INTEGER, description, default, minimum=minimum, maximum=maximum)


def _drug(name: str) -> Column:
    readable = name.capitalize().replace("-", " + ")  # glyburide-metformin → Glyburide + metformin
    return Column(
        name, Kind.CATEGORY, f"{readable}: prescribed, and dose changed?", "No", DRUG_DOSE
    )


COLUMNS: tuple[Column, ...] = (
    Column("encounter_id", Kind.ID, "Unique id of the hospital encounter", minimum=1),
    Column("patient_nbr", Kind.ID, "Id of the patient (repeats across encounters)", minimum=1),
    Column(
        "race",
        Kind.CATEGORY,
        "Race",
        "Caucasian",
        ("Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other"),
        max_null_ratio=0.15,
        nullable=True,
    ),
    Column("gender", Kind.CATEGORY, "Gender", "Female", ("Female", "Male", "Unknown/Invalid")),
    Column("age", Kind.CATEGORY, "Age bracket in years", "[70-80)", AGE_BRACKETS),
    Column(
        "weight",
        Kind.CATEGORY,
        "Weight bracket in pounds (mostly missing)",
        None,
        WEIGHT_BRACKETS,
        max_null_ratio=1.0,
        nullable=True,
    ),
    Column("admission_type_id", Kind.CODE, "Admission type (IDs_mapping.csv)", 1, ADMISSION_TYPES),
    Column(
        "discharge_disposition_id",
        Kind.CODE,
        "Discharge disposition (IDs_mapping.csv)",
        1,
        DISCHARGE_DISPOSITIONS,
    ),
    Column(
        "admission_source_id", Kind.CODE, "Admission source (IDs_mapping.csv)", 7, ADMISSION_SOURCES
    ),
    _count("time_in_hospital", "Days between admission and discharge", 4, 14, minimum=1),
    Column(
        "payer_code",
        Kind.TEXT,
        "Payer code (e.g. MC = Medicare)",
        "MC",
        # The oldest records carry no payer at all: a whole batch may lack it.
        max_null_ratio=1.0,
        nullable=True,
    ),
    Column(
        "medical_specialty",
        Kind.TEXT,
        "Specialty of the admitting physician",
        "InternalMedicine",
        max_null_ratio=0.85,
        nullable=True,
    ),
    _count("num_lab_procedures", "Lab tests performed during the encounter", 44, 200),
    _count("num_procedures", "Procedures (other than lab tests) performed", 1, 20),
    _count("num_medications", "Distinct generic medications administered", 16, 150),
    _count("number_outpatient", "Outpatient visits in the year before", 0, 100),
    _count("number_emergency", "Emergency visits in the year before", 0, 100),
    _count("number_inpatient", "Inpatient visits in the year before", 0, 100),
    Column(
        "diag_1",
        Kind.TEXT,
        "Primary diagnosis (ICD-9 code)",
        "428",
        max_null_ratio=0.01,
        nullable=True,
        vocabulary="icd9",
    ),
    Column(
        "diag_2",
        Kind.TEXT,
        "Secondary diagnosis (ICD-9 code)",
        "427",
        max_null_ratio=0.05,
        nullable=True,
        vocabulary="icd9",
    ),
    Column(
        "diag_3",
        Kind.TEXT,
        "Additional secondary diagnosis (ICD-9 code)",
        "250",
        max_null_ratio=0.08,
        nullable=True,
        vocabulary="icd9",
    ),
    _count("number_diagnoses", "Diagnoses entered in the system", 9, 30, minimum=1),
    Column(
        "max_glu_serum",
        Kind.CATEGORY,
        "Glucose serum test result",
        "None",
        ("None", "Norm", ">200", ">300"),
    ),
    Column("A1Cresult", Kind.CATEGORY, "HbA1c test result", "None", ("None", "Norm", ">7", ">8")),
    *(_drug(d) for d in DRUGS),
    Column("change", Kind.CATEGORY, "Change in diabetic medications", "No", ("No", "Ch")),
    Column(
        "diabetesMed", Kind.CATEGORY, "Any diabetic medication prescribed", "Yes", ("Yes", "No")
    ),
    Column(
        TARGET, Kind.TARGET, "Readmission: <30 days, >30 days, or NO", allowed=("NO", ">30", "<30")
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
RAW_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
FEATURES: tuple[Column, ...] = tuple(c for c in COLUMNS if c.is_feature)
FEATURE_NAMES: tuple[str, ...] = tuple(c.name for c in FEATURES)
NUMERIC_FEATURES = tuple(c.name for c in FEATURES if c.kind is Kind.INTEGER)
CODE_FEATURES = tuple(c.name for c in FEATURES if c.kind is Kind.CODE)
CATEGORY_FEATURES = tuple(c.name for c in FEATURES if c.kind is Kind.CATEGORY)
TEXT_FEATURES = tuple(c.name for c in FEATURES if c.kind is Kind.TEXT)


def default_patient() -> dict[str, str | int | None]:
    """A realistic patient with every feature set: the form's and the API docs' example."""
    return {c.name: c.default for c in FEATURES}
