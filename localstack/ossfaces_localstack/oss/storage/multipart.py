"""Multipart uploads: parts are installed blobs of their own; completing concatenates them into the object in one
transaction that also drops the upload."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping, Sequence

from .. import checksums
from ..errors import OssError, invalid_argument, no_such_upload
from ..events import Announcement
from .blobs import BlobWriter
from .objects import ObjectStore
from .records import ObjectMeta, Part, Upload, dumps, loads, now_s, ts

MIN_PART_SIZE = 100 * 1024  # OSS: every part but the last must be at least 100 KB
MAX_PART_NUMBER = 10000


class MultipartStore(ObjectStore):
    """The ``uploads`` and ``parts`` tables."""

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
                    now_s(),
                    content_type,
                    dumps(headers),
                    dumps(user_meta),
                    dumps(tags),
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
        return Upload(upload_id, bucket, key, ts(row[0]), row[1], loads(row[2]), loads(row[3]), loads(row[4]))

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        with self._lock:
            return self._get_upload(self._db, bucket, key, upload_id)

    def put_part(self, bucket: str, key: str, upload_id: str, part_number: int, w: BlobWriter) -> Part:
        blob = self._install(w)
        part = Part(part_number, blob, w.size, w.md5, w.crc, ts(now_s()))
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
        return upload, [Part(n, b, s, m, int(c), ts(t)) for n, b, s, m, c, t in rows]

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
                out.append(Upload(uid, bucket, key, ts(init), ctype, loads(headers), loads(meta), loads(tags)))
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
            bucket, key, blob, w.size, checksums.multipart_etag(p.md5 for p in selected), w.crc, ts(now_s()),
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
