"""Inventory reports written as OSS writes them, on demand (OSS runs them daily or weekly; a local stack cannot wait).

Layout in the destination bucket (OSS "Bucket inventory")::

    <destination prefix>/<source bucket>/<inventory id>/YYYY-MM-DDTHH-MMZ/manifest.json
    <destination prefix>/<source bucket>/<inventory id>/YYYY-MM-DDTHH-MMZ/manifest.checksum
    <destination prefix>/<source bucket>/<inventory id>/data/<uuid>.csv.gz, <uuid>-1.csv.gz, <uuid>-2.csv.gz …

The data files are gzipped CSV without a header, one object per line, its columns named in order by the manifest's
``fileSchema`` (Bucket, Key, then the rule's optional fields); ``Key`` is URL-encoded. ``manifest.json`` has
``creationTimestamp`` (Unix seconds of the scan's start), ``destinationBucket``, ``fileFormat``, ``fileSchema``,
``files`` (``key``, ``size``, ``MD5checksum`` of each data file), ``sourceBucket`` and ``version``;
``manifest.checksum`` is the MD5 of ``manifest.json``. A rule that matches no object writes no report (as OSS).
Each object appears in exactly one data file. Objects are read in key order in pages, so memory does not grow with the
bucket; every file is written like any upload (atomically, and announced to the triggers).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import quote

from .events import Announcement
from .inventory_config import InventoryConfig
from .storage import BlobWriter, ObjectMeta, Storage

MANIFEST_VERSION = "2019-09-01"
ROWS_PER_FILE = 1_000_000
PAGE = 5000

Emit = Callable[[ObjectMeta, Announcement], None]


def report_root(config: InventoryConfig, source_bucket: str) -> str:
    """``<destination prefix>/<source bucket>/<inventory id>/`` (the prefix level is left out when empty)."""
    prefix = config.destination_prefix.strip("/")
    return f"{prefix + '/' if prefix else ''}{source_bucket}/{config.id}/"


def _value(field: str, meta: ObjectMeta) -> str:
    if field == "Size":
        return str(meta.size)
    if field == "LastModifiedDate":
        return meta.mtime.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if field == "ETag":
        return meta.etag
    if field == "StorageClass":
        return meta.attrs.storage_class
    if field == "IsMultipartUploaded":
        return "true" if meta.object_type == "Multipart" else "false"
    if field == "EncryptionStatus":
        return "false"
    if field == "ObjectAcl":
        return meta.attrs.acl
    if field == "TaggingCount":
        return str(len(meta.tags))
    if field == "ObjectType":
        return meta.object_type
    if field == "Crc64":
        return str(meta.crc)
    return ""  # TransitionTime: no lifecycle transitions here


class _DataFile:
    """One gzipped CSV data file being written into a temp blob (size and MD5 computed on the way)."""

    def __init__(self, writer: BlobWriter, key: str) -> None:
        self.key = key
        self.writer = writer
        self.gzip = gzip.GzipFile(fileobj=writer, mode="wb", mtime=0)  # type: ignore[call-overload]
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, lineterminator="\n")
        self.rows = 0

    def add(self, row: list[str]) -> None:
        self.csv.writerow(row)
        self.rows += 1
        if self.rows % 1000 == 0:
            self._drain()

    def _drain(self) -> None:
        self.gzip.write(self.buffer.getvalue().encode("utf-8"))
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        self._drain()
        self.gzip.close()
        self.writer.finish()


class InventoryRun:
    """One report of one rule: scan the source bucket, write the data files, then the manifest and its checksum."""

    def __init__(
        self, storage: Storage, source_bucket: str, config: InventoryConfig, *, rows_per_file: int = ROWS_PER_FILE,
        now: datetime | None = None, emit: Emit | None = None,
    ) -> None:  # fmt: skip
        self.storage = storage
        self.source = source_bucket
        self.config = config
        self.rows_per_file = rows_per_file
        self.started = now or datetime.now(timezone.utc)
        self.emit = emit
        self.root = report_root(config, source_bucket)
        self.stem = str(uuid.uuid4())
        self.files: list[dict[str, object]] = []

    def run(self) -> str | None:
        """Write the report; return the manifest's key, or None when no object matched."""
        columns = self.config.columns()
        current: _DataFile | None = None
        after = ""
        try:
            while True:
                page = self.storage.scan(self.source, prefix=self.config.filter.prefix, after=after, limit=PAGE)
                if not page:
                    break
                after = page[-1].key
                for meta in page:
                    if not self.config.matches(meta.key, meta.size, int(meta.mtime.timestamp())):
                        continue
                    if current is None or current.rows >= self.rows_per_file:
                        if current is not None:
                            self._commit(current)
                        current = self._open()
                    current.add([self.source, quote(meta.key, safe=""), *(_value(n, meta) for n in columns[2:])])
            if current is not None:
                self._commit(current)
                current = None
        finally:
            if current is not None:
                current.writer.discard()
        if not self.files:
            return None
        return self._manifest(columns)

    def _open(self) -> _DataFile:
        n = len(self.files)
        name = f"{self.stem}{f'-{n}' if n else ''}.csv.gz"
        return _DataFile(self.storage.new_writer(), f"{self.root}data/{name}")

    def _put(self, key: str, writer: BlobWriter, content_type: str, etag: str | None = None) -> ObjectMeta:
        announce = Announcement(
            "ObjectCreated:PutObject", uuid.uuid4().hex.upper(), "127.0.0.1", datetime.now(timezone.utc)
        )
        meta = self.storage.commit_object(
            self.config.destination_bucket, key, writer, content_type=content_type, headers={}, user_meta={},
            tags={}, etag=etag, announce=announce,
        )  # fmt: skip
        if self.emit is not None:
            self.emit(meta, announce)
        return meta

    def _commit(self, data: _DataFile) -> None:
        data.close()
        md5 = data.writer.md5.hex().upper()
        meta = self._put(data.key, data.writer, "application/x-gzip")
        self.files.append({"MD5checksum": md5, "key": data.key, "size": meta.size})

    def _manifest(self, columns: list[str]) -> str:
        folder = f"{self.root}{self.started.strftime('%Y-%m-%dT%H-%MZ')}/"
        manifest = {
            "creationTimestamp": str(int(self.started.timestamp())),
            "destinationBucket": self.config.destination_bucket,
            "fileFormat": self.config.format,
            "fileSchema": ", ".join(columns),
            "files": self.files,
            "sourceBucket": self.source,
            "version": MANIFEST_VERSION,
        }
        body = json.dumps(manifest, indent=2).encode("utf-8")
        for key, content, ctype in (
            (f"{folder}manifest.json", body, "application/json"),
            (f"{folder}manifest.checksum", hashlib.md5(body).hexdigest().upper().encode(), "text/plain"),
        ):
            writer = self.storage.new_writer()
            try:
                writer.write(content)
                writer.finish()
            except BaseException:
                writer.discard()
                raise
            self._put(key, writer, ctype)
        return f"{folder}manifest.json"


def run_inventory(storage: Storage, bucket: str, inventory_id: str, **options: object) -> str | None:
    """Produce the report of rule ``inventory_id`` of ``bucket`` now; the manifest's key (None: nothing matched)."""
    config = storage.get_inventory(bucket, inventory_id)
    return InventoryRun(storage, bucket, config, **options).run()  # type: ignore[arg-type]
