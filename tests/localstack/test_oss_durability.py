"""Restart persistence and crash safety: objects survive a restart; a kill -9 mid-upload leaves no torn object."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import oss2
import pytest
from crash_support import kill9_oss_round

from ossfaces_localstack.oss import LocalOss


def test_restart_keeps_objects_metadata_and_uploads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LocalOss(data, buckets=["keep"]) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        b.put_object("x/1.jpg", b"one", headers={"x-oss-meta-a": "b", "x-oss-tagging": "t=1"})
        uid = b.init_multipart_upload("pending").upload_id
        b.upload_part("pending", uid, 1, b"p")
    with LocalOss(data) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        assert b.get_object("x/1.jpg").read() == b"one"
        assert b.head_object("x/1.jpg").headers["x-oss-meta-a"] == "b"
        assert b.get_object_tagging("x/1.jpg").tag_set.tagging_rule == {"t": "1"}
        assert [p.part_number for p in b.list_parts("pending", uid).parts] == [1]


def test_data_directory_of_an_older_version_is_upgraded(tmp_path: Path) -> None:
    """A data directory written before objects and uploads had attributes (storage class, ACL, ...) opens, keeps its
    objects and uploads, and takes the new attributes."""
    data = tmp_path / "data"
    with LocalOss(data, buckets=["keep"]) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        b.put_object("old.jpg", b"old")
        uid = b.init_multipart_upload("pending").upload_id
    db = sqlite3.connect(data / "meta.sqlite3")
    for table in ("objects", "uploads"):  # what the schema of the previous version had
        db.execute(f"ALTER TABLE {table} DROP COLUMN attrs")
    db.commit()
    db.close()
    with LocalOss(data) as s:
        b = oss2.Bucket(oss2.Auth(s.access_key_id, s.access_key_secret), s.endpoint, "keep")
        assert b.get_object("old.jpg").read() == b"old" and b.get_object_acl("old.jpg").acl == "default"
        b.put_object_acl("old.jpg", "private")
        assert b.get_object_acl("old.jpg").acl == "private"
        part = b.upload_part("pending", uid, 1, b"p")
        b.complete_multipart_upload("pending", uid, [oss2.models.PartInfo(1, part.etag)])
        assert b.head_object("pending").headers["x-oss-storage-class"] == "Standard"


@pytest.mark.slow
def test_kill9_during_concurrent_uploads(tmp_path: Path) -> None:
    outcome = kill9_oss_round(tmp_path / "data", uploads=50)
    print(f"after kill -9: {outcome.complete} complete, {outcome.absent} absent, {len(outcome.torn)} torn")
    assert outcome.torn == [], f"torn objects: {outcome.torn}"
    assert outcome.lost == [], f"acknowledged uploads lost: {outcome.lost}"
    assert outcome.leftovers == [], outcome.leftovers
    assert outcome.complete + outcome.absent == 50
