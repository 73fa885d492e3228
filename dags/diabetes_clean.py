"""
### Clean, validate and split the new raw batches

Runs on every `diabetes_raw` Asset event. Types the raw text, drops encounters that cannot be
readmitted (expired, hospice), labels 30-day readmission and assigns each patient a stable
train/val/test split. A batch that breaks the data contract FAILS the task with every broken
rule listed, and nothing is written.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from readmission.dag_config import CLEAN, COMMON, RAW


@dag(
    schedule=[RAW],
    doc_md=__doc__,
    **COMMON,
)
def diabetes_clean():
    @task(outlets=[CLEAN])
    def clean_batches() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException
        from readmission import stages
        from readmission.settings import Settings

        result = stages.clean(Settings())
        if not result["batch_ids"]:
            raise AirflowSkipException(result["message"])
        return result

    clean_batches()


diabetes_clean()
