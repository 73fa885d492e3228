"""Run one DAG with Airflow's own ``dag.test()`` and print its run and task states as JSON.

Executed in a subprocess by the tests, so each run gets the Airflow configuration from its
environment (AIRFLOW_HOME, metadata database) without leaking into the test process.
"""

from __future__ import annotations

import json
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.settings import Session


def main(dag_id: str) -> None:
    bag = DagBag()
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    dag_run = bag.get_dag(dag_id).test()
    session = Session()
    instances = dag_run.get_task_instances(session=session)
    states = {ti.task_id: str(ti.state) for ti in instances}
    tries = {ti.task_id: ti.try_number for ti in instances}
    print("RESULT " + json.dumps({"state": str(dag_run.state), "tasks": states, "tries": tries}))


if __name__ == "__main__":
    main(sys.argv[1])
