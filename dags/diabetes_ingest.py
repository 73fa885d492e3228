"""
### Ingest the next 15,000-row batch

Loads the next `BATCH_SIZE` rows of `DATA_SOURCE_URI` into `raw_data.diabetes_raw` with their
ledger row in `raw_data.batches`, in one transaction: a retry or an overlapping run never
duplicates or skips rows. When every batch is loaded the task is skipped, so no Asset event
reaches `diabetes_clean`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task
from readmission.dag_config import DEFAULT_ARGS, INGEST_SCHEDULE, RAW, TAGS


@dag(
    schedule=INGEST_SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    doc_md=__doc__,
)
def diabetes_ingest():
    @task(outlets=[RAW])
    def ingest_batch() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException
        from readmission import stages
        from readmission.settings import Settings

        result = stages.ingest(Settings())
        if not result["loaded"]:
            raise AirflowSkipException(result["message"])
        return result

    ingest_batch()


diabetes_ingest()
