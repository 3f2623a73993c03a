"""Every fixture in events/ parses into OSS records with the wire's field names; unknown shapes are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ossfaces.errors import ConfigError
from ossfaces.events import parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
FIXTURES = sorted(EVENTS.glob("*.json"))


def test_fixture_folder_covers_the_scenarios() -> None:
    names = {path.stem for path in FIXTURES}
    for scenario in (
        "put_jpg",
        "post_object",
        "complete_multipart",
        "copy_object",
        "spaces",
        "plus",
        "chinese",
        "recursion",
        "not_image",
        "zero_bytes",
        "eventbridge_cloudevent",
        "cloudevent_list",
    ):
        assert any(scenario in name for name in names), scenario


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_every_fixture_parses(path: Path) -> None:
    raw = path.read_bytes()
    records = parse_event(raw)
    payload = json.loads(raw)
    expected = len(payload) if isinstance(payload, list) else len(payload.get("events", [None]))
    assert len(records) == expected
    for record in records:
        assert record.eventSource == "acs:oss"
        assert not record.eventName.startswith("oss:")
        assert record.bucket == "ossfaces-demo"
        assert record.key  # exactly as OSS sent it
        assert record.etag is None or record.etag == record.etag.upper()


def test_key_is_kept_exactly_as_sent() -> None:
    assert parse_event((EVENTS / "oss_key_with_plus.json").read_bytes())[0].key == "photos/alice+bob 50%.jpg"
    assert parse_event((EVENTS / "oss_key_chinese.json").read_bytes())[0].key == "相册/2026 年会/合影.jpg"


def test_accepts_str_and_bytes_and_ignores_unknown_fields() -> None:
    payload = json.loads((EVENTS / "oss_put_jpg.json").read_text())
    payload["events"][0]["somethingNew"] = {"x": 1}
    payload["events"][0]["oss"]["object"]["eTag"] = '"abc"'
    for raw in (json.dumps(payload), json.dumps(payload).encode()):
        (record,) = parse_event(raw)
        assert record.etag == "ABC"


@pytest.mark.parametrize("raw", [b"", b"not json", b"{}", b'{"events": [{"eventName": "x"}]}', b"[1, 2]", b'"text"'])
def test_unknown_shapes_raise_config_error_with_a_hint(raw: bytes) -> None:
    with pytest.raises(ConfigError) as info:
        parse_event(raw)
    assert info.value.code == "InvalidEvent"
    assert "trigger" in info.value.message


def test_cloudevent_list_gives_one_record_per_event() -> None:
    records = parse_event((EVENTS / "eventbridge_cloudevent_list.json").read_bytes())
    assert [r.eventName for r in records] == ["ObjectCreated:PutObject", "ObjectCreated:PostObject"]


@pytest.mark.parametrize("missing", ["size", "eTag"])
def test_created_object_without_size_or_etag_is_refused_not_read_as_empty(missing: str) -> None:
    """FC always sends size and eTag for created objects: a record without them is not an OSS trigger's, and a missing
    size must not read as 0 ("the object is empty") nor a missing eTag switch idempotency off."""
    payload = json.loads((EVENTS / "oss_put_jpg.json").read_text())
    del payload["events"][0]["oss"]["object"][missing]
    with pytest.raises(ConfigError, match=f"InvalidEvent.*{missing}"):
        parse_event(json.dumps(payload))


def test_other_events_need_no_size_or_etag() -> None:
    payload = json.loads((EVENTS / "oss_delete_object.json").read_text())
    for name in ("size", "eTag"):
        del payload["events"][0]["oss"]["object"][name]
    (record,) = parse_event(json.dumps(payload))
    assert record.oss.object.size is None and record.etag is None
