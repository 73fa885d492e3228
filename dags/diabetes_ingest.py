"""
### Ingest the next 15,000-row batch

Loads the next `BATCH_SIZE` rows of `DATA_SOURCE_URI` into `raw_data.diabetes_raw` with their
ledger row in `raw_data.batches`, in one transaction: a retry or an overlapping run never
duplicates or skips rows. When every batch is loaded the task is skipped, so no Asset event
reaches `diabetes_clean`.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from readmission.dag_config import COMMON, INGEST_SCHEDULE, RAW


@dag(
    schedule=INGEST_SCHEDULE,
    doc_md=__doc__,
    **COMMON,
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
