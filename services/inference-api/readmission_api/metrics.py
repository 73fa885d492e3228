"""Prometheus metrics of the model (HTTP metrics come from prometheus-fastapi-instrumentator)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREDICTIONS = Counter(
    "readmission_predictions_total", "Predictions served", ["label", "model_version"]
)
PROBABILITY = Histogram(
    "readmission_prediction_probability",
    "Predicted probability of 30-day readmission",
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
)
INFERENCE_SECONDS = Histogram(
    "readmission_inference_seconds",
    "Model-only inference time per call (no HTTP, no validation)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MODEL_INFO = Gauge("readmission_model_info", "The model version served (1)", ["version", "run_id"])
PROMOTED_AT = Gauge(
    "readmission_model_promoted_timestamp_seconds",
    "When the served version was promoted (unix time; absent for a version without the tag)",
    ["version"],
)
RELOADS = Counter(
    "readmission_model_reloads_total", "Model (re)load attempts by result", ["result"]
)
LOG_WRITTEN = Counter("readmission_inference_log_written_total", "Inference log rows written")
LOG_DROPPED = Counter(
    "readmission_inference_log_dropped_total", "Inference log rows dropped (queue full or DB down)"
)
SERVING_PATH = Gauge(
    "readmission_serving_path",
    "Which path scores patients (1): compiled (lookup tables + direct model call) or pipeline",
    ["path", "version"],
)
FAST_PATH_MISSES = Counter(
    "readmission_fast_path_misses_total",
    "Calls the compiled path could not encode (a value outside its tables): the pipeline scored",
)
BATCH_SIZE = Histogram(
    "readmission_microbatch_size",
    "Single-patient requests scored together in one model call",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
QUEUE_WAIT = Histogram(
    "readmission_microbatch_wait_seconds",
    "Time a single-patient request waited for its micro-batch to be scored",
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
REQUESTS_BY_CREDENTIAL = Counter(
    "readmission_requests_by_credential_total",
    "Authenticated requests by credential name (never its secret), kind and scope",
    ["credential", "kind", "scope"],
)
RATE_LIMITED = Counter(
    "readmission_rate_limited_total",
    "Requests refused with 429 by credential and scope",
    ["credential", "scope"],
)
AUTH_REFUSED = Counter(
    "readmission_auth_refused_total",
    "Requests refused: no credential (missing), unknown (invalid), without the scope (forbidden)",
    ["reason"],
)
# Exported by readmission_api.drift's collector, computed when Prometheus scrapes.
FEATURE_PSI = "readmission_feature_psi"  # {feature, model_version}; feature "probability" too
DRIFT_ROWS = "readmission_drift_window_rows"  # {model_version}
PROBABILITY_SHARE = "readmission_probability_share"  # {bin, population, model_version}
