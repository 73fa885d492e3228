"""API keys for machine clients: named, scoped, revocable, stored as a SHA-256 hash only.

A key is ``rk_`` and 43 random URL-safe characters (256 bits): a fast hash is enough for a
secret of that entropy (as GitHub's tokens), so each lookup is one indexed query. A lookup is
fresh for ``cache_seconds`` (0.5 s) and may serve up to twice that while one refresh runs
(auth.py): a revoked key is refused within a second on every replica, and ``last_used_at`` is
written about once per ``cache_seconds`` per key and replica.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

import sqlalchemy as sa
from readmission import db

log = logging.getLogger(__name__)
PREFIX = "rk_"
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # a key's name (the admin route's body checks it too)
Scope = Literal["predict", "read", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)


class KeyRequestError(ValueError):
    """A key that cannot be created or revoked as asked (the message says why)."""


@dataclass(frozen=True)
class KeyRecord:
    name: str
    scopes: tuple[str, ...]
    prefix: str = ""
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise KeyRequestError(f"scopes must be among {', '.join(SCOPES)} (got {', '.join(scopes)})")
    return tuple(s for s in SCOPES if s in scopes)


class KeyStore:
    """``serving.api_keys`` through one pooled engine, with a short lookup cache."""

    def __init__(self, url: str, cache_seconds: float = 0.5, cache_size: int = 10_000):
        # A database that does not answer costs a request at most 3 s, once per cache period.
        self.engine = db.make_engine(url, connect_args={"connect_timeout": 3})
        self.cache_seconds, self.cache_size = cache_seconds, cache_size
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        # The last answer for each key that was live, used only while the database is down
        # (serving goes on; a revocation is seen again once it is back).
        self._last_good: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            db.create_schema(self.engine, tables=[db.api_keys])
            self._ready = True

    def peek(self, hashed: str) -> tuple[float, KeyRecord | None]:
        """(seconds since the key of this hash was looked up — inf if never —, the answer)."""
        hit = self._cache.get(hashed)
        return (math.inf, None) if hit is None else (time.monotonic() - hit[0], hit[1])

    def lookup(self, hashed: str) -> KeyRecord | None:
        """The live key's record (its last use stamped), or None; blocking: call off the loop.
        With the database down, a key known to be live before is still taken."""
        try:
            record = self._stamp(hashed)
        except sa.exc.SQLAlchemyError:
            record = self._last_good.get(hashed)
            if record is None:
                raise
        with self._lock:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[hashed] = (time.monotonic(), record)
            if record is None:
                self._last_good.pop(hashed, None)
            elif len(self._last_good) < self.cache_size:
                self._last_good[hashed] = record
        return record

    def _stamp(self, hashed: str) -> KeyRecord | None:
        self._ensure()
        table = db.api_keys
        stamp = (
            sa.update(table)
            .where(table.c.key_hash == hashed, table.c.revoked_at.is_(None))
            .values(last_used_at=sa.func.now())
            .returning(table.c.name, table.c.scopes)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stamp).first()
        return KeyRecord(row.name, tuple(row.scopes)) if row else None

    def remember(self, name: str, key: str, scopes: list[str]) -> None:
        """A deployment's service key, usable while the database is down from the start."""
        self._last_good[digest(key)] = KeyRecord(name, check_scopes(scopes))

    def create(self, name: str, scopes: list[str], key: str | None = None) -> str:
        """Store a new key under ``name`` (a revoked one of that name is replaced); return it."""
        self._ensure()
        scopes, key = check_scopes(scopes), key or new_key()
        table = db.api_keys
        with self.engine.begin() as conn:
            db.advisory_lock(conn, db.KEYS_LOCK)  # two creates of one name: the second is told
            live = conn.execute(
                sa.select(table.c.name).where(table.c.name == name, table.c.revoked_at.is_(None))
            ).first()
            if live:
                raise KeyRequestError(f"a live key named {name!r} exists: revoke it first")
            conn.execute(sa.delete(table).where(table.c.name == name))
            conn.execute(sa.insert(table).values(**_row(name, key, scopes)))
        return key

    def ensure(self, name: str, key: str, scopes: list[str]) -> bool:
        """A service key given by the deployment: stored (or replaced when its value or scopes
        changed); one revoked with the same value stays revoked. True when written."""
        self._ensure()
        scopes, table = check_scopes(scopes), db.api_keys
        with self.engine.begin() as conn:
            db.advisory_lock(conn, db.KEYS_LOCK)
            row = conn.execute(sa.select(table).where(table.c.name == name)).first()
            if row and row.key_hash == digest(key) and tuple(row.scopes) == scopes:
                return False
            conn.execute(sa.delete(table).where(table.c.name == name))
            conn.execute(sa.insert(table).values(**_row(name, key, scopes)))
        return True

    def revoke(self, name: str) -> None:
        self._ensure()
        table = db.api_keys
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(table)
                .where(table.c.name == name, table.c.revoked_at.is_(None))
                .values(revoked_at=sa.func.now())
            ).rowcount
        if not done:
            raise KeyRequestError(f"no live key named {name!r}")

    def list(self) -> list[KeyRecord]:
        self._ensure()
        table = db.api_keys
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.name)).all()
        return [
            KeyRecord(
                r.name, tuple(r.scopes), r.key_prefix, r.created_at, r.last_used_at, r.revoked_at
            )
            for r in rows
        ]


def _row(name: str, key: str, scopes: tuple[str, ...]) -> dict:
    if not re.match(NAME_PATTERN, name):
        raise KeyRequestError("a key's name is 1-64 letters, digits, '-' or '_'")
    return {
        "name": name,
        "key_hash": digest(key),
        "key_prefix": key[: len(PREFIX) + 4],
        "scopes": list(scopes),
        "created_at": datetime.now(UTC),
    }


def register_in_background(
    store: KeyStore, keys: list[tuple[str, str, list[str]]]
) -> threading.Event:
    """Store the deployment's service keys; retried every 5 s while the database is down.
    The event is set after the first attempt (the app waits for it a few seconds at start)."""
    attempted = threading.Event()
    for name, key, scopes in keys:
        store.remember(name, key, scopes)

    def run() -> None:
        pending = list(keys)
        while pending:
            try:
                for name, key, scopes in list(pending):
                    if store.ensure(name, key, scopes):
                        log.info("service credential %r registered (scopes %s)", name, scopes)
                    pending.remove((name, key, scopes))
            except KeyRequestError as exc:
                log.error("service credential not registered: %s", exc)
                pending = []
            except Exception as exc:  # the database is not up yet
                log.warning("service credentials not registered yet (%s); retrying", exc)
                attempted.set()
                time.sleep(5)
        attempted.set()

    threading.Thread(target=run, name="service-keys", daemon=True).start()
    return attempted
