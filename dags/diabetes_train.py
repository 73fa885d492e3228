"""
### Retrain, then promote only a better model

Runs when `diabetes_clean` publishes new rows (unless `TRAIN_ON_NEW_DATA=false`), when
`diabetes_monitor` reports drift (`diabetes_drift`), and on `TRAIN_SCHEDULE`. When the clean
data and the training code and settings are a registered version's already, `train_candidates`
is SKIPPED and says which version (no MLflow run, no version): the daily run on unchanged data
costs a query; with no clean batch yet (a fresh install's first scheduled run) it is SKIPPED
too, not failed. Otherwise it trains LightGBM (tuned on val) and a logistic-regression baseline,
calibrated on val, and logs each to MLflow as one pipeline with a model card.

`promote_best` scores the best candidate and the current `champion` on the same test rows,
registers it once (a retry finds its version) and moves the alias only when the lower bound of
the paired bootstrap interval of the ROC-AUC difference clears `PROMOTION_MARGIN` and the Brier
score is not worse. A champion that cannot be loaded is tagged and the gate alone decides.

A run asked for by drift trains only when labelled data arrived since the champion's lineage;
otherwise it is SKIPPED with "drift reported, no new labelled data" (and the retrain request in
`serving.retrain_requests` gets that answer; a trained run's answer names its MLflow run, which
carries the drift as `trigger.reason`). Drift alone never trains a version on the same rows.

Asset events that arrive during a run wait for it (one active run at a time); the run that
follows trains once on everything clean by then, and any further one finds nothing new.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from readmission.dag_config import CLEAN, COMMON, DRIFT, TRAIN_ON_NEW_DATA, TRAIN_SCHEDULE


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(TRAIN_SCHEDULE, timezone="UTC"),
        assets=(CLEAN | DRIFT) if TRAIN_ON_NEW_DATA else DRIFT,
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

        # A pending retrain request (serving.retrain_requests) is found by the stage itself.
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
