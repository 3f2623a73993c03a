"""The FC OSS event built from a local OSS notice: FC's exact shape, and the function's own parser accepts it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ossfaces.events import parse_event
from ossfaces_localstack.fc.events import build_event
from ossfaces_localstack.fc.triggers import FunctionSpec, Trigger
from ossfaces_localstack.oss import ObjectCreated

TRIGGER = Trigger(
    "oss-jpg", FunctionSpec("fn", "svc"), "photos", ("oss:ObjectCreated:*",), account_id="1234567890123456"
)


def _created(**overrides: object) -> ObjectCreated:
    fields: dict[str, object] = {
        "bucket": "photos",
        "key": "相册/a b+c%20.jpg",
        "size": 122539,
        "etag": "688A7BF4F233DC9C88A80BF985AB7329",
        "event_name": "ObjectCreated:PutObject",
        "request_id": "58F9FF2D3DF792092E12044C",
        "source_ip": "127.0.0.1",
        "time": datetime(2022, 8, 13, 6, 45, 43, 123456, tzinfo=timezone.utc),
        "content_type": "image/jpeg",
        "user_meta": {"x-oss-meta-camera": "x100"},
        "delta_size": 122539,
    }
    fields.update(overrides)
    return ObjectCreated(**fields)  # type: ignore[arg-type]


def test_shape_is_fcs() -> None:
    payload = json.loads(build_event(_created(), TRIGGER, "cn-hangzhou"))
    assert list(payload) == ["events"]
    (record,) = payload["events"]
    assert record == {
        "eventName": "ObjectCreated:PutObject",
        "eventSource": "acs:oss",
        "eventTime": "2022-08-13T06:45:43.000Z",
        "eventVersion": "1.0",
        "oss": {
            "bucket": {
                "arn": "acs:oss:cn-hangzhou:1234567890123456:photos",
                "name": "photos",
                "ownerIdentity": "1234567890123456",
                "virtualBucket": "",
            },
            "object": {
                "deltaSize": 122539,
                "eTag": "688A7BF4F233DC9C88A80BF985AB7329",
                "key": "相册/a b+c%20.jpg",
                "objectMeta": {"mimeType": "image/jpeg", "userMeta": {"x-oss-meta-camera": "x100"}},
                "size": 122539,
            },
            "ossSchemaVersion": "1.0",
            "ruleId": TRIGGER.rule_id,
        },
        "region": "cn-hangzhou",
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"requestId": "58F9FF2D3DF792092E12044C"},
        "userIdentity": {"principalId": "1234567890123456"},
    }
    assert len(TRIGGER.rule_id) == 40


@pytest.mark.parametrize(
    "event_name",
    ["ObjectCreated:PutObject", "ObjectCreated:PostObject", "ObjectCreated:CopyObject",
     "ObjectCreated:AppendObject", "ObjectCreated:CompleteMultipartUpload"],
)  # fmt: skip
def test_parses_with_the_functions_parser(event_name: str) -> None:
    position = 10 if event_name.endswith("AppendObject") else None
    (record,) = parse_event(build_event(_created(event_name=event_name, position=position), TRIGGER, "cn-hangzhou"))
    assert record.eventName == event_name
    assert record.key == "相册/a b+c%20.jpg"  # the raw key, never URL-encoded
    assert record.etag == "688A7BF4F233DC9C88A80BF985AB7329"
    assert record.oss.object.position == position
    assert record.eventTime == datetime(2022, 8, 13, 6, 45, 43, tzinfo=timezone.utc)


def test_quoted_lowercase_etag_is_normalised_and_position_only_for_appends() -> None:
    (record,) = json.loads(build_event(_created(etag='"abcdef"', delta_size=-5), TRIGGER, "cn-hangzhou"))["events"]
    assert record["oss"]["object"]["eTag"] == "ABCDEF"
    assert record["oss"]["object"]["deltaSize"] == -5
    assert "position" not in record["oss"]["object"]


def test_eventbridge_trigger_delivers_one_cloudevent_the_function_reads() -> None:
    """An EventBridge-based OSS trigger hands the function one CloudEvent whose data is the OSS record."""
    from ossfaces_localstack.fc.patterns import pattern_matches
    from ossfaces_localstack.fc.triggers import default_triggers

    (trigger,) = default_triggers("photos", [".jpg", ".heic"], FunctionSpec("fn"))
    created = _created(key="a/IMG_0001.HEIC")
    payload = json.loads(build_event(created, trigger, "cn-hangzhou"))
    assert payload["specversion"] == "1.0" and payload["source"] == "acs.oss"
    assert payload["type"] == "oss:" + created.event_name
    assert payload["subject"].endswith(f":{created.bucket}/a/IMG_0001.HEIC")
    assert payload["data"]["oss"]["object"]["key"] == "a/IMG_0001.HEIC"
    (record,) = parse_event(json.dumps(payload).encode())
    assert (record.bucket, record.key, record.eventName) == (created.bucket, created.key, created.event_name)
    local = trigger.with_bucket(created.bucket)
    assert pattern_matches(local.pattern or {}, payload)
    assert not pattern_matches(local.pattern or {}, {**payload, "type": "oss:ObjectCreated:UploadPart"})
