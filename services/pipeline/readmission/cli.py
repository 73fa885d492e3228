"""Command line for every pipeline stage: ``python -m readmission <command>``.

The Makefile, the Airflow DAGs and the tests all go through the same functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from readmission import stages
from readmission.settings import Settings, get_settings


def cmd_train(settings: Settings) -> dict:
    """Train, log, and let the best candidate challenge the champion (unless nothing is new)."""
    trained = stages.train(settings)
    if trained["skipped"]:
        return trained
    return {**trained, **stages.promote(settings, trained)}


def cmd_clean(settings: Settings) -> dict:
    """Clean the loaded batches; exit 1 (after cleaning the others) if any was quarantined."""
    from readmission.clean import ContractViolation

    result = stages.clean(settings)
    if result["quarantined"]:
        raise ContractViolation({int(b): p for b, p in result["quarantined"].items()})
    return result


COMMANDS = {
    "init-db": stages.init_db,
    "ingest": stages.ingest,
    "clean": cmd_clean,
    "train": cmd_train,
    "monitor": stages.monitor,
    "status": stages.progress,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m readmission", description=__doc__)
    parser.add_argument("command", choices=sorted([*COMMANDS, "readmit"]))
    parser.add_argument("batch_id", nargs="?", type=int, help="readmit: the quarantined batch")
    args = parser.parse_args(argv)
    if (args.command == "readmit") != (args.batch_id is not None):
        parser.error("a batch id goes with `readmit`, and only with it")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "readmit":
            result = stages.readmit(get_settings(), args.batch_id)
        else:
            result = COMMANDS[args.command](get_settings())
    except Exception as exc:  # the CLI's contract: one clear line on stderr, exit 1
        logging.getLogger("readmission").debug("failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0
