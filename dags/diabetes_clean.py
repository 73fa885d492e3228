"""
### Clean, validate and split the new raw batches

Runs on every `diabetes_raw` Asset event. Cleans the loaded batches one by one, in order: types
the raw text, drops encounters that cannot be readmitted (expired, hospice), labels 30-day
readmission and assigns each patient a stable train/val/test split.

A batch that breaks the data contract is **quarantined** (ledger status and every broken rule in
`raw_data.batches`) and the later batches go on. `clean_batches` still succeeds, so the rows it
did clean reach `diabetes_train`; then `check_quarantine` FAILS, without retries, naming the
batch and its rules. Fix the rows and re-admit it: `python -m readmission readmit BATCH_ID`.
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
        if not result["batch_ids"] and not result["quarantined"]:
            raise AirflowSkipException(result["message"])
        return result

    @task
    def check_quarantine(result: dict) -> None:
        from airflow.sdk.exceptions import AirflowFailException
        from readmission.clean import ContractViolation

        if result["quarantined"]:
            # A broken contract recurs on every retry: fail at once, for a person to see.
            quarantined = {int(b): p for b, p in result["quarantined"].items()}
            raise AirflowFailException(str(ContractViolation(quarantined)))

    check_quarantine(clean_batches())


diabetes_clean()
