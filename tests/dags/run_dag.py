"""Run a DAG with Airflow's own ``dag.test()`` and print its run and task states as JSON.

``python run_dag.py DAG_ID``: one run in this process, configured by its environment.

``python run_dag.py --serve``: what the tests use, a fork server. Airflow, the pipeline and their
libraries are imported once (~6 s of CPU a run saved); each request, a JSON line on stdin
(``dag_id``, ``env``), runs in a forked child with exactly that environment, so the DAG files and
``readmission.dag_config`` (never imported by the server) read it afresh and nothing a run does
reaches the next one. The reply, a JSON line: the child's exit status and the files holding its
stdout and stderr. Airflow disposes of its database pool in a forked child; the child picks the
metrics client its environment asks for.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback


def main(dag_id: str) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import Session

    bag = DagBag()
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    dag_run = bag.get_dag(dag_id).test()
    session = Session()
    instances = dag_run.get_task_instances(session=session)
    states = {ti.task_id: str(ti.state) for ti in instances}
    tries = {ti.task_id: ti.try_number for ti in instances}
    print("RESULT " + json.dumps({"state": str(dag_run.state), "tasks": states, "tries": tries}))


def _child(dag_id: str, env: dict[str, str], out: int, err: int) -> None:
    """In the forked child: the request's environment and output files, one run, exit."""
    os.environ.clear()
    os.environ.update(env)
    _metrics_client_from_environment()
    os.dup2(out, 1)
    os.dup2(err, 2)
    code = 1
    try:
        main(dag_id)
        code = 0
    except SystemExit as stop:
        print(stop, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _metrics_client_from_environment() -> None:
    """Pick the task metrics (statsd) client again, as a fresh process does: Airflow picks it
    when it first imports its serialisers, which the server did before this environment."""
    from airflow.sdk._shared.observability.metrics import stats
    from airflow.sdk.configuration import conf
    from airflow.sdk.observability.metrics import stats_utils

    legacy = conf.getboolean("metrics", "legacy_names_on")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=legacy)


def serve() -> None:
    # What the tasks import, imported before any fork; not readmission.dag_config (env-driven).
    import airflow.dag_processing.dagbag
    import airflow.sdk  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    from readmission import monitor, stages, train  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        out_fd, out = tempfile.mkstemp(prefix="run-dag-", suffix=".out")
        err_fd, err = tempfile.mkstemp(prefix="run-dag-", suffix=".err")
        pid = os.fork()
        if pid == 0:
            _child(request["dag_id"], request["env"], out_fd, err_fd)
        os.close(out_fd)
        os.close(err_fd)
        _, status = os.waitpid(pid, 0)
        reply = {"returncode": os.waitstatus_to_exitcode(status), "stdout": out, "stderr": err}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    serve() if sys.argv[1] == "--serve" else main(sys.argv[1])
