"""Objects on disk: immutable blob files named by random ids, and every piece of metadata in one SQLite database.

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
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from . import checksums
from .errors import OssError, invalid_argument, no_such_bucket, no_such_key, no_such_upload
from .events import Announcement, Delivery, FailedDelivery, PendingSink, Router

log = logging.getLogger(__name__)

MIN_PART_SIZE = 100 * 1024  # OSS: every part but the last must be at least 100 KB
MAX_PART_NUMBER = 10000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key BLOB NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    crc TEXT NOT NULL, mtime INTEGER NOT NULL, content_type TEXT NOT NULL, object_type TEXT NOT NULL,
    headers TEXT NOT NULL, user_meta TEXT NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, initiated INTEGER NOT NULL,
    content_type TEXT NOT NULL, headers TEXT NOT NULL, user_meta TEXT NOT NULL, tags TEXT NOT NULL
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
"""


def _ts(t: int) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _now_s() -> int:
    return int(datetime.now(timezone.utc).timestamp())


@dataclass(frozen=True)
class ObjectMeta:
    """Everything known about one stored object (the body is the blob file)."""

    bucket: str
    key: str
    blob: str
    size: int
    etag: str  # uppercase, unquoted
    crc: int
    mtime: datetime
    content_type: str
    object_type: str  # Normal | Multipart | Appendable
    headers: dict[str, str] = field(
        default_factory=dict
    )  # stored standard headers: Cache-Control, Content-Disposition...
    user_meta: dict[str, str] = field(default_factory=dict)  # full header names, lowercase: x-oss-meta-*
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListEntry:
    key: str
    size: int
    etag: str
    mtime: datetime
    object_type: str


@dataclass(frozen=True)
class Listing:
    contents: list[ListEntry]
    prefixes: list[str]
    truncated: bool
    next_marker: str  # last key or common prefix returned, "" if none


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    content_type: str
    headers: dict[str, str]
    user_meta: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class Part:
    part_number: int
    blob: str
    size: int
    md5: bytes
    crc: int
    mtime: datetime

    @property
    def etag(self) -> str:
        return checksums.etag_of_md5(self.md5)


@dataclass(frozen=True)
class Bucket:
    name: str
    created: datetime


class BlobWriter:
    """A body being received: streams to a temp file while computing size, MD5 and CRC-64."""

    def __init__(self, path: Path, *, fsync: bool, init_crc: int = 0, max_size: int | None = None) -> None:
        self.blob_id = path.name
        self.path = path
        self._fsync = fsync
        self._file: IO[bytes] | None = path.open("xb")
        self._md5: hashlib._Hash | None = hashlib.md5()  # None once stored blobs were appended unread
        self.crc = init_crc
        self.size = 0
        self._max_size = max_size

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise RuntimeError("write after finish")
        self.size += len(data)
        if self._max_size is not None and self.size > self._max_size:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        self._file.write(data)
        if self._md5 is not None:
            self._md5.update(data)
        self.crc = checksums.crc64_update(self.crc, data)

    @property
    def md5(self) -> bytes:
        if self._md5 is None:
            raise RuntimeError("no MD5: stored blobs were appended without reading them")
        return self._md5.digest()

    def append_blob(self, path: Path, size: int, crc: int) -> None:
        """Append a stored blob whose size and CRC-64 are known: the kernel copies the bytes where it can, the CRC is
        combined from the two (nothing is read to hash it), and the MD5 of the whole is no longer known."""
        if self._file is None:
            raise RuntimeError("write after finish")
        self._file.flush()
        out = self._file.fileno()
        src = os.open(path, os.O_RDONLY)
        try:
            copied = _copy_range(src, out, size)
            while copied < size and (chunk := os.read(src, min(1 << 20, size - copied))):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
                copied += len(chunk)
        finally:
            os.close(src)
        if copied != size:
            raise OSError(f"blob {path.name} holds {copied} bytes, {size} expected")
        self.size += size
        self.crc = checksums.crc64_combine(self.crc, crc, size)
        self._md5 = None

    def finish(self) -> None:
        """Make the bytes durable; after this the blob may be committed."""
        if self._file is not None:
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _dumps(d: Mapping[str, str]) -> str:
    return json.dumps(dict(d), ensure_ascii=False, sort_keys=True)


def _loads(s: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(s)
    return value


def _prefix_end(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with ``prefix`` (None if there is none)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return None


class Storage:
    """The data directory: buckets, objects, multipart uploads."""

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
        self._sweep()

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
        blob, size, etag, crc, mtime, ctype, otype, headers, meta, tags = row
        return ObjectMeta(
            bucket,
            key,
            blob,
            size,
            etag,
            int(crc),
            _ts(mtime),
            ctype,
            otype,
            _loads(headers),
            _loads(meta),
            _loads(tags),
        )

    _META_COLS = "blob, size, etag, crc, mtime, content_type, object_type, headers, user_meta, tags"

    # -- buckets ----------------------------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> bool:
        """Create ``name``; False if it already existed (OSS answers 200 to its owner either way)."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO buckets (name, created) VALUES (?, ?)", (name, _now_s()))
            return cur.rowcount == 1

    def get_bucket(self, name: str) -> Bucket:
        with self._lock:
            row = self._db.execute("SELECT created FROM buckets WHERE name=?", (name,)).fetchone()
        if row is None:
            raise no_such_bucket(name)
        return Bucket(name, _ts(row[0]))

    def list_buckets(self) -> list[Bucket]:
        with self._lock:
            rows = self._db.execute("SELECT name, created FROM buckets ORDER BY name").fetchall()
        return [Bucket(n, _ts(c)) for n, c in rows]

    def delete_bucket(self, name: str) -> None:
        with self._tx() as db:
            self._require_bucket(db, name)
            busy = (
                db.execute("SELECT 1 FROM objects WHERE bucket=? LIMIT 1", (name,)).fetchone()
                or db.execute("SELECT 1 FROM uploads WHERE bucket=? LIMIT 1", (name,)).fetchone()
            )
            if busy:
                raise OssError(
                    409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", extra={"BucketName": name}
                )
            db.execute("DELETE FROM buckets WHERE name=?", (name,))

    # -- objects ----------------------------------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectMeta:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._META_COLS} FROM objects WHERE bucket=? AND key=?", (bucket, key.encode())
            ).fetchone()
            if row is None:
                self._require_bucket(self._db, bucket)
                raise no_such_key(key)
        return self._row_to_meta(bucket, key, row)

    def open(self, bucket: str, key: str) -> tuple[ObjectMeta, IO[bytes]]:
        """Metadata plus an open handle on the body; the handle stays valid even if the key is overwritten meanwhile."""
        with self._lock:
            meta = self.head(bucket, key)
            return meta, self._blob_path(meta.blob).open("rb")

    def blob_path(self, meta: ObjectMeta) -> Path:
        return self._blob_path(meta.blob)

    def commit_object(
        self,
        bucket: str,
        key: str,
        w: BlobWriter,
        *,
        content_type: str,
        headers: Mapping[str, str],
        user_meta: Mapping[str, str],
        tags: Mapping[str, str],
        object_type: str = "Normal",
        etag: str | None = None,
        forbid_overwrite: bool = False,
        must_not_exist: OssError | None = None,
        announce: Announcement | None = None,
    ) -> ObjectMeta:
        """Make a received body the object ``bucket/key`` (last writer wins); ``announce``: its event, see ``router``."""
        blob = self._install(w)
        meta = ObjectMeta(
            bucket, key, blob, w.size, etag or checksums.etag_of_md5(w.md5), w.crc,
            _ts(_now_s()), content_type, object_type, dict(headers), dict(user_meta), dict(tags),
        )  # fmt: skip
        try:
            return self._upsert(meta, forbid_overwrite=forbid_overwrite, must_not_exist=must_not_exist,
                                announce=announce)  # fmt: skip
        except BaseException:
            self._unlink_blob(blob)
            raise

    def _upsert(
        self, meta: ObjectMeta, *, forbid_overwrite: bool = False, must_not_exist: OssError | None = None,
        announce: Announcement | None = None,
    ) -> ObjectMeta:  # fmt: skip
        with self._lock:
            with self._tx() as db:
                stale = self._write_row(db, meta, forbid_overwrite=forbid_overwrite, must_not_exist=must_not_exist)
                pending = self._record_deliveries(db, meta, announce)
            if stale:
                self._unlink_blob(stale)  # after COMMIT, still under the lock that readers open blobs under
        self._announce_pending(pending)
        return meta

    def _write_row(
        self, db: sqlite3.Connection, meta: ObjectMeta, *, forbid_overwrite: bool = False,
        must_not_exist: OssError | None = None,
    ) -> str | None:  # fmt: skip
        """Point ``meta.key`` at ``meta.blob`` inside a transaction; returns the blob it replaced, to unlink after commit."""
        self._require_bucket(db, meta.bucket)
        row = db.execute(
            "SELECT blob FROM objects WHERE bucket=? AND key=?", (meta.bucket, meta.key.encode())
        ).fetchone()
        if row is not None and forbid_overwrite:
            raise OssError(
                409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten."
            )
        if row is not None and must_not_exist is not None:
            raise must_not_exist
        db.execute(
            f"INSERT OR REPLACE INTO objects (bucket, key, {self._META_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                meta.bucket, meta.key.encode(), meta.blob, meta.size, meta.etag, str(meta.crc),
                int(meta.mtime.timestamp()), meta.content_type, meta.object_type,
                _dumps(meta.headers), _dumps(meta.user_meta), _dumps(meta.tags),
            ),
        )  # fmt: skip
        return str(row[0]) if row is not None and row[0] != meta.blob else None

    def append(
        self, bucket: str, key: str, position: int, w: BlobWriter, *, expected: ObjectMeta,
        announce: Announcement | None = None,
    ) -> ObjectMeta:  # fmt: skip
        """Add the bytes of ``w`` (a temp blob whose CRC was seeded with ``expected.crc``) to an appendable object."""
        w.finish()
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._META_COLS} FROM objects WHERE bucket=? AND key=?", (bucket, key.encode())
            ).fetchone()
            if row is None:
                self._require_bucket(db, bucket)
                raise no_such_key(key)
            current = self._row_to_meta(bucket, key, row)
            if current.blob != expected.blob or current.size != position:
                raise position_not_equal(current.size, current.crc)
            path = self._blob_path(current.blob)
            with path.open("r+b") as dst, w.path.open("rb") as src:
                dst.truncate(current.size)  # drop bytes of an append that died before committing
                dst.seek(current.size)
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                dst.flush()
                if self.fsync:
                    os.fsync(dst.fileno())
            size = current.size + w.size
            new = ObjectMeta(
                bucket, key, current.blob, size, appendable_etag(w.crc, size), w.crc, _ts(_now_s()),
                current.content_type, "Appendable", current.headers, current.user_meta, current.tags,
            )  # fmt: skip
            db.execute(
                "UPDATE objects SET size=?, etag=?, crc=?, mtime=? WHERE bucket=? AND key=?",
                (new.size, new.etag, str(new.crc), int(new.mtime.timestamp()), bucket, key.encode()),
            )
            pending = self._record_deliveries(db, new, announce)
        w.discard()
        self._announce_pending(pending)
        return new

    def delete(self, bucket: str, key: str) -> None:
        self.delete_many(bucket, [key])

    def delete_many(self, bucket: str, keys: Sequence[str]) -> None:
        stale: list[str] = []
        with self._lock:
            with self._tx() as db:
                self._require_bucket(db, bucket)
                for key in keys:
                    row = db.execute(
                        "SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, key.encode())
                    ).fetchone()
                    if row is not None:
                        db.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key.encode()))
                        stale.append(row[0])
            for b in stale:
                self._unlink_blob(b)

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        with self._tx() as db:
            cur = db.execute("UPDATE objects SET tags=? WHERE bucket=? AND key=?", (_dumps(tags), bucket, key.encode()))
            if cur.rowcount == 0:
                self._require_bucket(db, bucket)
                raise no_such_key(key)

    def list_objects(self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int) -> Listing:
        """Keys (and common prefixes, if ``delimiter``) after ``after`` in UTF-8 byte order, at most ``max_keys``."""
        pfx = prefix.encode()
        dlm = delimiter.encode()
        end = _prefix_end(pfx) if pfx else None
        cursor = after.encode()  # strictly greater than this
        inclusive_start = pfx  # keys >= prefix
        contents: list[ListEntry] = []
        prefixes: list[str] = []
        last = b""
        with self._lock:
            self._require_bucket(self._db, bucket)
            while True:
                lo, op = (cursor, ">") if cursor >= inclusive_start else (inclusive_start, ">=")
                sql = f"SELECT key, size, etag, mtime, object_type FROM objects WHERE bucket=? AND key {op} ?"
                args: list[Any] = [bucket, lo]
                if end is not None:
                    sql += " AND key < ?"
                    args.append(end)
                batch = max_keys - len(contents) - len(prefixes) + 1
                rows = self._db.execute(sql + " ORDER BY key LIMIT ?", [*args, batch if not dlm else 256]).fetchall()
                if not rows:
                    return Listing(contents, prefixes, False, last.decode())
                jumped = False
                for k, size, etag, mtime, otype in rows:
                    if len(contents) + len(prefixes) >= max_keys:
                        return Listing(contents, prefixes, True, last.decode())
                    cut = k.find(dlm, len(pfx)) if dlm else -1
                    if cut >= 0:
                        common = k[: cut + len(dlm)]
                        nxt = _prefix_end(common)
                        if common > cursor:  # a marker inside this prefix means it was already returned
                            prefixes.append(common.decode())
                            last = common
                        if nxt is None:
                            return Listing(contents, prefixes, False, last.decode())
                        cursor, inclusive_start = b"", nxt
                        jumped = True
                        break
                    contents.append(ListEntry(k.decode(), size, etag, _ts(mtime), otype))
                    last = cursor = k
                if not jumped and len(rows) < (batch if not dlm else 256):
                    return Listing(contents, prefixes, False, last.decode())

    # -- pending deliveries -----------------------------------------------------------------------------------------

    def _record_deliveries(
        self, db: sqlite3.Connection, meta: ObjectMeta, announce: Announcement | None
    ) -> list[Delivery]:
        """Inside the object's transaction: the deliveries its notice makes, stored (an error rolls the object back)."""
        if announce is None or self.router is None:
            return []
        notice = announce.notice(meta.bucket, meta.key, meta.size, meta.etag, meta.content_type, meta.user_meta)
        stored = []
        for d in self.router(notice):
            cur = db.execute(
                "INSERT INTO deliveries (target, source, request_id, payload, created) VALUES (?,?,?,?,?)",
                (d.target, d.source, d.request_id, d.payload, _now_s()),
            )
            stored.append(dataclasses.replace(d, id=int(cur.lastrowid or 0)))
        return stored

    def _announce_pending(self, pending: list[Delivery]) -> None:
        """After the commit: hand the new deliveries over; if that fails they stay pending for the next start."""
        if pending and self.on_pending is not None:
            try:
                self.on_pending(pending)
            except Exception:
                log.exception("local OSS: %d pending deliveries not handed over now; kept for replay", len(pending))

    def pending_deliveries(self) -> list[Delivery]:
        """Every delivery not yet done, oldest first (what a restart replays)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, source, request_id, payload FROM deliveries ORDER BY id"
            ).fetchall()
        return [Delivery(t, s, r, bytes(p), id=i) for i, t, s, r, p in rows]

    def finish_delivery(self, delivery_id: int) -> None:
        """The receiver got it: forget it."""
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE id=?", (delivery_id,))

    def fail_delivery(self, delivery_id: int, error: str) -> None:
        """Retries ran out: move it to the failed deliveries, with the last error."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO failed_deliveries (id, target, source, request_id, payload, error, failed) "
                "SELECT id, target, source, request_id, payload, ?, ? FROM deliveries WHERE id=?",
                (error, _now_s(), delivery_id),
            )
            db.execute("DELETE FROM deliveries WHERE id=?", (delivery_id,))

    def failed_deliveries(self) -> list[FailedDelivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, source, request_id, payload, error, failed FROM failed_deliveries ORDER BY id"
            ).fetchall()
        return [FailedDelivery(i, t, s, r, bytes(p), e, _ts(f)) for i, t, s, r, p, e, f in rows]

    # -- multipart --------------------------------------------------------------------------------------------------

    def init_upload(
        self, bucket: str, key: str, *, content_type: str, headers: Mapping[str, str],
        user_meta: Mapping[str, str], tags: Mapping[str, str],
    ) -> str:  # fmt: skip
        upload_id = uuid.uuid4().hex.upper()
        with self._tx() as db:
            self._require_bucket(db, bucket)
            db.execute(
                "INSERT INTO uploads VALUES (?,?,?,?,?,?,?,?)",
                (
                    upload_id,
                    bucket,
                    key.encode(),
                    _now_s(),
                    content_type,
                    _dumps(headers),
                    _dumps(user_meta),
                    _dumps(tags),
                ),
            )
        return upload_id

    def _get_upload(self, db: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> Upload:
        row = db.execute(
            "SELECT initiated, content_type, headers, user_meta, tags FROM uploads WHERE upload_id=? AND bucket=? AND key=?",
            (upload_id, bucket, key.encode()),
        ).fetchone()
        if row is None:
            self._require_bucket(db, bucket)
            raise no_such_upload(upload_id)
        return Upload(upload_id, bucket, key, _ts(row[0]), row[1], _loads(row[2]), _loads(row[3]), _loads(row[4]))

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        with self._lock:
            return self._get_upload(self._db, bucket, key, upload_id)

    def put_part(self, bucket: str, key: str, upload_id: str, part_number: int, w: BlobWriter) -> Part:
        blob = self._install(w)
        part = Part(part_number, blob, w.size, w.md5, w.crc, _ts(_now_s()))
        try:
            with self._lock:
                with self._tx() as db:
                    self._get_upload(db, bucket, key, upload_id)
                    row = db.execute(
                        "SELECT blob FROM parts WHERE upload_id=? AND part_number=?", (upload_id, part_number)
                    ).fetchone()
                    db.execute(
                        "INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?,?)",
                        (upload_id, part_number, blob, part.size, part.md5, str(part.crc), int(part.mtime.timestamp())),
                    )
                if row is not None:
                    self._unlink_blob(row[0])
        except BaseException:
            self._unlink_blob(blob)
            raise
        return part

    def list_parts(self, bucket: str, key: str, upload_id: str) -> tuple[Upload, list[Part]]:
        with self._lock:
            upload = self._get_upload(self._db, bucket, key, upload_id)
            rows = self._db.execute(
                "SELECT part_number, blob, size, md5, crc, mtime FROM parts WHERE upload_id=? ORDER BY part_number",
                (upload_id,),
            ).fetchall()
        return upload, [Part(n, b, s, m, int(c), _ts(t)) for n, b, s, m, c, t in rows]

    def list_uploads(self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str) -> list[Upload]:
        with self._lock:
            self._require_bucket(self._db, bucket)
            rows = self._db.execute(
                "SELECT upload_id, key, initiated, content_type, headers, user_meta, tags FROM uploads "
                "WHERE bucket=? AND (key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, upload_id",
                (bucket, key_marker.encode(), key_marker.encode(), upload_id_marker),
            ).fetchall()
        out = []
        for uid, k, init, ctype, headers, meta, tags in rows:
            key = bytes(k).decode()
            if key.startswith(prefix):
                out.append(Upload(uid, bucket, key, _ts(init), ctype, _loads(headers), _loads(meta), _loads(tags)))
        return out

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, chosen: Sequence[tuple[int, str]] | None, *,
        forbid_overwrite: bool, announce: Announcement | None = None,
    ) -> ObjectMeta:  # fmt: skip
        """Concatenate the chosen parts (all parts if None) into the object; the upload is gone afterwards."""
        upload, parts = self.list_parts(bucket, key, upload_id)
        by_number = {p.part_number: p for p in parts}
        if chosen is None:
            selected = parts
        else:
            selected = []
            previous = 0
            for number, etag in chosen:
                if number <= previous:
                    raise OssError(400, "InvalidPartOrder", "The list of parts was not in ascending order. "
                                   "The parts list must be specified in order by part number.")  # fmt: skip
                previous = number
                part = by_number.get(number)
                if part is None or part.etag != etag.strip().strip('"').upper():
                    raise OssError(400, "InvalidPart", "One or more of the specified parts could not be found or the "
                                   "specified entity tag might not have matched the part's entity tag.",
                                   extra={"PartNumber": str(number), "ETag": etag})  # fmt: skip
                selected.append(part)
        if not selected:
            raise invalid_argument("The multipart upload must contain at least one part.")
        for part in selected[:-1]:
            if part.size < MIN_PART_SIZE:
                raise OssError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.",
                               extra={"PartNumber": str(part.part_number), "MinSizeAllowed": str(MIN_PART_SIZE)})  # fmt: skip
        w = self.new_writer()
        try:
            for part in selected:  # the object's CRC-64 is combined from the parts' own, not computed again
                w.append_blob(self._blob_path(part.blob), part.size, part.crc)
            blob = self._install(w)
        except BaseException:
            w.discard()
            raise
        meta = ObjectMeta(
            bucket, key, blob, w.size, checksums.multipart_etag(p.md5 for p in selected), w.crc, _ts(_now_s()),
            upload.content_type, "Multipart", upload.headers, upload.user_meta, upload.tags,
        )  # fmt: skip
        try:
            with self._lock:
                with self._tx() as db:  # the object appears and the upload disappears in one transaction
                    self._get_upload(db, bucket, key, upload_id)  # a concurrent abort/complete wins
                    stale = self._write_row(db, meta, forbid_overwrite=forbid_overwrite)
                    part_blobs = self._drop_upload(db, upload_id)
                    pending = self._record_deliveries(db, meta, announce)
                for b in [*part_blobs, *([stale] if stale else [])]:
                    self._unlink_blob(b)
        except BaseException:
            self._unlink_blob(blob)
            raise
        self._announce_pending(pending)
        return meta

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        with self._lock:
            with self._tx() as db:
                self._get_upload(db, bucket, key, upload_id)
                blobs = self._drop_upload(db, upload_id)
            for b in blobs:
                self._unlink_blob(b)

    def _drop_upload(self, db: sqlite3.Connection, upload_id: str) -> list[str]:
        blobs = [str(r[0]) for r in db.execute("SELECT blob FROM parts WHERE upload_id=?", (upload_id,))]
        db.execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))
        db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        return blobs


def _copy_range(src: int, dst: int, size: int) -> int:
    """Copy up to ``size`` bytes from ``src``'s offset to ``dst``'s inside the kernel (``copy_file_range``, Linux) and
    say how many it copied: 0 where the system cannot (the caller copies the rest through user space)."""
    copy = getattr(os, "copy_file_range", None)
    copied = 0
    if copy is None:
        return copied
    try:
        while copied < size:
            n = copy(src, dst, size - copied)
            if n == 0:
                break
            copied += n
    except OSError:  # unsupported here (file system, kernel, sandbox): the offsets moved by what was copied
        pass
    return copied


def appendable_etag(crc: int, size: int) -> str:
    """OSS does not give appendable objects an MD5 ETag; ours is derived from the CRC and size, so it changes with each append."""
    return hashlib.md5(f"{crc}:{size}".encode()).hexdigest().upper()


def position_not_equal(size: int, crc: int) -> OssError:
    return OssError(
        409,
        "PositionNotEqualToLength",
        "Position is not equal to file length",
        headers={"x-oss-next-append-position": str(size), "x-oss-hash-crc64ecma": str(crc)},
    )
