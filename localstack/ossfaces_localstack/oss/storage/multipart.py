"""Multipart uploads: parts are installed blobs of their own; completing concatenates them into the object in one
transaction that also drops the upload."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .. import checksums
from ..errors import OssError, invalid_argument, no_such_upload
from ..events import Announcement
from .blobs import BlobWriter
from .objects import ObjectStore
from .records import ObjectAttrs, ObjectMeta, Part, Upload, dumps, loads, now_s, ts

MIN_PART_SIZE = 100 * 1024  # OSS: every part but the last must be at least 100 KB
MAX_PART_NUMBER = 10000


class MultipartStore(ObjectStore):
    """The ``uploads`` and ``parts`` tables."""

    def init_upload(
        self, bucket: str, key: str, *, content_type: str, headers: Mapping[str, str],
        user_meta: Mapping[str, str], tags: Mapping[str, str], attrs: ObjectAttrs | None = None,
        sequential: bool = False,
    ) -> str:  # fmt: skip
        upload_id = uuid.uuid4().hex.upper()
        upload = Upload(upload_id, bucket, key, ts(now_s()), content_type, dict(headers), dict(user_meta), dict(tags),
                        attrs or ObjectAttrs(), sequential)  # fmt: skip
        with self._tx() as db:
            self._require_bucket(db, bucket)
            db.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated, content_type, headers, user_meta, tags, attrs) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    upload_id, bucket, key.encode(), int(upload.initiated.timestamp()), content_type,
                    dumps(headers), dumps(user_meta), dumps(tags), upload.attrs_json(),
                ),
            )  # fmt: skip
        return upload_id

    _UPLOAD_COLS = "upload_id, key, initiated, content_type, headers, user_meta, tags, attrs"

    @staticmethod
    def _row_to_upload(bucket: str, row: Sequence[Any]) -> Upload:
        uid, k, init, ctype, headers, meta, tags, attrs_json = row
        attrs, sequential = Upload.parse_attrs(attrs_json)
        return Upload(uid, bucket, bytes(k).decode(), ts(init), ctype, loads(headers), loads(meta), loads(tags), attrs,
                      sequential)  # fmt: skip

    def _get_upload(self, db: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> Upload:
        row = db.execute(
            f"SELECT {self._UPLOAD_COLS} FROM uploads WHERE upload_id=? AND bucket=? AND key=?",
            (upload_id, bucket, key.encode()),
        ).fetchone()
        if row is None:
            self._require_bucket(db, bucket)
            raise no_such_upload(upload_id)
        return self._row_to_upload(bucket, row)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        with self._lock:
            return self._get_upload(self._db, bucket, key, upload_id)

    def put_part(self, bucket: str, key: str, upload_id: str, part_number: int, w: BlobWriter) -> Part:
        blob = self._install(w)
        part = Part(part_number, blob, w.size, w.md5, w.crc, ts(now_s()))
        try:
            with self._lock:
                with self._tx() as db:
                    if self._get_upload(db, bucket, key, upload_id).sequential:
                        self._check_sequence(db, upload_id, part_number)
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

    def check_sequence(self, bucket: str, key: str, upload_id: str, part_number: int) -> Upload:
        """The upload, once ``part_number`` is known to be acceptable now (checked again when the part commits)."""
        with self._lock:
            upload = self._get_upload(self._db, bucket, key, upload_id)
            if upload.sequential:
                self._check_sequence(self._db, upload_id, part_number)
        return upload

    @staticmethod
    def _check_sequence(db: sqlite3.Connection, upload_id: str, part_number: int) -> None:
        """A sequential upload takes parts 1, 2, 3 … each once and in order: a part past the next one is
        PartNotSequential, one already uploaded PartAlreadyExist."""
        (last,) = db.execute(
            "SELECT COALESCE(MAX(part_number), 0) FROM parts WHERE upload_id=?", (upload_id,)
        ).fetchone()
        if part_number > last + 1:
            raise OssError(400, "PartNotSequential", "For sequential multipart upload, you must upload or complete "
                           "parts with sequential part number.", extra={"PartNumber": str(part_number)})  # fmt: skip
        if part_number <= last:
            raise OssError(409, "PartAlreadyExist", "For sequential multipart upload, a part that was uploaded "
                           "cannot be uploaded again.", extra={"PartNumber": str(part_number)})  # fmt: skip

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
                f"SELECT {self._UPLOAD_COLS} FROM uploads "
                "WHERE bucket=? AND (key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, upload_id",
                (bucket, key_marker.encode(), key_marker.encode(), upload_id_marker),
            ).fetchall()
        uploads = (self._row_to_upload(bucket, row) for row in rows)
        return [u for u in uploads if u.key.startswith(prefix)]

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, chosen: Sequence[tuple[int, str]] | None, *,
        forbid_overwrite: bool, acl: str | None = None, announce: Announcement | None = None,
    ) -> ObjectMeta:  # fmt: skip
        """Concatenate the chosen parts (all parts if None) into the object; the upload is gone afterwards.
        ``acl``: the object's ACL when the completing request names one (else the initiating request's)."""
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
        attrs = replace(upload.attrs, acl=acl or upload.attrs.acl)
        if upload.sequential:  # the parts came in order, so OSS knows the MD5 of the whole (Content-MD5 on GET)
            attrs = replace(attrs, md5=base64.b64encode(self._md5_of(selected)).decode())
        meta = ObjectMeta(
            bucket, key, blob, w.size, checksums.multipart_etag(p.md5 for p in selected), w.crc, ts(now_s()),
            upload.content_type, "Multipart", upload.headers, upload.user_meta, upload.tags, attrs,
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

    def _md5_of(self, parts: Sequence[Part]) -> bytes:
        md5 = hashlib.md5()
        for part in parts:
            with self._blob_path(part.blob).open("rb") as f:
                while chunk := f.read(1 << 20):
                    md5.update(chunk)
        return md5.digest()

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
