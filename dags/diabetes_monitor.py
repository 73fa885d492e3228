"""
### Watch the served model's patients; ask for a retrain when they drift

Daily (`MONITOR_SCHEDULE`) and on demand. Reads the inference log (`serving.predictions`) of the
last `DRIFT_WINDOW_HOURS` for the champion's version and compares each watched feature (and the
predicted probability) with the champion's training split, with the bins logged with the
champion (`drift/reference.json`) — the rule the API applies online. Each check writes
`serving.drift_reports` and an MLflow run (experiment `<MLFLOW_EXPERIMENT>-monitoring`, with an
HTML report).

First it deletes the inference log's rows older than `INFERENCE_LOG_RETENTION_DAYS` (default 90:
they hold patients' features) and says how many.

When a PSI passes `DRIFT_RETRAIN_PSI` over `DRIFT_MIN_ROWS` rows or more, `request_retrain`
records the request (`serving.retrain_requests`) and publishes `diabetes_drift`, which
`diabetes_train` listens to; otherwise it is SKIPPED with the reason. Training then decides by
its own rule: it retrains only when labelled data arrived since the champion's lineage.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag, task
from readmission.dag_config import COMMON, DRIFT, MONITOR_SCHEDULE


@dag(
    schedule=CronTriggerTimetable(MONITOR_SCHEDULE, timezone="UTC"),
    doc_md=__doc__,
    **COMMON,
)
def diabetes_monitor():
    @task(outlets=[DRIFT])
    def request_retrain(*, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException
        from readmission import stages
        from readmission.settings import Settings

        result = stages.monitor(Settings())
        if not result["retrain"]:
            raise AirflowSkipException(f"{result['reason']}; {result['retention']}")
        outlet_events[DRIFT].extra = {"reason": result["reason"]}
        return result

    request_retrain()


diabetes_monitor()
