"""The DAG folder imports cleanly and each DAG is scheduled and configured as designed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = r"""
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "timetable": type(dag.timetable).__name__,
        "cron": getattr(getattr(dag.timetable, "timetable", dag.timetable), "expression", None),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "doc": bool(dag.doc_md),
        "tasks": {t.task_id: {"retries": t.retries,
                              "outlets": sorted(getattr(o, "name", str(o)) for o in t.outlets)}
                  for t in dag.tasks},
        "assets": sorted(a.name for a in getattr(cond, "objects", [cond]))
            if (cond := dag.timetable.asset_condition) is not None else [],
    }
print("RESULT " + json.dumps(out))
"""


def load(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, done.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_dag_folder_has_no_import_errors_and_exactly_four_dags(airflow_env) -> None:
    bag = load({**airflow_env, "TASK_RETRIES": "2"})
    assert bag["errors"] == {}
    assert set(bag["dags"]) == {
        "diabetes_ingest", "diabetes_clean", "diabetes_train", "diabetes_monitor"
    }  # fmt: skip


def test_schedules_retries_and_assets_are_as_designed(airflow_env) -> None:
    dags = load({**airflow_env, "TASK_RETRIES": "2", "INGEST_SCHEDULE": "*/5 * * * *"})["dags"]
    ingest, clean, train = dags["diabetes_ingest"], dags["diabetes_clean"], dags["diabetes_train"]
    assert ingest["cron"] == "*/5 * * * *" and ingest["assets"] == []
    assert ingest["tasks"] == {"ingest_batch": {"retries": 2, "outlets": ["diabetes_raw"]}}
    assert clean["timetable"] == "AssetTriggeredTimetable"
    assert clean["assets"] == ["diabetes_raw"]
    assert clean["tasks"] == {
        "clean_batches": {"retries": 2, "outlets": ["diabetes_clean"]},
        # Retries are configured, but a quarantine raises AirflowFailException: it never retries.
        "check_quarantine": {"retries": 2, "outlets": []},
    }
    assert train["timetable"] == "AssetOrTimeSchedule"
    assert train["assets"] == ["diabetes_clean", "diabetes_drift"]
    assert train["cron"] == "0 3 * * *"
    assert set(train["tasks"]) == {"train_candidates", "promote_best"}
    monitor = dags["diabetes_monitor"]
    assert monitor["cron"] == "0 2 * * *" and monitor["assets"] == []
    assert monitor["tasks"] == {"request_retrain": {"retries": 2, "outlets": ["diabetes_drift"]}}
    for dag in dags.values():
        assert dag["catchup"] is False and dag["max_active_runs"] == 1
        assert dag["tags"] == ["readmission"] and dag["doc"]
        assert all(task["retries"] == 2 for task in dag["tasks"].values())


def test_the_data_driven_training_trigger_can_be_turned_off(airflow_env) -> None:
    dags = load({**airflow_env, "TRAIN_ON_NEW_DATA": "false"})["dags"]
    assert dags["diabetes_train"]["assets"] == ["diabetes_drift"]  # drift and the schedule only
