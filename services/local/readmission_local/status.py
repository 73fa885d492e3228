"""`make status` (supervisord's view of each service, then the pipeline's progress) and
`make logs` (the last lines of one service's log, or of all)."""

from pathlib import Path

from readmission_local import process, services
from readmission_local.process import ServiceError
from readmission_local.supervisor import Supervisor


def status(home: Path) -> None:
    supervisor = Supervisor(home)
    info, restarts = supervisor.info(), supervisor.restarts()
    if not info:
        print("  supervisord is not running: `make up` starts everything")
    for name in (n for n in services.TABLE["service"] if n in info):
        state = info[name]
        print(
            f"  {name:22} {state['statename']:9} {state['description']}, restarts {restarts[name]}"
        )
    if info.get("postgres", {}).get("statename") in ("STARTING", "RUNNING"):
        pipeline(services.values(home, services.credentials(home)))


def pipeline(found: dict[str, str]) -> None:
    """Batches, quarantined batches (and how to readmit them), the champion."""
    from readmission import stages
    from readmission.settings import Settings

    settings = Settings(**services.common_env(found))
    try:
        done = stages.progress(settings)
    except Exception as exc:  # the schema is not there yet
        print(f"  pipeline    not started yet ({type(exc).__name__})")
        return
    states = ", ".join(f"{n} {state}" for state, n in done["batches"].items())
    rows = f"{done['rows_loaded']} rows loaded), {done['clean_rows']} clean rows"
    print(f"  pipeline    batches: {states} ({rows}")
    for q in done["quarantined"]:
        print(f"  QUARANTINED batch {q['batch_id']} since {q['since']}: {'; '.join(q['problems'])}")
        print(f"              fix the rows, then: python -m readmission readmit {q['batch_id']}")
    if process.port_open(int(found["MLFLOW_PORT"])):
        from mlflow import MlflowClient
        from readmission.promote import current_champion

        client = MlflowClient(settings.MLFLOW_TRACKING_URI)
        version = current_champion(client, settings.MODEL_NAME, settings.MODEL_ALIAS)
        print(
            f"  champion    {f'{settings.MODEL_NAME} version {version}' if version else 'none yet'}"
        )


def logs(home: Path, service: str | None = None, lines: int = 30) -> None:
    found = [f for f in sorted((home / "logs").glob("*.log")) if service in (None, f.stem)]
    if service and not found:
        names = ", ".join(["supervisord", *services.TABLE["service"]])
        raise ServiceError(f"no log for {service!r} yet; the services: {names}")
    for log in found:
        print(process.tail(log, lines).lstrip("\n"))
