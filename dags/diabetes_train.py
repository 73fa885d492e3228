"""
### Retrain, then promote only a better model

Runs when `diabetes_clean` publishes new rows and on `TRAIN_SCHEDULE`. When the clean data and
the training code and settings are those of a registered version already, `train_candidates`
is SKIPPED and says which version (no MLflow run, no version): the daily run on unchanged data
costs a query. Otherwise it trains LightGBM (tuned on val) and a logistic-regression baseline,
calibrated on val, and logs each to MLflow as one pipeline with a model card.

`promote_best` scores the best candidate and the current `champion` on the same test rows,
registers it once (a retry finds its version) and moves the alias only when the lower bound of
the paired bootstrap interval of the ROC-AUC difference clears `PROMOTION_MARGIN` and the Brier
score is not worse. A champion that cannot be loaded is tagged and the gate alone decides.

Asset events that arrive during a run wait for it (one active run at a time); the run that
follows trains once on everything clean by then, and any further one finds nothing new.
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
        from airflow.sdk.exceptions import AirflowSkipException
        from readmission import stages
        from readmission.settings import Settings

        trained = stages.train(Settings())
        if trained["skipped"]:
            raise AirflowSkipException(trained["reason"])
        return trained

    @task
    def promote_best(trained: dict) -> dict:
        from readmission import stages
        from readmission.settings import Settings

        return stages.promote(Settings(), trained)

    promote_best(train_candidates())


diabetes_train()
