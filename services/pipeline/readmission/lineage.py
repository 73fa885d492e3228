"""What a training run would learn from, as one fingerprint — and whether it was learnt already.

The fingerprint covers the data (each cleaned batch: id, rows, when it was cleaned), the
training code (the source of the modules that shape a model) and the settings that change a
model. A run whose fingerprint a registered version already carries would train the same model
again: it ends early instead, and says which version already holds it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from sqlalchemy.engine import Engine

from readmission import db
from readmission.settings import Settings

TAG = "lineage.fingerprint"
# The modules whose code decides what a training run produces.
CODE_MODULES = (
    "contract",
    "vocabulary",
    "clinical",
    "model",
    "trained",
    "train",
    "calibration",
    "evaluate",
)
# The settings that decide what a training run produces (promotion settings do not).
CONFIG_SETTINGS = ("TUNING_TRIALS", "FEATURE_SETS", "RANDOM_SEED", "SPLIT_SALT")


@dataclass(frozen=True)
class Lineage:
    """The inputs of a training run, and their digests."""

    batch_ids: tuple[int, ...]
    data_digest: str
    code_digest: str

    @property
    def fingerprint(self) -> str:
        return _sha(f"{self.data_digest}:{self.code_digest}")

    @property
    def tags(self) -> dict[str, str]:
        return {
            TAG: self.fingerprint,
            "lineage.data_digest": self.data_digest,
            "lineage.code_digest": self.code_digest,
        }


def _sha(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@lru_cache
def _code_source() -> str:
    return "".join(
        inspect.getsource(importlib.import_module(f"readmission.{m}")) for m in CODE_MODULES
    )


def code_digest(settings: Settings) -> str:
    """Digest of the training code and of the settings that shape a model."""
    config = ";".join(f"{k}={getattr(settings, k)}" for k in CONFIG_SETTINGS)
    return _sha(_code_source() + config)


def current(engine: Engine, settings: Settings) -> Lineage:
    """The lineage a training run would have now (read from the clean ledger only)."""
    ledger = db.clean_batches.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger.batch_id, ledger.rows_out, ledger.processed_at).order_by(
                ledger.batch_id
            )
        ).all()
    data = ";".join(f"{b}:{n}:{at.isoformat()}" for b, n, at in rows)
    return Lineage(tuple(r.batch_id for r in rows), _sha(data), code_digest(settings))


def trained_version(client: MlflowClient, name: str, fingerprint: str) -> ModelVersion | None:
    """The newest version of ``name`` trained on exactly this lineage, if any."""
    found = client.search_model_versions(
        f"name = '{name}' and tags.`{TAG}` = '{fingerprint}'", max_results=10
    )
    return max(found, key=lambda v: int(v.version), default=None)


def describe(batch_ids: tuple[int, ...]) -> str:
    """``1-3, 5`` for (1, 2, 3, 5): batch lists in messages stay short."""
    spans: list[list[int]] = []
    for b in batch_ids:
        if spans and b == spans[-1][1] + 1:
            spans[-1][1] = b
        else:
            spans.append([b, b])
    return ", ".join(str(a) if a == z else f"{a}-{z}" for a, z in spans) or "none"
