"""Load the next batch of the source CSV into ``raw_data`` — exactly once.

Each call loads rows ``[row_start, row_start + batch_size)`` of the source, where ``row_start`` is
the sum of the rows already in the ledger. The rows (via COPY) and their ledger row are written
in ONE transaction behind an advisory lock, so a crash, a retry or two concurrent runs can never
duplicate or skip rows: a killed load rolls back whole, and the next run loads the same batch.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from readmission import contract, db

log = logging.getLogger(__name__)


class SourceError(ValueError):
    """The source CSV is missing, malformed, or not the one earlier batches came from."""


@dataclass(frozen=True)
class Source:
    """The decompressed source CSV split into data lines (header checked)."""

    uri: str
    sha256: str
    lines: list[bytes]

    @property
    def row_count(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class IngestResult:
    """What one ingest run did."""

    loaded: bool
    batch_id: int | None
    row_count: int
    rows_total: int
    batches_total: int
    message: str


def _local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri)
    raise SourceError(f"unsupported DATA_SOURCE_URI scheme {parsed.scheme!r} in {uri!r}")


def read_source(uri: str) -> Source:
    """Read and check the source CSV (plain or gzip) at ``uri``."""
    path = _local_path(uri)
    if not path.is_file():
        raise SourceError(f"data source not found: {path} (set DATA_SOURCE_URI)")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    # The file is plain CSV without quoted fields; a quote would make line slicing unsafe.
    if b'"' in data:
        raise SourceError(f"{path}: quoted CSV fields are not supported by the batch loader")
    header, *lines = data.splitlines()
    columns = header.decode().split(",")
    if tuple(columns) != contract.RAW_COLUMNS:
        missing = sorted(set(contract.RAW_COLUMNS) - set(columns))
        extra = sorted(set(columns) - set(contract.RAW_COLUMNS))
        raise SourceError(
            f"{path}: header does not match the contract (missing {missing}, unexpected {extra}"
            f"{', order differs' if not (missing or extra) else ''})"
        )
    if lines and not lines[-1]:
        lines.pop()
    return Source(uri=str(uri), sha256=hashlib.sha256(data).hexdigest(), lines=lines)


def ingest_next_batch(engine: Engine, source: Source, batch_size: int) -> IngestResult:
    """Load the next ``batch_size`` rows of ``source`` into ``raw_data`` (see module doc)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    with engine.begin() as conn:
        db.advisory_lock(conn, db.INGEST_LOCK)
        ledger = conn.execute(
            sa.select(
                db.batches.c.batch_id, db.batches.c.row_count, db.batches.c.source_sha256
            ).order_by(db.batches.c.batch_id)
        ).all()
        other = {row.source_sha256 for row in ledger} - {source.sha256}
        if other:
            raise SourceError(
                f"the source {source.uri} (sha256 {source.sha256[:12]}…) is not the file earlier "
                f"batches came from ({', '.join(s[:12] + '…' for s in other)}); "
                "refusing to mix them"
            )
        row_start = sum(row.row_count for row in ledger)
        batch_id = (ledger[-1].batch_id + 1) if ledger else 1
        chunk = source.lines[row_start : row_start + batch_size]
        if not chunk:
            message = (
                f"all {row_start} rows of the source are loaded in {len(ledger)} batches; "
                "nothing to do"
            )
            log.info(message)
            return IngestResult(False, None, 0, row_start, len(ledger), message)

        # The ledger row and the rows commit together or not at all.
        conn.execute(
            db.batches.insert().values(
                batch_id=batch_id,
                row_start=row_start,
                row_count=len(chunk),
                source_sha256=source.sha256,
                source_uri=source.uri,
            )
        )
        suffix = b"," + str(batch_id).encode() + b"\n"
        with db.copy_into(conn, db.diabetes_raw, (*contract.RAW_COLUMNS, "batch_id")) as copy:
            copy.write(suffix.join(chunk) + suffix)
    last = row_start + len(chunk) - 1
    message = f"loaded batch {batch_id}: {len(chunk)} rows (source rows {row_start} to {last})"
    log.info(message)
    return IngestResult(
        True, batch_id, len(chunk), row_start + len(chunk), len(ledger) + 1, message
    )
