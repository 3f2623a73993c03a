"""Restart persistence and crash safety: objects survive a restart; a kill -9 mid-upload leaves no torn object."""

from __future__ import annotations

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


@pytest.mark.slow
def test_kill9_during_concurrent_uploads(tmp_path: Path) -> None:
    outcome = kill9_oss_round(tmp_path / "data", uploads=50)
    print(f"after kill -9: {outcome.complete} complete, {outcome.absent} absent, {len(outcome.torn)} torn")
    assert outcome.torn == [], f"torn objects: {outcome.torn}"
    assert outcome.lost == [], f"acknowledged uploads lost: {outcome.lost}"
    assert outcome.leftovers == [], outcome.leftovers
    assert outcome.complete + outcome.absent == 50
