"""Type, validate and split raw batches into ``clean_data.diabetes_clean``.

Validation is a data contract (:mod:`readmission.contract`): a batch that breaks it raises
:class:`ContractViolation` naming every broken rule, and nothing is written (one transaction).
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

from readmission import contract, db
from readmission.contract import Kind

log = logging.getLogger(__name__)

SPLIT_CUTS = (0.70, 0.85)  # train < 0.70 ≤ val < 0.85 ≤ test


class ContractViolation(ValueError):
    """A batch breaks the data contract; the message lists every broken rule."""

    def __init__(self, batch_ids: list[int], problems: list[str]):
        self.batch_ids, self.problems = batch_ids, problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"data contract broken in batch(es) {batch_ids}:\n{listing}")


@dataclass(frozen=True)
class CleanResult:
    """What one clean run did."""

    batch_ids: list[int]
    rows_in: int
    rows_out: int
    rows_dropped: int
    splits: dict[str, int] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if not self.batch_ids:
            return "no raw batch waiting to be cleaned; nothing to do"
        return (
            f"cleaned batches {self.batch_ids}: {self.rows_in} rows in, {self.rows_out} out, "
            f"{self.rows_dropped} dropped (expired/hospice); splits {self.splits}"
        )


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


def clean_pending_batches(engine: Engine, salt: str) -> CleanResult:
    """Clean every raw batch not cleaned yet, in one transaction (all or nothing)."""
    with engine.begin() as conn:
        db.advisory_lock(conn, db.CLEAN_LOCK)
        done = sa.select(db.clean_batches.c.batch_id)
        pending = list(
            conn.execute(
                sa.select(db.batches.c.batch_id)
                .where(db.batches.c.batch_id.not_in(done))
                .order_by(db.batches.c.batch_id)
            ).scalars()
        )
        if not pending:
            return CleanResult([], 0, 0, 0)
        raw_cols = [db.diabetes_raw.c[c] for c in (*contract.RAW_COLUMNS, "batch_id")]
        raw = pd.read_sql(
            sa.select(*raw_cols).where(db.diabetes_raw.c.batch_id.in_(pending)),
            conn,
            dtype=object,
        )
        problems = [
            f"batch {batch_id}: {problem}"
            for batch_id, part in raw.groupby("batch_id", sort=True)
            for problem in validate(part)
        ]
        if problems:
            raise ContractViolation(pending, problems)
        clean = transform(raw, salt)
        columns = [*contract.RAW_COLUMNS, contract.LABEL, "split", "batch_id"]
        buffer = io.StringIO()
        clean[columns].to_csv(buffer, index=False, header=False)
        with db.copy_into(conn, db.diabetes_clean, columns) as copy:
            copy.write(buffer.getvalue())
        rows_in = raw.groupby("batch_id").size()
        rows_out = clean.groupby("batch_id").size()
        conn.execute(
            db.clean_batches.insert(),
            [
                {
                    "batch_id": b,
                    "rows_in": int(rows_in.get(b, 0)),
                    "rows_out": int(rows_out.get(b, 0)),
                    "rows_dropped": int(rows_in.get(b, 0) - rows_out.get(b, 0)),
                }
                for b in pending
            ],
        )
    result = CleanResult(
        pending,
        len(raw),
        len(clean),
        len(raw) - len(clean),
        {s: int(n) for s, n in clean["split"].value_counts().sort_index().items()},
    )
    log.info(result.message)
    return result
