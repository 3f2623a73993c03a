"""Buckets, objects and listings: every write is one transaction pointing a key at an installed blob."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from .. import checksums
from ..errors import OssError, no_such_bucket, no_such_key
from ..events import Announcement
from .blobs import BlobWriter
from .deliveries import DeliveryStore
from .records import Bucket, ListEntry, Listing, ObjectAttrs, ObjectMeta, dumps, now_s, ts


def _prefix_end(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with ``prefix`` (None if there is none)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return None


class ObjectStore(DeliveryStore):
    """Buckets and the objects in them."""

    # -- buckets ----------------------------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> bool:
        """Create ``name``; False if it already existed (OSS answers 200 to its owner either way)."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO buckets (name, created) VALUES (?, ?)", (name, now_s()))
            return cur.rowcount == 1

    def get_bucket(self, name: str) -> Bucket:
        with self._lock:
            row = self._db.execute("SELECT created FROM buckets WHERE name=?", (name,)).fetchone()
        if row is None:
            raise no_such_bucket(name)
        return Bucket(name, ts(row[0]))

    def list_buckets(self) -> list[Bucket]:
        with self._lock:
            rows = self._db.execute("SELECT name, created FROM buckets ORDER BY name").fetchall()
        return [Bucket(n, ts(c)) for n, c in rows]

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
            db.execute("DELETE FROM inventories WHERE bucket=?", (name,))

    # -- objects ----------------------------------------------------------------------------------------------------

    def _meta_in(self, db: sqlite3.Connection, bucket: str, key: str) -> ObjectMeta:
        """The object's metadata as ``db`` sees it (a transaction, or the shared connection under the lock)."""
        row = db.execute(
            f"SELECT {self._META_COLS} FROM objects WHERE bucket=? AND key=?", (bucket, key.encode())
        ).fetchone()
        if row is None:
            self._require_bucket(db, bucket)
            raise no_such_key(key)
        return self._row_to_meta(bucket, key, row)

    def head(self, bucket: str, key: str) -> ObjectMeta:
        with self._lock:
            return self._meta_in(self._db, bucket, key)

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
        attrs: ObjectAttrs | None = None,
        forbid_overwrite: bool = False,
        must_not_exist: OssError | None = None,
        announce: Announcement | None = None,
    ) -> ObjectMeta:
        """Make a received body the object ``bucket/key`` (last writer wins); ``announce``: its event, see ``router``."""
        blob = self._install(w)
        meta = ObjectMeta(
            bucket, key, blob, w.size, etag or checksums.etag_of_md5(w.md5), w.crc,
            ts(now_s()), content_type, object_type, dict(headers), dict(user_meta), dict(tags), attrs or ObjectAttrs(),
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
            f"INSERT OR REPLACE INTO objects (bucket, key, {self._META_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                meta.bucket, meta.key.encode(), meta.blob, meta.size, meta.etag, str(meta.crc),
                int(meta.mtime.timestamp()), meta.content_type, meta.object_type,
                dumps(meta.headers), dumps(meta.user_meta), dumps(meta.tags), meta.attrs.to_json(),
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
            current = self._meta_in(db, bucket, key)
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
            new = replace(current, size=size, etag=appendable_etag(w.crc, size), crc=w.crc, mtime=ts(now_s()))
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

    def update_attrs(self, bucket: str, key: str, change: Callable[[ObjectMeta], ObjectAttrs]) -> ObjectAttrs:
        """Replace an object's attributes by ``change(current meta)`` in one transaction (ACL, restore); the body and
        its events are untouched. ``change`` may raise to refuse."""
        with self._tx() as db:
            attrs = change(self._meta_in(db, bucket, key))
            db.execute("UPDATE objects SET attrs=? WHERE bucket=? AND key=?", (attrs.to_json(), bucket, key.encode()))
        return attrs

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        with self._tx() as db:
            cur = db.execute("UPDATE objects SET tags=? WHERE bucket=? AND key=?", (dumps(tags), bucket, key.encode()))
            if cur.rowcount == 0:
                self._require_bucket(db, bucket)
                raise no_such_key(key)

    def scan(self, bucket: str, *, prefix: str, after: str, limit: int) -> list[ObjectMeta]:
        """Full metadata of up to ``limit`` objects under ``prefix`` after ``after``, in key order (inventory reports)."""
        pfx = prefix.encode()
        end = _prefix_end(pfx) if pfx else None
        lo, op = (after.encode(), ">") if after.encode() >= pfx else (pfx, ">=")
        sql = f"SELECT key, {self._META_COLS} FROM objects WHERE bucket=? AND key {op} ?"
        args: list[Any] = [bucket, lo]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        with self._lock:
            self._require_bucket(self._db, bucket)
            rows = self._db.execute(sql + " ORDER BY key LIMIT ?", [*args, limit]).fetchall()
        return [self._row_to_meta(bucket, bytes(row[0]).decode(), row[1:]) for row in rows]

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
                sql = f"SELECT key, size, etag, mtime, object_type, attrs FROM objects WHERE bucket=? AND key {op} ?"
                args: list[Any] = [bucket, lo]
                if end is not None:
                    sql += " AND key < ?"
                    args.append(end)
                batch = max_keys - len(contents) - len(prefixes) + 1
                rows = self._db.execute(sql + " ORDER BY key LIMIT ?", [*args, batch if not dlm else 256]).fetchall()
                if not rows:
                    return Listing(contents, prefixes, False, last.decode())
                jumped = False
                for k, size, etag, mtime, otype, attrs in rows:
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
                    contents.append(ListEntry(k.decode(), size, etag, ts(mtime), otype, ObjectAttrs.from_json(attrs)))
                    last = cursor = k
                if not jumped and len(rows) < (batch if not dlm else 256):
                    return Listing(contents, prefixes, False, last.decode())


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
