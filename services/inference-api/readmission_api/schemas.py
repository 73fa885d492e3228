"""Request and response bodies. The patient schema is generated from the feature contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from readmission import contract
from readmission.contract import Kind

TEXT_MAX = 40  # ICD-9 codes and specialty names are short; longer input is refused (422)


def _in_scope(column: str) -> AfterValidator:
    """Refuse encounters the model is not for (e.g. the patient died or went to hospice)."""

    def check(value: Any) -> Any:
        reason = contract.out_of_scope(column, value)
        if reason is not None:
            raise ValueError(reason)
        return value

    return AfterValidator(check)


def _icd9(column: str) -> AfterValidator:
    """Refuse a diagnosis that is not an ICD-9-CM code; valid codes training never saw pass."""

    def check(value: Any) -> Any:
        from readmission import vocabulary

        if isinstance(value, str) and not vocabulary.is_icd9(value):
            raise ValueError(
                f"{column} {value!r} is not an ICD-9-CM diagnosis code ({vocabulary.EXAMPLES})"
            )
        return value

    return AfterValidator(check)


def _missing_marker(col: contract.Column) -> BeforeValidator:
    """The data set writes a missing value as '?': accept it as missing, as cleaning does."""

    def check(value: Any) -> Any:
        if value != contract.MISSING:
            return value
        if col.nullable:
            return None
        raise ValueError(f"{col.name} is required: '?' (missing) is not accepted here")

    return BeforeValidator(check)


def _field(col: contract.Column) -> tuple[Any, Any]:
    """(type, FieldInfo) of one contract column."""
    if col.kind is Kind.INTEGER:
        kind: Any = Annotated[int, Field(ge=col.minimum, le=col.maximum)]
    elif col.kind is Kind.CODE:
        kind = Literal[tuple(int(c) for c in col.allowed)]
    elif col.kind is Kind.CATEGORY:
        kind = Literal[col.allowed]
    else:
        kind = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]
    if col.name in contract.OUT_OF_SCOPE:
        kind = Annotated[kind, _in_scope(col.name)]
    if col.vocabulary == "icd9":
        kind = Annotated[kind, _icd9(col.name)]
    if col.nullable:
        kind = kind | None
    kind = Annotated[kind, _missing_marker(col)]
    info = Field(
        None if col.nullable else ...,
        alias=col.name,
        title=col.description,  # the human label /docs shows; the column name is the key
        description=col.help,
        examples=[col.default if col.default is not None else col.allowed[0]],
    )
    return kind, info


def _python_name(name: str) -> str:
    return name.replace("-", "_")


Patient = create_model(
    "Patient",
    __config__=ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [contract.default_patient()]},
    ),
    __doc__="One encounter's features, as in the data set (missing values: null or omitted "
    "where the contract allows it). Closed sets are enforced; unseen ICD-9 codes, specialties "
    "and payer codes are accepted and handled as the model was trained to handle them.",
    **{_python_name(c.name): _field(c) for c in contract.FEATURES},
)


def patient_row(patient: BaseModel) -> dict[str, Any]:
    """The data set's column names and values of a validated patient."""
    return patient.model_dump(by_alias=True)


class ModelRef(BaseModel):
    """Which model answered."""

    name: str
    alias: str
    version: str
    run_id: str


class Prediction(BaseModel):
    """Risk of readmission within 30 days."""

    probability: float = Field(ge=0, le=1, description="P(readmitted within 30 days)")
    label: int = Field(description="1 when probability ≥ the model's threshold")
    threshold: float
    model: ModelRef


class BatchRequest(BaseModel):
    """Up to PREDICT_BATCH_LIMIT patients."""

    model_config = ConfigDict(extra="forbid")
    patients: list[Patient] = Field(min_length=1)  # type: ignore[valid-type]


class BatchPrediction(BaseModel):
    """One result per patient, in request order."""

    probabilities: list[float]
    labels: list[int]
    threshold: float
    model: ModelRef


class ModelInfo(BaseModel):
    """The model being served and how it got there."""

    name: str
    alias: str
    version: str
    run_id: str
    family: str | None
    calibration: str | None = Field(description="Calibration method inside the pipeline")
    threshold: float
    metrics: dict[str, float] = Field(
        description="The run's val_*/test_* metrics, incl. test_roc_auc_ci_low/high"
    )
    promoted_at: str | None
    promotion_reason: str | None
    promotion: dict[str, str] = Field(
        description="The promotion decision's facts (the version's promotion.* tags): scores, "
        "intervals (ci_low/ci_high, diff_ci_low/diff_ci_high), champion compared against"
    )
    subgroups: list[dict[str, Any]] = Field(
        description="Test metrics by race, gender and age group (from the model card)"
    )
    loaded_at: datetime
    serving_path: str = Field(
        description="compiled: lookup tables + a direct model call (verified against the "
        "pipeline at load); pipeline: the logged scikit-learn pipeline"
    )
    serving_reason: str = Field(description="Why this path serves")
    features: list[dict[str, Any]]


class ModelVersion(BaseModel):
    """One registered version with its test metrics and promotion decision."""

    version: str
    aliases: list[str]
    run_id: str | None
    created_at: datetime
    decision: str | None
    reason: str | None
    promoted_at: str | None
    test_roc_auc: float | None
    ci_low: float | None = Field(None, description="Test ROC-AUC interval, lower bound")
    ci_high: float | None = Field(None, description="Test ROC-AUC interval, upper bound")
    diff_ci_low: float | None = Field(
        None, description="Lower bound of the ROC-AUC difference to the champion it faced"
    )


class Problem(BaseModel):
    """An error body."""

    detail: str


class Contribution(BaseModel):
    """How much one input moved this patient's risk (log-odds), from LightGBM's pred_contrib."""

    feature: str
    value: Any
    contribution: float


class Explanation(BaseModel):
    """The prediction and the inputs that pushed it up or down most."""

    prediction: Prediction
    base_value: float = Field(description="The model's average log-odds before any input")
    log_odds: float = Field(
        description="This patient's score before calibration: base_value plus the contributions "
        "of every input (the probability is this score, calibrated)"
    )
    contributions: list[Contribution]


def invalid(loc: tuple, message: str) -> Exception:
    """A 422 in FastAPI's own shape (the documented HTTPValidationError), for checks in code."""
    from fastapi.exceptions import RequestValidationError

    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


BAD_BODY = {400: {"model": Problem, "description": "The body is not valid JSON"}}


class VocabularyEntry(BaseModel):
    """One ICD-9-CM code: its description and clinical groups."""

    code: str = Field(description="In the data set's format, e.g. 250.83")
    description: str = Field(description="CMS ICD-9-CM v32 long description")
    exact: bool = Field(description="False: a category; the description is its first child's")
    ccs: int | None = Field(description="AHRQ CCS single-diagnosis category")
    ccs_name: str | None
    chapter: int | None = Field(description="ICD-9-CM chapter (1-19)")
    chapter_range: str | None = Field(description="The chapter's code range, e.g. 390-459")
    chronic: bool | None = Field(description="AHRQ Chronic Condition Indicator")
