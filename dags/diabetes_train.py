"""
### Retrain, then promote only a better model

Runs when `diabetes_clean` publishes new rows and on `TRAIN_SCHEDULE`. Trains LightGBM (tuned
on val) and a logistic-regression baseline, logs each to MLflow as one pipeline, registers the
best as a version of `diabetes-readmission`, scores it and the current `champion` on the same
test rows, and moves the alias only when the challenger wins by `PROMOTION_MARGIN`.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from readmission.dag_config import CLEAN, COMMON, TRAIN_SCHEDULE


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(TRAIN_SCHEDULE, timezone="UTC"), assets=[CLEAN]
    ),
    doc_md=__doc__,
    **COMMON,
)
def diabetes_train():
    @task
    def train_candidates() -> dict:
        from readmission import stages
        from readmission.settings import Settings

        return stages.train(Settings())

    @task
    def promote_best(trained: dict) -> dict:
        from readmission import stages
        from readmission.settings import Settings

        return stages.promote(Settings(), trained)

    promote_best(train_candidates())


diabetes_train()
