"""Database schema (SQLAlchemy metadata) and connection helpers for the data database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from readmission import contract
from readmission.contract import Kind

RAW_SCHEMA, CLEAN_SCHEMA, SERVING_SCHEMA = "raw_data", "clean_data", "serving"
SPLITS = ("train", "val", "test")

# Keys of the transaction-scoped advisory locks that serialise each stage.
SCHEMA_LOCK, INGEST_LOCK, CLEAN_LOCK = 7_301_001, 7_301_002, 7_301_003
PROMOTE_LOCK = 7_301_004
KEYS_LOCK = 7_301_005  # the inference API's key table: one create or registration at a time
# A raw batch is loaded, then either cleaned or quarantined (with the rules it broke).
LOADED, CLEANED, QUARANTINED = "loaded", "cleaned", "quarantined"
BATCH_STATES = (LOADED, CLEANED, QUARANTINED)

metadata = sa.MetaData()

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("row_start", sa.Integer, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("source_sha256", sa.Text, nullable=False),
    sa.Column("source_uri", sa.Text, nullable=False),
    sa.Column(
        "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("status", sa.Text, nullable=False, server_default=LOADED),
    # The broken contract rules of a quarantined batch; NULL otherwise.
    sa.Column(
        "problems", sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    ),
    sa.Column("status_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("row_start", name="batches_row_start_key"),
    sa.CheckConstraint(f"status IN {BATCH_STATES!r}", name="batches_status_check"),
    schema=RAW_SCHEMA,
)

diabetes_raw = sa.Table(
    "diabetes_raw",
    metadata,
    *(
        sa.Column(name, sa.Text, nullable=False, unique=(name == "encounter_id"))
        for name in contract.RAW_COLUMNS
    ),
    # No foreign key to the ledger: its per-row trigger would double the COPY time, and the
    # rows and their ledger row are written in one transaction anyway.
    sa.Column("batch_id", sa.Integer, nullable=False, index=True),
    sa.Column(
        "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    schema=RAW_SCHEMA,
)


def _clean_type(col: contract.Column) -> sa.types.TypeEngine:
    if col.kind is Kind.ID:
        return sa.BigInteger()
    if col.kind in (Kind.INTEGER, Kind.CODE):
        return sa.Integer()
    return sa.Text()


diabetes_clean = sa.Table(
    "diabetes_clean",
    metadata,
    *(
        sa.Column(
            c.name, _clean_type(c), nullable=c.nullable, primary_key=(c.name == "encounter_id")
        )
        for c in contract.COLUMNS
    ),
    sa.Column(contract.LABEL, sa.SmallInteger, nullable=False),
    sa.Column("split", sa.Text, nullable=False, index=True),
    sa.Column("batch_id", sa.Integer, nullable=False, index=True),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.CheckConstraint(f"split IN {SPLITS!r}", name="diabetes_clean_split_check"),
    sa.CheckConstraint(f"{contract.LABEL} IN (0, 1)", name="diabetes_clean_label_check"),
    schema=CLEAN_SCHEMA,
)

clean_batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("rows_in", sa.Integer, nullable=False),
    sa.Column("rows_out", sa.Integer, nullable=False),
    sa.Column("rows_dropped", sa.Integer, nullable=False),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    schema=CLEAN_SCHEMA,
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False, index=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("features", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("label", sa.SmallInteger, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    schema=SERVING_SCHEMA,
)

# diabetes_monitor: the PSI of each watched feature over the inference log, per check...
drift_reports = sa.Table(
    "drift_reports",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("feature", sa.Text, nullable=False),
    sa.Column("psi", sa.Float, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    schema=SERVING_SCHEMA,
)
# ... and each retrain it requested, with what training made of it.
retrain_requests = sa.Table(
    "retrain_requests",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text),  # set by the training run that answered it
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    schema=SERVING_SCHEMA,
)

# The inference API's keys for machine clients: only a hash of each key is stored.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),  # sha256 hex of the whole key
    sa.Column("key_prefix", sa.Text, nullable=False),  # its first characters, to recognise it
    sa.Column("scopes", sa.ARRAY(sa.Text), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    schema=SERVING_SCHEMA,
)


def make_engine(url: str, **options) -> Engine:
    """An engine for ``url`` (``options``: create_engine's); postgresql:// URLs use psycopg 3."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True, future=True, **options)


def read_table(conn: Connection, table: sa.Table, chunk_rows: int = 50_000) -> pd.DataFrame:
    """Every row of ``table`` as a frame, streamed ``chunk_rows`` at a time (a server-side
    cursor): the whole result set never exists as Python row tuples at once, which is what
    made reading 1.6 million rows peak at ~10 GB. Text columns are pandas strings and
    non-null integers int64 in every chunk, so the chunks concatenate to one dtype each."""
    dtypes = {
        c.name: "str" if isinstance(c.type, sa.Text) else "int64"
        for c in table.columns
        if isinstance(c.type, sa.Text) or (isinstance(c.type, sa.Integer) and not c.nullable)
    }
    chunks = pd.read_sql(
        sa.select(table),
        conn.execution_options(stream_results=True, max_row_buffer=chunk_rows),
        chunksize=chunk_rows,
        dtype=dtypes,
    )
    frames = list(chunks)
    if not frames:
        return pd.DataFrame({c.name: pd.Series(dtype=dtypes.get(c.name)) for c in table.columns})
    return pd.concat(frames, ignore_index=True)


def create_schema(engine: Engine, tables: list[sa.Table] | None = None) -> None:
    """Create the schemas and tables (all, or ``tables``) if missing; safe to run concurrently."""
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        for schema in (RAW_SCHEMA, CLEAN_SCHEMA, SERVING_SCHEMA):
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        metadata.create_all(conn, tables=tables, checkfirst=True)
        _upgrade(conn)


def _upgrade(conn: Connection) -> None:
    """Bring a database made by an earlier release up to this schema (idempotent).

    Batch states were added after the first release: the columns are added, and batches the
    clean ledger already holds are marked cleaned.
    """
    ledger = f'"{RAW_SCHEMA}"."{batches.name}"'
    columns = set(
        conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = :schema AND table_name = :table"
            ),
            {"schema": RAW_SCHEMA, "table": batches.name},
        ).scalars()
    )
    if not columns or "status" in columns:
        return  # not created here, or already up to date
    conn.execute(
        sa.text(f"ALTER TABLE {ledger} ADD COLUMN status text NOT NULL DEFAULT '{LOADED}'")
    )
    conn.execute(sa.text(f"ALTER TABLE {ledger} ADD COLUMN problems jsonb"))
    conn.execute(sa.text(f"ALTER TABLE {ledger} ADD COLUMN status_at timestamptz"))
    conn.execute(
        sa.text(
            f"ALTER TABLE {ledger} ADD CONSTRAINT batches_status_check "
            f"CHECK (status IN {BATCH_STATES!r})"
        )
    )
    conn.execute(
        sa.text(
            f"UPDATE {ledger} SET status = '{CLEANED}' WHERE batch_id IN "
            f'(SELECT batch_id FROM "{CLEAN_SCHEMA}"."{clean_batches.name}")'
        )
    )


@contextmanager
def locked(engine: Engine, key: int) -> Iterator[Connection]:
    """A transaction holding advisory lock ``key`` until the block ends."""
    with engine.begin() as conn:
        advisory_lock(conn, key)
        yield conn


def advisory_lock(conn: Connection, key: int) -> None:
    """Hold a transaction-scoped advisory lock (released at commit or rollback)."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def quoted(names: Iterable[str]) -> str:
    """A comma-separated list of double-quoted identifiers for hand-written SQL (COPY)."""
    return ", ".join('"' + n.replace('"', '""') + '"' for n in names)


@contextmanager
def copy_into(
    conn: Connection, table: sa.Table, columns: Iterable[str], fmt: str = "csv"
) -> Iterator:
    """A psycopg COPY ... FROM STDIN writer inside ``conn``'s open transaction: ``fmt`` "csv"
    takes ``write(text)``, "text" takes ``write_row(values)`` (psycopg adapts each value)."""
    statement = (
        f'COPY "{table.schema}"."{table.name}" ({quoted(columns)}) FROM STDIN WITH (FORMAT {fmt})'
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            yield copy
    finally:
        cursor.close()
