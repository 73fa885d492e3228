"""Type, validate and split raw batches into ``clean_data.diabetes_clean``.

Batches are cleaned one by one, in order, each in its own transaction. Validation is a data
contract (:mod:`readmission.contract`): a batch that breaks it is QUARANTINED — marked so in the
ledger (``raw_data.batches.status``) with every broken rule, none of its rows written — and the
later batches go on. A person fixes the rows (or the contract) and re-admits the batch with
``python -m readmission readmit BATCH_ID``; the next clean run takes it again.

Splits come from a salted hash of ``patient_nbr``, so a patient never crosses splits and keeps
its split whatever batch its encounters arrive in.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from readmission import contract, db, metrics
from readmission.contract import Kind

log = logging.getLogger(__name__)

SPLIT_CUTS = (0.70, 0.85)  # train < 0.70 ≤ val < 0.85 ≤ test


class ContractViolation(ValueError):
    """Batches broke the data contract; the message lists every broken rule of each."""

    def __init__(self, quarantined: dict[int, list[str]]):
        self.quarantined = quarantined
        listing = "\n".join(
            f"  - batch {batch_id}: {problem}"
            for batch_id, problems in quarantined.items()
            for problem in problems
        )
        super().__init__(
            f"data contract broken: batch(es) {sorted(quarantined)} quarantined "
            f"(fix the rows, then `python -m readmission readmit BATCH_ID`):\n{listing}"
        )


@dataclass(frozen=True)
class CleanResult:
    """What one clean run did: the batches cleaned, and those quarantined with their problems."""

    batch_ids: list[int]
    rows_in: int
    rows_out: int
    rows_dropped: int
    splits: dict[str, int] = field(default_factory=dict)
    quarantined: dict[int, list[str]] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if not self.batch_ids and not self.quarantined:
            return "no raw batch waiting to be cleaned; nothing to do"
        done = (
            f"cleaned batches {self.batch_ids}: {self.rows_in} rows in, {self.rows_out} out, "
            f"{self.rows_dropped} dropped (expired/hospice); splits {self.splits}"
        )
        if self.quarantined:
            done += f"; QUARANTINED batches {sorted(self.quarantined)}"
        return done


def assign_split(patient_nbr: pd.Series, salt: str) -> np.ndarray:
    """train/val/test (≈70/15/15) from a salted SHA-256 of each patient number."""
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(f"{salt}:{p}".encode()).digest()[:8], "big") / 2**64
            for p in patient_nbr
        ),
        dtype=float,
        count=len(patient_nbr),
    )
    return np.where(
        buckets < SPLIT_CUTS[0], "train", np.where(buckets < SPLIT_CUTS[1], "val", "test")
    )


def _sample(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(3))


def validate(raw: pd.DataFrame) -> list[str]:
    """Check raw text rows against the contract; return the broken rules (empty if none)."""
    columns = [c for c in raw.columns if c in contract.BY_NAME]
    missing = [c for c in contract.RAW_COLUMNS if c not in raw.columns]
    problems = [f"missing columns: {missing}"] if missing else []
    n = len(raw)
    if n == 0:
        return problems
    for name in columns:
        col = contract.BY_NAME[name]
        text = raw[name].astype("string").str.strip()
        null = text.isna() | text.eq(contract.MISSING) | text.eq("")
        ratio = float(null.mean())
        if null.any() and not col.nullable:
            problems.append(f"column {name!r}: {int(null.sum())} missing values, none allowed")
        elif ratio > col.max_null_ratio:
            problems.append(
                f"column {name!r}: {ratio:.1%} missing, "
                f"more than the allowed {col.max_null_ratio:.0%}"
            )
        present = text[~null]
        if col.kind in (Kind.ID, Kind.INTEGER, Kind.CODE):
            numbers = pd.to_numeric(present, errors="coerce")
            bad = numbers.isna() | (numbers % 1 != 0)
            if bad.any():
                problems.append(
                    f"column {name!r}: {int(bad.sum())} values are not integers "
                    f"(e.g. {_sample(present[bad])})"
                )
            numbers = numbers[~bad]
            low = numbers < col.minimum if col.minimum is not None else numbers != numbers
            high = numbers > col.maximum if col.maximum is not None else numbers != numbers
            if low.any() or high.any():
                problems.append(
                    f"column {name!r}: {int(low.sum() + high.sum())} values outside "
                    f"[{col.minimum}, {col.maximum}] (e.g. {_sample(numbers[low | high])})"
                )
            present = numbers.astype("int64").astype(str)
        if col.allowed is not None:
            unknown = ~present.isin(col.allowed)
            if unknown.any():
                problems.append(
                    f"column {name!r}: {int(unknown.sum())} values outside the allowed set "
                    f"(e.g. {_sample(present[unknown])})"
                )
    if "encounter_id" in raw.columns and raw["encounter_id"].duplicated().any():
        problems.append("column 'encounter_id': duplicated values")
    return problems


def transform(raw: pd.DataFrame, salt: str) -> pd.DataFrame:
    """Typed, labelled, split rows; drops encounters that cannot be readmitted."""
    out = pd.DataFrame(index=raw.index)
    for col in contract.COLUMNS:
        text = raw[col.name].astype("string").str.strip()
        text = text.mask(text.eq(contract.MISSING) | text.eq(""))
        if col.kind in (Kind.ID, Kind.INTEGER, Kind.CODE):
            out[col.name] = text.astype("int64")
        else:
            out[col.name] = text
    out = out[~out["discharge_disposition_id"].isin(contract.NOT_READMITTABLE)].copy()
    out[contract.LABEL] = (out[contract.TARGET] == contract.POSITIVE).astype("int16")
    out["split"] = assign_split(out["patient_nbr"], salt)
    out["batch_id"] = raw.loc[out.index, "batch_id"].astype("int64")
    return out


def _pending(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(db.batches.c.batch_id)
                .where(db.batches.c.status == db.LOADED)
                .order_by(db.batches.c.batch_id)
            ).scalars()
        )


def _set_status(conn, batch_id: int, status: str, problems: list[str] | None = None) -> None:
    conn.execute(
        db.batches.update()
        .where(db.batches.c.batch_id == batch_id)
        .values(status=status, problems=problems, status_at=sa.func.now())
    )


@dataclass(frozen=True)
class BatchOutcome:
    """What cleaning one batch did."""

    batch_id: int
    rows_in: int = 0
    rows_out: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _write_clean(conn, batch_id: int, raw: pd.DataFrame, salt: str) -> BatchOutcome:
    """Insert the batch's clean rows and its clean-ledger row."""
    clean = transform(raw, salt)
    columns = [*contract.RAW_COLUMNS, contract.LABEL, "split", "batch_id"]
    buffer = io.StringIO()
    clean[columns].to_csv(buffer, index=False, header=False)
    with db.copy_into(conn, db.diabetes_clean, columns) as copy:
        copy.write(buffer.getvalue())
    conn.execute(
        db.clean_batches.insert().values(
            batch_id=batch_id,
            rows_in=len(raw),
            rows_out=len(clean),
            rows_dropped=len(raw) - len(clean),
        )
    )
    _set_status(conn, batch_id, db.CLEANED)
    splits = {str(k): int(v) for k, v in clean["split"].value_counts().items()}
    return BatchOutcome(batch_id, len(raw), len(clean), splits)


def clean_batch(engine: Engine, batch_id: int, salt: str) -> BatchOutcome | None:
    """Clean one loaded batch in one transaction, or quarantine it; None if taken already."""
    with engine.begin() as conn:
        db.advisory_lock(conn, db.CLEAN_LOCK)
        status = conn.execute(
            sa.select(db.batches.c.status).where(db.batches.c.batch_id == batch_id)
        ).scalar()
        if status != db.LOADED:  # a concurrent run took it first
            return None
        raw_cols = [db.diabetes_raw.c[c] for c in (*contract.RAW_COLUMNS, "batch_id")]
        raw = pd.read_sql(
            sa.select(*raw_cols).where(db.diabetes_raw.c.batch_id == batch_id), conn, dtype=object
        )
        problems = validate(raw)
        if problems:
            _set_status(conn, batch_id, db.QUARANTINED, problems)
            return BatchOutcome(batch_id, rows_in=len(raw), problems=problems)
        return _write_clean(conn, batch_id, raw, salt)


def clean_pending_batches(engine: Engine, salt: str) -> CleanResult:
    """Clean every loaded batch in order; quarantine those that break the contract."""
    outcomes = [o for b in _pending(engine) if (o := clean_batch(engine, b, salt)) is not None]
    cleaned = [o for o in outcomes if not o.problems]
    quarantined = {o.batch_id: o.problems for o in outcomes if o.problems}
    for batch_id, problems in quarantined.items():
        log.error("batch %d QUARANTINED: %s", batch_id, "; ".join(problems))
    if quarantined:
        metrics.incr(metrics.BATCHES_QUARANTINED, len(quarantined))
    splits: dict[str, int] = {}
    for o in cleaned:
        for split, n in o.splits.items():
            splits[split] = splits.get(split, 0) + n
    rows_in, rows_out = sum(o.rows_in for o in cleaned), sum(o.rows_out for o in cleaned)
    result = CleanResult(
        [o.batch_id for o in cleaned],
        rows_in,
        rows_out,
        rows_in - rows_out,
        dict(sorted(splits.items())),
        quarantined,
    )
    log.info(result.message)
    return result


def readmit(engine: Engine, batch_id: int) -> str:
    """Put a quarantined batch back in line for cleaning (after its rows were fixed)."""
    with engine.begin() as conn:
        db.advisory_lock(conn, db.CLEAN_LOCK)
        status = conn.execute(
            sa.select(db.batches.c.status).where(db.batches.c.batch_id == batch_id)
        ).scalar()
        if status is None:
            raise ValueError(f"batch {batch_id} does not exist")
        if status != db.QUARANTINED:
            raise ValueError(
                f"batch {batch_id} is {status}; only a quarantined batch is re-admitted"
            )
        _set_status(conn, batch_id, db.LOADED)
    log.info("batch %d re-admitted: the next clean run validates it again", batch_id)
    return f"batch {batch_id} re-admitted; the next clean run takes it"
