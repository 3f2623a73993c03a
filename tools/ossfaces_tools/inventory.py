"""Reading OSS bucket inventory reports: the way to enumerate millions of objects without listing them.

A report (OSS "Bucket inventory") is ``<dest prefix>/<source bucket>/<inventory id>/<YYYY-MM-DDTHH-MMZ>/manifest.json``
naming gzipped CSV data files whose columns the manifest's ``fileSchema`` gives (``Key`` URL-encoded). Everything a
tool needs is checked before it is trusted, so a bad report is one clear error and never a silently short listing:
``manifest.checksum`` against the manifest, each data file's size and MD5 against the manifest, a data file the
manifest names but that is missing, a truncated or corrupt gzip, a row with the wrong number of columns.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import oss2

from ossfaces_tools.access import ToolError


class InventoryError(ToolError):
    """The report cannot be trusted; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class InventoryObject:
    """One row of a report: an object of the source bucket."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class DataFile:
    key: str
    size: int
    md5: str


@dataclass(frozen=True)
class Manifest:
    """A report's ``manifest.json``, and where it was read from."""

    bucket: str
    """The destination bucket (where the report lies)."""
    key: str
    source_bucket: str
    created: datetime
    columns: tuple[str, ...]
    files: tuple[DataFile, ...]

    @property
    def objects_hint(self) -> str:
        return f"{len(self.files)} data file(s), scanned {self.created:%Y-%m-%d %H:%M} UTC"


def parse_manifest(bucket: str, key: str, body: bytes, checksum: bytes | None = None) -> Manifest:
    """A manifest's fields, checked (``checksum``: the ``manifest.checksum`` beside it, when there is one)."""
    where = f"oss://{bucket}/{key}"
    if checksum is not None and checksum.strip().decode("ascii", "replace").lower() != hashlib.md5(body).hexdigest():
        raise InventoryError(
            f"{where}: does not match its manifest.checksum (truncated or changed); re-run the inventory"
        )
    try:
        data: dict[str, Any] = json.loads(body)
        columns = tuple(part.strip() for part in str(data["fileSchema"]).split(","))
        created = datetime.fromtimestamp(int(str(data["creationTimestamp"])[:10]), timezone.utc)
        files = tuple(DataFile(str(f["key"]), int(f["size"]), str(f["MD5checksum"]).lower()) for f in data["files"])
        fmt = str(data.get("fileFormat", "CSV"))
        source = str(data["sourceBucket"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InventoryError(f"{where}: not an inventory manifest ({type(exc).__name__}: {exc})") from None
    if fmt.upper() != "CSV":
        raise InventoryError(f"{where}: fileFormat {fmt} is not supported (CSV is)")
    if "Key" not in columns:
        raise InventoryError(f"{where}: fileSchema has no Key column: {', '.join(columns)}")
    return Manifest(bucket, key, source, created, columns, files)


def read_manifest(bucket: oss2.Bucket, key: str) -> Manifest:
    """Read ``key`` (a ``manifest.json``) and its ``manifest.checksum`` from ``bucket``."""
    try:
        body: bytes = bucket.get_object(key).read()
    except oss2.exceptions.NoSuchKey:
        raise InventoryError(f"oss://{bucket.bucket_name}/{key}: no such inventory manifest") from None
    checksum_key = key.rsplit("/", 1)[0] + "/manifest.checksum" if "/" in key else "manifest.checksum"
    try:
        checksum: bytes | None = bucket.get_object(checksum_key).read()
    except oss2.exceptions.NoSuchKey:
        checksum = None
    return parse_manifest(bucket.bucket_name, key, body, checksum)


def find_latest(bucket: oss2.Bucket, root: str) -> str | None:
    """The newest ``manifest.json`` under ``root`` (``<dest prefix>/<source bucket>/<inventory id>/``, or any prefix
    above several of them): report folders are named by their scan time, so the greatest name is the newest."""
    best: tuple[str, str] | None = None
    for info in oss2.ObjectIteratorV2(bucket, prefix=root, max_keys=1000):
        if info.key.endswith("/manifest.json") and "/data/" not in info.key:
            stamp = info.key.rsplit("/", 2)[-2]
            if best is None or stamp > best[0]:
                best = (stamp, info.key)
    return best[1] if best else None


def read_data_file(bucket: oss2.Bucket, manifest: Manifest, data: DataFile) -> Iterator[InventoryObject]:
    """The objects of one data file, after checking its size and MD5 against the manifest."""
    where = f"oss://{bucket.bucket_name}/{data.key}"
    try:
        raw: bytes = bucket.get_object(data.key).read()
    except oss2.exceptions.NoSuchKey:
        raise InventoryError(f"{where}: named by {manifest.key} but missing; re-run the inventory") from None
    if len(raw) != data.size or hashlib.md5(raw).hexdigest() != data.md5:
        raise InventoryError(
            f"{where}: {len(raw)} bytes, MD5 {hashlib.md5(raw).hexdigest()}; the manifest says {data.size} bytes, "
            f"MD5 {data.md5} (truncated or replaced); re-run the inventory"
        )
    columns = manifest.columns
    at = {name: i for i, name in enumerate(columns)}
    text = io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)), encoding="utf-8", newline="")
    rows = enumerate(csv.reader(text), 1)
    while True:  # decompressed as it is read: a data file never sits in memory as text
        try:
            line, row = next(rows)
        except StopIteration:
            return
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise InventoryError(f"{where}: not a readable gzipped CSV ({exc})") from None
        if len(row) != len(columns):
            raise InventoryError(
                f"{where}: line {line} has {len(row)} columns, the manifest's fileSchema {len(columns)}"
            )
        yield _object(row, at, where, line)


def _object(row: list[str], at: dict[str, int], where: str, line: int) -> InventoryObject:
    try:
        size = int(row[at["Size"]]) if "Size" in at else -1
        etag = row[at["ETag"]].strip('"').upper() or None if "ETag" in at else None
        modified = None
        if "LastModifiedDate" in at and row[at["LastModifiedDate"]]:
            modified = datetime.fromisoformat(row[at["LastModifiedDate"]].replace("Z", "+00:00"))
    except ValueError as exc:
        raise InventoryError(f"{where}: line {line}: {exc}") from None
    return InventoryObject(unquote(row[at["Key"]]), size, etag, modified)


def iter_objects(bucket: oss2.Bucket, manifest: Manifest, prefix: str = "") -> Iterator[InventoryObject]:
    """Every object of the report under ``prefix``, data file by data file (each checked before its rows are used)."""
    for data in manifest.files:
        for obj in read_data_file(bucket, manifest, data):
            if obj.key.startswith(prefix):
                yield obj


def open_report(bucket: oss2.Bucket, where: str) -> Manifest:
    """``where`` is a manifest key, or a folder to search for the newest one (``oss://bucket/key`` also accepted,
    with the bucket being the one given)."""
    key = where.split("/", 3)[3] if where.startswith("oss://") else where
    if key.endswith("manifest.json"):
        return read_manifest(bucket, key)
    latest = find_latest(bucket, key if key.endswith("/") or not key else key + "/")
    if latest is None:
        raise InventoryError(f"no inventory report under oss://{bucket.bucket_name}/{key}")
    return read_manifest(bucket, latest)


def run_local_inventory(bucket: oss2.Bucket, inventory_id: str) -> str | None:
    """The local stack's ``POST /?inventory&inventoryId=ID``: write that rule's report now; the manifest's key."""
    try:
        resp = bucket._do("POST", bucket.bucket_name, "", params={"inventory": "", "inventoryId": inventory_id})
    except oss2.exceptions.OssError as exc:
        if exc.status in (405, 501):
            raise ToolError(
                "this OSS does not produce inventory reports on demand (only the local stack does): "
                "OSS writes them on the rule's schedule (daily or weekly)"
            ) from exc
        raise ToolError(f"inventory {inventory_id}: {exc.status} {exc.code}: {exc.message}") from exc
    body = resp.read()
    start, end = body.find(b"<ManifestKey>"), body.find(b"</ManifestKey>")
    key = body[start + len(b"<ManifestKey>") : end].decode("utf-8") if start >= 0 and end > start else ""
    return key or None


def resolve(bucket: oss2.Bucket, where: str, open_bucket: Any) -> tuple[oss2.Bucket, Manifest]:
    """The report ``--inventory`` names: ``oss://BUCKET/PATH`` (a manifest, or a folder holding reports: the newest),
    or ``latest``: the newest report of the source bucket's own enabled rules (``ListBucketInventory``).
    ``open_bucket(name)`` opens a destination bucket with the same credentials."""
    if where.startswith("oss://"):
        name, _, path = where[len("oss://") :].partition("/")
        dest = open_bucket(name)
        return dest, open_report(dest, path)
    if where != "latest":
        raise ToolError(f"--inventory {where!r}: give oss://BUCKET/PATH or 'latest'", usage=True, param="--inventory")
    try:
        rules = bucket.list_bucket_inventory_configurations().inventory_configurations
    except oss2.exceptions.OssError as exc:
        raise InventoryError(f"listing the inventory rules of {bucket.bucket_name}: {exc.status} {exc.code}") from exc
    newest: tuple[str, oss2.Bucket, str] | None = None
    for rule in rules:
        destination = rule.inventory_destination.bucket_destination if rule.inventory_destination else None
        if not rule.is_enabled or destination is None or not destination.bucket:
            continue
        dest = open_bucket(destination.bucket)
        prefix = (destination.prefix or "").strip("/")
        found = find_latest(dest, f"{prefix + '/' if prefix else ''}{bucket.bucket_name}/{rule.inventory_id}/")
        if found and (newest is None or found.rsplit("/", 2)[-2] > newest[0]):
            newest = (found.rsplit("/", 2)[-2], dest, found)
    if newest is None:
        raise InventoryError(f"no inventory report of {bucket.bucket_name}: configure a rule (ossfaces inventory put) "
                             "and wait for its first report, or leave --inventory out to list the bucket")  # fmt: skip
    return newest[1], read_manifest(newest[1], newest[2])


def open_for(access: Any, bucket: oss2.Bucket, where: str | None) -> tuple[oss2.Bucket, Manifest] | None:
    """``--inventory`` of a command: the report and the bucket it lies in (opened with the same credentials), or
    None to list the bucket."""
    if where is None:
        return None
    from dataclasses import replace

    return resolve(bucket, where, lambda name: replace(access, bucket=name).open())
