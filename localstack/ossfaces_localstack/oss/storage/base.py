"""The storage's plumbing. Objects on disk: immutable blob files named by random ids, and every piece of metadata in one SQLite database.

Why this layout:
- A key is never used as a path.  Bodies live in ``blobs/<2 hex>/<32 hex>``, so any valid key (``..``, ``%``, control
  characters, a key that is also a prefix of another) stays inside the data directory.
- A write streams into ``tmp/``, is fsynced and renamed into ``blobs/`` and only then becomes visible through one SQLite
  transaction that points the key at the new blob.  A process killed at any moment leaves either the old object or the
  new one, never a torn body; unreferenced blobs and temp files are swept at start-up.
- Body and metadata cannot disagree: the row names the blob, and a blob is never modified after it is referenced
  (appends only add bytes past the recorded size, which readers never look at).
- Keys are stored as BLOBs of their UTF-8 bytes, so ``ORDER BY key`` is OSS's byte order and prefix ranges are
  index range scans: listing 100k keys is a handful of indexed queries.

Pending deliveries (the event notifications of created objects) live in the same database: when a ``router`` is
set, every object-created commit asks it which deliveries the new object's notice makes and writes them in the object's
own transaction (table ``deliveries``). The object and its events exist together or not at all, across kill -9; a
delivered one is deleted, one whose retries ran out moves to ``failed_deliveries``; a restart replays the rest.

All methods are synchronous and thread-safe (one connection behind one lock); the server calls them from worker
threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import no_such_bucket
from ..events import PendingSink, Router
from .blobs import BlobWriter
from .records import ObjectAttrs, ObjectMeta, loads, ts

log = logging.getLogger("ossfaces_localstack.oss.storage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key BLOB NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    crc TEXT NOT NULL, mtime INTEGER NOT NULL, content_type TEXT NOT NULL, object_type TEXT NOT NULL,
    headers TEXT NOT NULL, user_meta TEXT NOT NULL, tags TEXT NOT NULL, attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, initiated INTEGER NOT NULL,
    content_type TEXT NOT NULL, headers TEXT NOT NULL, user_meta TEXT NOT NULL, tags TEXT NOT NULL,
    attrs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, source TEXT NOT NULL, request_id TEXT NOT NULL,
    payload BLOB NOT NULL, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS failed_deliveries (
    id INTEGER PRIMARY KEY, target TEXT NOT NULL, source TEXT NOT NULL, request_id TEXT NOT NULL,
    payload BLOB NOT NULL, error TEXT NOT NULL, failed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    md5 BLOB NOT NULL, crc TEXT NOT NULL, mtime INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inventories (
    bucket TEXT NOT NULL, id TEXT NOT NULL, config TEXT NOT NULL,
    PRIMARY KEY (bucket, id)
) WITHOUT ROWID;
"""


class StoreBase:
    """The data directory: one SQLite connection behind one lock, the blob files, and what a killed process left."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.router: Router | None = None  # the notice of a created object → its pending deliveries (in the tx)
        self.on_pending: PendingSink | None = None  # told of new pending deliveries after their commit
        self.root = Path(data_dir)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.fsync = fsync
        for d in (self.root, self.blobs, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.root / "meta.sqlite3"), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._sweep()

    def _migrate(self) -> None:
        """Bring a data directory written by an older version up to the current schema (columns added since)."""
        for table in ("objects", "uploads"):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "attrs" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN attrs TEXT NOT NULL DEFAULT '{{}}'")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ---------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _blob_path(self, blob: str) -> Path:
        return self.blobs / blob[:2] / blob

    def _unlink_blob(self, blob: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._blob_path(blob).unlink()

    def _sweep(self) -> None:
        """Remove what a killed process left behind: temp files and blobs no row refers to."""
        for p in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                p.unlink()
        with self._lock:
            live = {r[0] for r in self._db.execute("SELECT blob FROM objects UNION ALL SELECT blob FROM parts")}
        removed = 0
        for sub in self.blobs.iterdir():
            for p in sub.iterdir():
                if p.name not in live:
                    with contextlib.suppress(OSError):
                        p.unlink()
                        removed += 1
        if removed:
            log.info("removed %d unreferenced blob(s) left by an interrupted write", removed)

    def new_writer(self, *, init_crc: int = 0, max_size: int | None = None) -> BlobWriter:
        return BlobWriter(self.tmp / uuid.uuid4().hex, fsync=self.fsync, init_crc=init_crc, max_size=max_size)

    def _install(self, w: BlobWriter) -> str:
        """Move a finished temp blob into ``blobs/``; it stays garbage until a row refers to it."""
        w.finish()
        dest = self._blob_path(w.blob_id)
        dest.parent.mkdir(exist_ok=True)
        w.path.replace(dest)
        if self.fsync:
            fd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return w.blob_id

    def _require_bucket(self, db: sqlite3.Connection, bucket: str) -> None:
        if db.execute("SELECT 1 FROM buckets WHERE name=?", (bucket,)).fetchone() is None:
            raise no_such_bucket(bucket)

    @staticmethod
    def _row_to_meta(bucket: str, key: str, row: Sequence[Any]) -> ObjectMeta:
        blob, size, etag, crc, mtime, ctype, otype, headers, meta, tags, attrs = row
        return ObjectMeta(
            bucket, key, blob, size, etag, int(crc), ts(mtime), ctype, otype,
            loads(headers), loads(meta), loads(tags), ObjectAttrs.from_json(attrs),
        )  # fmt: skip

    _META_COLS = "blob, size, etag, crc, mtime, content_type, object_type, headers, user_meta, tags, attrs"
