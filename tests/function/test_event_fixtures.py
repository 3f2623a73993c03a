"""Every events/ fixture, as is, driven through the real handler against the local OSS, with its expected outcome.

The objects the fixtures name are uploaded first (same keys: spaces, ``+``, ``%``, Chinese), and each record's size and
ETag are set to what the local OSS reports, as FC would send them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import oss2
import pytest

from .handler_support import EVENTS, Context, Handler, ImmStandIn

EXPECTED = {
    "oss_put_jpg.json": {"processed": 1},
    "oss_put_classic_shape.json": {"processed": 1},
    "oss_post_object.json": {"processed": 1},
    "oss_complete_multipart.json": {"processed": 1},
    "oss_copy_object.json": {"processed": 1},
    "oss_key_with_spaces.json": {"processed": 1},
    "oss_key_with_plus.json": {"processed": 1},
    "oss_key_chinese.json": {"processed": 1},
    "oss_result_key_recursion.json": {"skipped": 1},
    "oss_not_image.json": {"skipped": 1},
    "oss_zero_bytes.json": {"skipped": 1},
    "oss_delete_object.json": {"skipped": 1},
    "eventbridge_cloudevent.json": {"processed": 1},
    "eventbridge_cloudevent_list.json": {"processed": 2},
}
PHOTO = b"\xff\xd8\xff\xe0 stand-in photo \xff\xd9"


def test_every_fixture_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in EVENTS.glob("*.json"))


def records_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [item["data"] for item in payload]
    return [payload["data"]] if "data" in payload else list(payload["events"])


def upload_what_the_event_names(bucket: oss2.Bucket, record: dict[str, Any]) -> None:
    key, name = record["oss"]["object"]["key"], record["eventName"]
    if name.startswith("ObjectRemoved"):
        return
    if record["oss"]["object"]["size"] == 0:
        body = b""
    elif key.endswith(".json"):
        body = b'{"Faces": []}'
    elif key.endswith(".txt"):
        body = b"not a photo"
    else:
        body = PHOTO + key.encode()
    if name == "ObjectCreated:CopyObject":
        bucket.put_object("copy-source/" + key, body)
        bucket.copy_object(bucket.bucket_name, "copy-source/" + key, key)
    elif name == "ObjectCreated:CompleteMultipartUpload":
        upload_id = bucket.init_multipart_upload(key).upload_id
        part = bucket.upload_part(key, upload_id, 1, body)
        bucket.complete_multipart_upload(key, upload_id, [oss2.models.PartInfo(1, part.etag)])
    else:
        bucket.put_object(key, body)
    head = bucket.head_object(key)
    record["oss"]["bucket"]["name"] = bucket.bucket_name
    record["oss"]["object"]["size"] = head.content_length
    record["oss"]["object"]["eTag"] = head.etag


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_through_the_handler(
    name: str, oss_bucket: oss2.Bucket, imm: ImmStandIn, context: Context, handler: Handler
) -> None:
    payload = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    for record in records_of(payload):
        record["oss"]["bucket"]["name"] = oss_bucket.bucket_name
        upload_what_the_event_names(oss_bucket, record)
    summary = handler(json.dumps(payload, ensure_ascii=False).encode("utf-8"), context)
    expected = {"processed": 0, "error-document": 0, "skipped": 0, "failed": 0, **EXPECTED[name]}
    assert {k: summary[k] for k in expected} == expected
    for record in records_of(payload):
        key = record["oss"]["object"]["key"]
        written = oss_bucket.object_exists(key + ".faces.json")
        assert written == (EXPECTED[name].get("processed", 0) > 0), key
    assert len(imm.calls) == EXPECTED[name].get("processed", 0)


def test_fixture_files_are_unchanged_by_the_test() -> None:
    for path in Path(EVENTS).glob("*.json"):
        assert "ossfaces-demo" in path.read_text(encoding="utf-8")
