"""Storage classes and the restore of archived objects (RestoreObject, ``x-oss-restore``, ``RestoreInfo``), through
the real oss2 SDK over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import oss2
import pytest
from oss2.exceptions import MalformedXml, NoSuchKey, OperationNotSupported, RestoreAlreadyInProgress, ServerError
from oss2.models import RestoreConfiguration

from ossfaces_localstack.oss import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, LocalOss
from ossfaces_localstack.oss.process import child_env, free_port

RESTORE_S = 2.0  # how long this server takes to restore (OSS: about a minute for Archive); the steps a test takes
# while an object restores must fit in it on a loaded CI machine


@pytest.fixture
def fast_restore(tmp_path: Path) -> Iterator[LocalOss]:
    with LocalOss(tmp_path / "oss", buckets=["test-bucket"], restore_seconds=RESTORE_S) as server:
        yield server


@pytest.fixture
def bucket(fast_restore: LocalOss) -> oss2.Bucket:
    auth = oss2.AuthV4(fast_restore.access_key_id, fast_restore.access_key_secret)
    return oss2.Bucket(auth, fast_restore.endpoint, "test-bucket", region=fast_restore.region)


def wait_restored(bucket: oss2.Bucket, key: str) -> str:
    deadline = time.monotonic() + RESTORE_S + 5
    while time.monotonic() < deadline:
        restore = bucket.head_object(key).headers.get("x-oss-restore", "")
        if restore.startswith('ongoing-request="false"'):
            return str(restore)
        time.sleep(0.1)
    raise AssertionError("restore never completed")


def test_storage_class_is_kept_and_reported(bucket: oss2.Bucket) -> None:
    bucket.put_object("std", b"x")
    bucket.put_object("ia", b"x", headers={"x-oss-storage-class": "IA"})
    uid = bucket.init_multipart_upload("cold", headers={"x-oss-storage-class": "ColdArchive"}).upload_id
    part = bucket.upload_part("cold", uid, 1, b"y")
    bucket.complete_multipart_upload("cold", uid, [oss2.models.PartInfo(1, part.etag)])
    bucket.copy_object("test-bucket", "ia", "copied", headers={"x-oss-storage-class": "Archive"})
    classes = {o.key: o.storage_class for o in oss2.ObjectIterator(bucket)}
    assert classes == {"std": "Standard", "ia": "IA", "cold": "ColdArchive", "copied": "Archive"}
    assert bucket.head_object("ia").headers["x-oss-storage-class"] == "IA"
    with pytest.raises(ServerError) as e:
        bucket.put_object("bad", b"x", headers={"x-oss-storage-class": "Glacier"})
    assert e.value.code == "InvalidArgument" and e.value.ec == "0017-00000132"


def test_archived_object_is_frozen_until_restored(bucket: oss2.Bucket) -> None:
    bucket.put_object("photo.jpg", b"archived bytes", headers={"x-oss-storage-class": "Archive"})
    head = bucket.head_object("photo.jpg")  # metadata stays readable
    assert head.content_length == 14 and "x-oss-restore" not in head.headers
    reads: list[Callable[[], object]] = [
        lambda: bucket.get_object("photo.jpg"),
        lambda: bucket.copy_object("test-bucket", "photo.jpg", "copy.jpg"),
    ]
    for read in reads:
        with pytest.raises(ServerError) as e:
            read()
        assert (e.value.status, e.value.code) == (403, "InvalidObjectState")
    assert bucket.restore_object("photo.jpg").status == 202
    assert bucket.head_object("photo.jpg").headers["x-oss-restore"] == 'ongoing-request="true"'
    listed = next(iter(bucket.list_objects_v2().object_list))
    assert listed.restore_info == 'ongoing-request="true"'
    with pytest.raises(RestoreAlreadyInProgress):
        bucket.restore_object("photo.jpg")
    with pytest.raises(ServerError):  # still restoring: not readable yet
        bucket.get_object("photo.jpg")
    restore = wait_restored(bucket, "photo.jpg")
    expiry = parsedate_to_datetime(restore.split('expiry-date="')[1].rstrip('"')).timestamp()
    assert 86400 - 5 < expiry - time.time() < 86400 + 5  # one day by default
    assert bucket.get_object("photo.jpg").read() == b"archived bytes"
    assert bucket.restore_object("photo.jpg").status == 200  # restored: extends the copy's life by a day
    longer = bucket.head_object("photo.jpg").headers["x-oss-restore"]
    assert parsedate_to_datetime(longer.split('expiry-date="')[1].rstrip('"')).timestamp() - expiry == 86400


def test_a_restore_takes_at_least_the_time_asked(fast_restore: LocalOss, bucket: oss2.Bucket) -> None:
    """The copy is ready no sooner than ``restore_seconds`` after the request (rounding to whole seconds must not
    shorten it: a restore that ended early made the test above fail when CI was slow)."""
    for i in range(5):
        bucket.put_object(f"a{i}", b"x", headers={"x-oss-storage-class": "Archive"})
        asked = time.time()
        bucket.restore_object(f"a{i}")
        restore = fast_restore.storage.head("test-bucket", f"a{i}").attrs.restore
        assert restore is not None and restore.ready >= asked + RESTORE_S


def test_restore_errors(bucket: oss2.Bucket) -> None:
    bucket.put_object("standard", b"x")
    with pytest.raises(OperationNotSupported):
        bucket.restore_object("standard")
    with pytest.raises(NoSuchKey):
        bucket.restore_object("absent")
    bucket.put_object("archive", b"x", headers={"x-oss-storage-class": "Archive"})
    with pytest.raises(ServerError) as e:  # Archive keeps a restored copy 1 to 7 days
        bucket.restore_object("archive", input=RestoreConfiguration(days=8))
    assert e.value.code == "InvalidArgument"
    bucket.put_object("cold", b"x", headers={"x-oss-storage-class": "ColdArchive"})
    job = oss2.models.RestoreJobParameters("Sometime")
    with pytest.raises(ServerError) as e:
        bucket.restore_object("cold", input=RestoreConfiguration(days=30, job_parameters=job))
    assert e.value.ec == "0016-00000703"
    job = oss2.models.RestoreJobParameters(oss2.models.RESTORE_TIER_EXPEDITED)
    restored = bucket.restore_object("cold", input=RestoreConfiguration(days=30, job_parameters=job))
    assert restored.status == 202 and restored.headers["x-oss-object-restore-priority"] == "Expedited"
    bucket.put_object("cold2", b"x", headers={"x-oss-storage-class": "DeepColdArchive"})
    assert bucket.restore_object("cold2").headers["x-oss-object-restore-priority"] == "Standard"
    with pytest.raises(MalformedXml):  # Archive has no priorities
        bucket.restore_object("archive", input=RestoreConfiguration(days=1, job_parameters=job))


def test_restore_time_is_set_from_the_command_line(tmp_path: Path) -> None:
    """``python -m ossfaces_localstack.oss --restore-seconds 0``: a restored object is readable at once."""
    port = free_port()
    command = [sys.executable, "-m", "ossfaces_localstack.oss", "--data-dir", str(tmp_path / "oss"), "--port",
               str(port), "--bucket", "cli", "--restore-seconds", "0"]  # fmt: skip
    server = subprocess.Popen(command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bucket = oss2.Bucket(oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), f"http://127.0.0.1:{port}",
                             "cli", connect_timeout=30)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                bucket.put_object("a", b"cold", headers={"x-oss-storage-class": "Archive"})
                break
            except oss2.exceptions.RequestError:
                assert time.monotonic() < deadline and server.poll() is None, "the CLI server never listened"
                time.sleep(0.1)
        bucket.restore_object("a")
        assert bucket.get_object("a").read() == b"cold"
    finally:
        server.terminate()
        server.wait(timeout=30)
