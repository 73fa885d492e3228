"""Assets, schedules and defaults shared by the Airflow DAGs (imported by dags/ only)."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset

RAW = Asset(name="diabetes_raw", uri="x-readmission://raw_data/diabetes_raw")
CLEAN = Asset(name="diabetes_clean", uri="x-readmission://clean_data/diabetes_clean")
# diabetes_monitor's retrain request (extra: the reason); diabetes_train listens to it.
DRIFT = Asset(name="diabetes_drift", uri="x-readmission://serving/diabetes_drift")

# Schedules come from the environment so the chart's profiles (and `make up`) can speed them up.
INGEST_SCHEDULE = os.environ.get("INGEST_SCHEDULE", "@hourly")
TRAIN_SCHEDULE = os.environ.get("TRAIN_SCHEDULE", "0 3 * * *")
MONITOR_SCHEDULE = os.environ.get("MONITOR_SCHEDULE", "0 2 * * *")
# "false": new clean data alone does not start training (only the schedule and drift do).
TRAIN_ON_NEW_DATA = os.environ.get("TRAIN_ON_NEW_DATA", "true").lower() != "false"

DEFAULT_ARGS = {
    "owner": "mlops",
    "retries": int(os.environ.get("TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=int(os.environ.get("TASK_RETRY_DELAY_SECONDS", "60"))),
}
TAGS = ["readmission"]

# What every DAG of the project shares: no backfill, one run at a time, retries, tags.
COMMON = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "tags": TAGS,
}
