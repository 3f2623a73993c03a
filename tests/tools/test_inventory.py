"""Reading inventory reports (``ossfaces_tools.inventory``): the objects exactly, and every damaged report refused with
one clear error instead of a silently short listing. Reports are written by the local OSS as OSS writes them."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone

import oss2
import pytest

from ossfaces_localstack.oss import LocalOss
from ossfaces_localstack.oss.inventory_report import run_inventory
from ossfaces_tools.inventory import InventoryError, find_latest, iter_objects, open_report, run_local_inventory

DEST = "inv-dest"
CONFIG = f"""<InventoryConfiguration><Id>daily</Id><IsEnabled>true</IsEnabled>
<Destination><OSSBucketDestination><Format>CSV</Format><AccountId>1</AccountId><RoleArn>acs:ram::1:role/r</RoleArn>
<Bucket>acs:oss:::{DEST}</Bucket><Prefix>inv</Prefix></OSSBucketDestination></Destination>
<Schedule><Frequency>Daily</Frequency></Schedule><IncludedObjectVersions>Current</IncludedObjectVersions>
<OptionalFields><Field>Size</Field><Field>ETag</Field><Field>LastModifiedDate</Field></OptionalFields>
</InventoryConfiguration>"""
KEYS = ["a.jpg", "dir/b.jpg", "dir/中文 c.jpg", "dir/d+e,f.jpg"]


@pytest.fixture
def report(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> tuple[oss2.Bucket, str]:
    """Four photos, one rule, one report (two data files); the destination bucket and the manifest's key."""
    dest = oss2.Bucket(oss_bucket.auth, local_oss.endpoint, DEST)
    dest.create_bucket()
    for key in KEYS:
        oss_bucket.put_object(key, key.encode())
    oss_bucket._do("PUT", "test-bucket", "", data=CONFIG.encode(), params={"inventory": "", "inventoryId": "daily"})
    manifest = run_inventory(local_oss.storage, "test-bucket", "daily", rows_per_file=3)
    assert manifest is not None
    return dest, manifest


def test_objects_exactly_as_listed(report: tuple[oss2.Bucket, str], oss_bucket: oss2.Bucket) -> None:
    dest, key = report
    manifest = open_report(dest, "inv/")
    assert manifest.key == key and manifest.source_bucket == "test-bucket" and len(manifest.files) == 2
    got = {o.key: o for o in iter_objects(dest, manifest)}
    listed = {o.key: o for o in oss2.ObjectIteratorV2(oss_bucket)}
    assert sorted(got) == sorted(listed) == sorted(KEYS)
    for k, obj in got.items():
        assert obj.size == listed[k].size and obj.etag == listed[k].etag.strip('"')
        assert obj.last_modified == datetime.fromtimestamp(listed[k].last_modified, timezone.utc)
    assert [o.key for o in iter_objects(dest, manifest, prefix="dir/")] == sorted(KEYS)[1:]


def test_newest_report_is_found(report: tuple[oss2.Bucket, str], local_oss: LocalOss) -> None:
    dest, first = report
    later = run_inventory(
        local_oss.storage, "test-bucket", "daily", now=datetime(2099, 1, 2, 3, 4, tzinfo=timezone.utc)
    )
    assert later is not None and later.endswith("2099-01-02T03-04Z/manifest.json")
    assert find_latest(dest, "inv/test-bucket/daily/") == later
    assert open_report(dest, f"oss://{DEST}/{first}").key == first


def test_local_run_over_http(report: tuple[oss2.Bucket, str], oss_bucket: oss2.Bucket) -> None:
    dest, _ = report
    key = run_local_inventory(oss_bucket, "daily")
    assert key is not None and sorted(o.key for o in iter_objects(dest, open_report(dest, key))) == sorted(KEYS)


def _rewrite_manifest(dest: oss2.Bucket, key: str, change: dict[str, object], data_index: int = 0) -> None:
    manifest = json.loads(dest.get_object(key).read())
    manifest["files"][data_index].update(change)
    body = json.dumps(manifest).encode()
    dest.put_object(key, body)
    dest.put_object(key.replace("manifest.json", "manifest.checksum"), hashlib.md5(body).hexdigest().upper())


def test_truncated_data_file_is_refused(report: tuple[oss2.Bucket, str]) -> None:
    dest, key = report
    data = json.loads(dest.get_object(key).read())["files"][1]["key"]
    dest.put_object(data, dest.get_object(data).read()[:20])
    with pytest.raises(InventoryError, match="truncated or replaced"):
        list(iter_objects(dest, open_report(dest, key)))


def test_corrupt_gzip_is_refused_even_when_the_manifest_agrees(report: tuple[oss2.Bucket, str]) -> None:
    dest, key = report
    data = json.loads(dest.get_object(key).read())["files"][0]["key"]
    raw = dest.get_object(data).read()
    corrupt = raw[:12] + bytes(b ^ 0x5A for b in raw[12:-8]) + raw[-8:]
    dest.put_object(data, corrupt)
    _rewrite_manifest(dest, key, {"size": len(corrupt), "MD5checksum": hashlib.md5(corrupt).hexdigest()})
    with pytest.raises(InventoryError, match="not a readable gzipped CSV"):
        list(iter_objects(dest, open_report(dest, key)))


def test_cut_gzip_stream_is_refused(report: tuple[oss2.Bucket, str]) -> None:
    dest, key = report
    data = json.loads(dest.get_object(key).read())["files"][0]["key"]
    cut = gzip.compress(b"test-bucket,a.jpg,5,E,2024-01-01T00:00:00.000Z\n" * 50)[:-30]
    dest.put_object(data, cut)
    _rewrite_manifest(dest, key, {"size": len(cut), "MD5checksum": hashlib.md5(cut).hexdigest()})
    with pytest.raises(InventoryError, match="not a readable gzipped CSV"):
        list(iter_objects(dest, open_report(dest, key)))


def test_manifest_naming_a_missing_file_is_refused(report: tuple[oss2.Bucket, str]) -> None:
    dest, key = report
    _rewrite_manifest(dest, key, {"key": "inv/test-bucket/daily/data/gone.csv.gz"}, data_index=1)
    with pytest.raises(InventoryError, match="gone.csv.gz: named by .* but missing"):
        list(iter_objects(dest, open_report(dest, key)))


def test_manifest_not_matching_its_checksum_is_refused(report: tuple[oss2.Bucket, str]) -> None:
    dest, key = report
    dest.put_object(key, dest.get_object(key).read()[:-10])
    with pytest.raises(InventoryError, match="manifest.checksum"):
        open_report(dest, key)


def test_no_report_is_a_clear_error(report: tuple[oss2.Bucket, str]) -> None:
    dest, _ = report
    with pytest.raises(InventoryError, match="no inventory report under"):
        open_report(dest, "elsewhere/")
