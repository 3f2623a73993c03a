"""Bucket inventory on the local OSS, through the real oss2 SDK: the four rule operations, and reports written as OSS
documents them (manifest.json + manifest.checksum + gzipped CSV data files under the destination prefix)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from urllib.parse import unquote

import oss2
import pytest
from oss2 import models

from ossfaces_localstack.oss import LocalOss
from ossfaces_localstack.oss.inventory_report import run_inventory

DEST = "inventory-dest"
FIELDS = [models.FIELD_SIZE, models.FIELD_LAST_MODIFIED_DATE, models.FIELD_ETAG, models.FIELD_STORAG_CLASS,
          models.FIELD_IS_MULTIPART_UPLOADED, models.FIELD_ENCRYPTION_STATUS]  # fmt: skip


def rule(
    inventory_id: str,
    *,
    prefix: str | None = None,
    dest_prefix: str | None = "reports",
    fields: list[str] | None = None,
) -> models.InventoryConfiguration:
    return models.InventoryConfiguration(
        inventory_id=inventory_id,
        is_enabled=True,
        included_object_versions=models.INVENTORY_INCLUDED_OBJECT_VERSIONS_CURRENT,
        inventory_filter=models.InventoryFilter(prefix=prefix) if prefix is not None else None,
        inventory_schedule=models.InventorySchedule(models.INVENTORY_FREQUENCY_DAILY),
        optional_fields=FIELDS if fields is None else fields,
        inventory_destination=models.InventoryDestination(
            bucket_destination=models.InventoryBucketDestination(
                account_id="1000000000000000", role_arn="acs:ram::1000000000000000:role/AliyunOSSRole",
                bucket=DEST, inventory_format=models.INVENTORY_FORMAT_CSV, prefix=dest_prefix,
            )
        ),
    )  # fmt: skip


@pytest.fixture
def dest(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> oss2.Bucket:
    oss2.Bucket(oss_bucket.auth, local_oss.endpoint, DEST).create_bucket()
    return oss2.Bucket(oss_bucket.auth, local_oss.endpoint, DEST)


def test_put_get_list_delete_round_trip(oss_bucket: oss2.Bucket, dest: oss2.Bucket) -> None:
    oss_bucket.put_bucket_inventory_configuration(rule("report1", prefix="photos/"))
    got = oss_bucket.get_bucket_inventory_configuration("report1")
    assert got.inventory_id == "report1" and got.is_enabled is True
    assert got.inventory_filter.prefix == "photos/"
    assert got.inventory_schedule.frequency == "Daily"
    assert got.optional_fields == FIELDS
    destination = got.inventory_destination.bucket_destination
    assert (destination.bucket, destination.prefix, destination.inventory_format) == (DEST, "reports", "CSV")
    assert destination.role_arn == "acs:ram::1000000000000000:role/AliyunOSSRole"
    listed = oss_bucket.list_bucket_inventory_configurations()
    assert [c.inventory_id for c in listed.inventory_configurations] == ["report1"]
    assert listed.is_truncated is False
    oss_bucket.delete_bucket_inventory_configuration("report1")
    with pytest.raises(oss2.exceptions.NotFound) as missing:
        oss_bucket.get_bucket_inventory_configuration("report1")
    assert missing.value.code == "NoSuchInventory"


def test_list_pages_by_one_hundred(oss_bucket: oss2.Bucket, dest: oss2.Bucket) -> None:
    for n in range(101):
        oss_bucket.put_bucket_inventory_configuration(rule(f"r{n:03d}"))
    first = oss_bucket.list_bucket_inventory_configurations()
    assert len(first.inventory_configurations) == 100 and first.is_truncated is True
    second = oss_bucket.list_bucket_inventory_configurations(continuation_token=first.next_continuation_token)
    assert [c.inventory_id for c in second.inventory_configurations] == ["r100"] and second.is_truncated is False


def test_refuses_what_oss_refuses(oss_bucket: oss2.Bucket, dest: oss2.Bucket) -> None:
    oss_bucket.put_bucket_inventory_configuration(rule("dup"))
    with pytest.raises(oss2.exceptions.ServerError) as dup:
        oss_bucket.put_bucket_inventory_configuration(rule("dup"))
    assert (dup.value.status, dup.value.code, dup.value.ec) == (409, "InventoryAlreadyExist", "0020-00000042")
    with pytest.raises(oss2.exceptions.ServerError) as field:
        oss_bucket.put_bucket_inventory_configuration(rule("bad", fields=["Size", "StartTime"]))
    assert (field.value.status, field.value.ec) == (400, "0020-00000036")
    missing_dest = rule("nodest")
    missing_dest.inventory_destination.bucket_destination.bucket = "no-such-dest"
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        oss_bucket.put_bucket_inventory_configuration(missing_dest)


def _report(dest: oss2.Bucket, manifest_key: str) -> tuple[dict[str, object], list[list[str]]]:
    body = dest.get_object(manifest_key).read()
    checksum = dest.get_object(manifest_key.replace("manifest.json", "manifest.checksum")).read()
    assert checksum.decode().lower() == hashlib.md5(body).hexdigest()
    manifest = json.loads(body)
    rows: list[list[str]] = []
    for entry in manifest["files"]:
        raw = dest.get_object(entry["key"]).read()
        assert len(raw) == entry["size"] and hashlib.md5(raw).hexdigest() == entry["MD5checksum"].lower()
        rows += list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    return manifest, rows


def test_report_as_oss_writes_it(local_oss: LocalOss, oss_bucket: oss2.Bucket, dest: oss2.Bucket) -> None:
    keys = ["photos/a.jpg", "photos/中文 照片.jpg", "photos/plus+sign,comma.jpg", "photos/sub/b.jpg", "other/c.jpg"]
    for n, key in enumerate(keys):
        oss_bucket.put_object(key, b"x" * (n + 1))
    oss_bucket.put_bucket_inventory_configuration(rule("daily", prefix="photos/"))
    resp = oss_bucket._do("POST", oss_bucket.bucket_name, "", params={"inventory": "", "inventoryId": "daily"})
    manifest_key = re.search(rb"<ManifestKey>(.*)</ManifestKey>", resp.read()).group(1).decode()  # type: ignore[union-attr]
    assert re.fullmatch(r"reports/test-bucket/daily/\d{4}-\d\d-\d\dT\d\d-\d\dZ/manifest\.json", manifest_key)
    manifest, rows = _report(dest, manifest_key)
    assert manifest["sourceBucket"] == "test-bucket" and manifest["destinationBucket"] == DEST
    assert manifest["fileFormat"] == "CSV" and str(manifest["creationTimestamp"]).isdigit()
    assert (
        manifest["fileSchema"]
        == "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, EncryptionStatus"
    )
    data_keys = [f["key"] for f in manifest["files"]]  # type: ignore[attr-defined]
    assert all(re.fullmatch(r"reports/test-bucket/daily/data/[0-9a-f-]{36}\.csv\.gz", k) for k in data_keys)
    by_key = {unquote(row[1]): row for row in rows}
    assert sorted(by_key) == sorted(k for k in keys if k.startswith("photos/"))
    for key, row in by_key.items():
        head = oss_bucket.head_object(key)
        assert row[0] == "test-bucket" and "/" not in row[1]  # the key is URL-encoded, every reserved byte
        assert int(row[2]) == head.content_length and row[4] == head.etag
        assert row[5:] == ["Standard", "false", "false"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", row[3])


def test_report_splits_into_numbered_data_files(
    local_oss: LocalOss, oss_bucket: oss2.Bucket, dest: oss2.Bucket
) -> None:
    for n in range(5):
        oss_bucket.put_object(f"k{n}", b"x")
    oss_bucket.put_bucket_inventory_configuration(rule("split", dest_prefix=None, fields=[]))
    manifest_key = run_inventory(local_oss.storage, "test-bucket", "split", rows_per_file=2)
    assert manifest_key is not None and manifest_key.startswith("test-bucket/split/")
    manifest, rows = _report(dest, manifest_key)
    names = [f["key"].rsplit("/", 1)[1] for f in manifest["files"]]  # type: ignore[attr-defined]
    stem = names[0][: -len(".csv.gz")]
    assert names == [f"{stem}.csv.gz", f"{stem}-1.csv.gz", f"{stem}-2.csv.gz"]
    assert manifest["fileSchema"] == "Bucket, Key"
    assert [row[1] for row in rows] == [f"k{n}" for n in range(5)]  # every object once, in key order


def test_nothing_matched_writes_no_report(local_oss: LocalOss, oss_bucket: oss2.Bucket, dest: oss2.Bucket) -> None:
    oss_bucket.put_bucket_inventory_configuration(rule("empty", prefix="nothing-here/"))
    assert run_inventory(local_oss.storage, "test-bucket", "empty") is None
    assert [o.key for o in oss2.ObjectIteratorV2(dest)] == []
