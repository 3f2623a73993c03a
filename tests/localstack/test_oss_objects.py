"""Object API through the real oss2 SDK over HTTP, with V1 and V4 signatures."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import oss2
import pytest
import requests
from oss2.exceptions import InvalidDigest, InvalidObjectName, NoSuchBucket, NoSuchKey, NotFound, ServerError

from ossfaces_localstack.oss import LocalOss, ObjectCreated, ProcessError, ProcessRequest
from ossfaces_localstack.oss.checksums import crc64

UNICODE_KEYS = [
    "中文/照片.jpg",
    "with space.jpg",
    "plus+sign.jpg",
    "per%25cent%.jpg",
    "form\x0cfeed.jpg",
    "../dot/../x",
    "a",
    "a/b",
]


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, local_oss: LocalOss) -> oss2.Bucket:
    """The test bucket through oss2 with each signature version."""
    if request.param == "v1":
        auth: oss2.AuthBase = oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)
        return oss2.Bucket(auth, local_oss.endpoint, "test-bucket")
    auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    return oss2.Bucket(auth, local_oss.endpoint, "test-bucket", region=local_oss.region)


def test_put_get_etag_crc_and_headers(bucket: oss2.Bucket) -> None:
    r = bucket.put_object("hello.txt", b"hello", headers={"Content-Type": "text/plain", "x-oss-meta-Owner": "ann"})
    assert r.etag == "5D41402ABC4B2A76B9719D911017C592"
    assert r.crc == crc64(b"hello")
    g = bucket.get_object("hello.txt")
    assert g.read() == b"hello"
    assert g.headers["ETag"] == '"5D41402ABC4B2A76B9719D911017C592"'
    assert g.headers["Content-Type"] == "text/plain"
    assert g.headers["x-oss-object-type"] == "Normal"
    assert g.headers["x-oss-meta-owner"] == "ann"
    assert g.headers["x-oss-request-id"]
    datetime.strptime(g.headers["Last-Modified"], "%a, %d %b %Y %H:%M:%S GMT")
    assert int(g.headers["x-oss-hash-crc64ecma"]) == crc64(b"hello")


def test_crc_of_known_vector(bucket: oss2.Bucket) -> None:
    r = bucket.put_object("v", b"123456789")
    assert r.crc == 11051210869376104954


@pytest.mark.parametrize("key", UNICODE_KEYS)
def test_unusual_keys_roundtrip_and_list(bucket: oss2.Bucket, key: str) -> None:
    bucket.put_object(key, key.encode())
    assert bucket.get_object(key).read() == key.encode()
    keys = [o.key for o in oss2.ObjectIteratorV2(bucket)]
    assert keys == [key]
    assert [o.key for o in oss2.ObjectIterator(bucket)] == [key]


def test_key_that_is_also_a_prefix(bucket: oss2.Bucket) -> None:
    bucket.put_object("a", b"1")
    bucket.put_object("a/b", b"2")
    assert bucket.get_object("a").read() == b"1"
    assert bucket.get_object("a/b").read() == b"2"


def test_zero_byte_object(bucket: oss2.Bucket, tmp_path: Path) -> None:
    r = bucket.put_object("empty", b"")
    assert r.crc == 0 and r.etag == hashlib.md5(b"").hexdigest().upper()
    assert bucket.get_object("empty").read() == b""
    target = tmp_path / "out"
    bucket.get_object_to_file("empty", str(target))
    assert target.stat().st_size == 0


def test_ranges(bucket: oss2.Bucket) -> None:
    data = bytes(range(256)) * 4
    bucket.put_object("r", data)
    assert bucket.get_object("r", byte_range=(10, 19)).read() == data[10:20]
    assert bucket.get_object("r", byte_range=(1000, None)).read() == data[1000:]
    assert bucket.get_object("r", byte_range=(None, 24)).read() == data[-24:]
    g = bucket.get_object("r", byte_range=(0, 5000))  # end beyond size is clamped
    assert g.status == 206 and g.read() == data
    with pytest.raises(ServerError) as e:
        bucket.get_object("r", byte_range=(5000, 6000))
    assert e.value.status == 416 and e.value.code == "InvalidRange"


def test_conditional_get(bucket: oss2.Bucket) -> None:
    r = bucket.put_object("c", b"x")
    later = format_datetime(datetime.now(timezone.utc) + timedelta(minutes=1), usegmt=True)
    earlier = format_datetime(datetime.now(timezone.utc) - timedelta(days=1), usegmt=True)
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-Modified-Since": later})
    assert bucket.get_object("c", headers={"If-Modified-Since": earlier}).read() == b"x"
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-None-Match": f'"{r.etag}"'})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.get_object("c", headers={"If-Match": '"0000"'})


def test_response_overrides(bucket: oss2.Bucket) -> None:
    bucket.put_object("o.bin", b"x")
    g = bucket.get_object(
        "o.bin", params={"response-content-type": "image/png", "response-content-disposition": "inline"}
    )
    assert g.headers["Content-Type"] == "image/png" and g.headers["Content-Disposition"] == "inline"


def test_head_meta_exists_and_missing(bucket: oss2.Bucket) -> None:
    bucket.put_object("h", b"abc")
    h = bucket.head_object("h")
    assert h.content_length == 3 and h.object_type == "Normal"
    m = bucket.get_object_meta("h")
    assert m.content_length == 3 and m.etag == hashlib.md5(b"abc").hexdigest().upper()
    assert bucket.object_exists("h") and not bucket.object_exists("nope")
    with pytest.raises(NoSuchKey):
        bucket.head_object("nope")
    with pytest.raises(NoSuchKey) as e:
        bucket.get_object("nope")
    assert e.value.details["EC"] == "0026-00000001" and e.value.details["HostId"]


def test_missing_bucket(local_oss: LocalOss) -> None:
    other = oss2.Bucket(oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint, "no-such")
    with pytest.raises(NoSuchBucket):
        other.object_exists("k")
    with pytest.raises(NoSuchBucket):
        other.get_object("k")


def test_delete_is_idempotent(bucket: oss2.Bucket) -> None:
    bucket.put_object("d", b"x")
    assert bucket.delete_object("d").status == 204
    assert bucket.delete_object("d").status == 204
    assert not bucket.object_exists("d")


def test_invalid_object_names(bucket: oss2.Bucket) -> None:
    for bad in ["x" * 1024, "\\leading-backslash"]:
        with pytest.raises(InvalidObjectName):
            bucket.put_object(bad, b"x")
    assert bucket.put_object("x" * 1023, b"x").status == 200
    r = signed(bucket, "PUT", "/slash", data=b"x")
    assert r.status_code == 400 and b"InvalidObjectName" in r.content


def test_content_md5(bucket: oss2.Bucket) -> None:
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    assert bucket.put_object("m", b"data", headers={"Content-MD5": good}).status == 200
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(InvalidDigest):
        bucket.put_object("m2", b"data", headers={"Content-MD5": bad})
    assert not bucket.object_exists("m2")


def test_forbid_overwrite(bucket: oss2.Bucket) -> None:
    bucket.put_object("f", b"1", headers={"x-oss-forbid-overwrite": "true"})
    with pytest.raises(ServerError) as e:
        bucket.put_object("f", b"2", headers={"x-oss-forbid-overwrite": "true"})
    assert e.value.status == 409 and e.value.code == "FileAlreadyExists"
    assert bucket.get_object("f").read() == b"1"
    bucket.put_object("f", b"3", headers={"x-oss-forbid-overwrite": "false"})
    assert bucket.get_object("f").read() == b"3"


def test_streamed_iterable_body_uses_chunked_encoding(bucket: oss2.Bucket) -> None:
    chunks = [os.urandom(70_000) for _ in range(5)]
    r = bucket.put_object("chunked", iter(chunks))
    assert r.crc == crc64(b"".join(chunks))
    assert bucket.get_object("chunked").read() == b"".join(chunks)


def test_copy(bucket: oss2.Bucket) -> None:
    src = "源 dir/a+b%.jpg"
    bucket.put_object(src, b"payload", headers={"Content-Type": "image/jpeg", "x-oss-meta-k": "v"})
    r = bucket.copy_object("test-bucket", src, "copy/dst.jpg")
    assert r.status == 200
    h = bucket.head_object("copy/dst.jpg")
    assert h.headers["x-oss-meta-k"] == "v" and h.content_type == "image/jpeg"
    assert bucket.get_object("copy/dst.jpg").read() == b"payload"
    bucket.copy_object(
        "test-bucket", src, "copy/replaced.jpg",
        headers={"x-oss-metadata-directive": "REPLACE", "Content-Type": "text/plain", "x-oss-meta-n": "1"},
    )  # fmt: skip
    h = bucket.head_object("copy/replaced.jpg")
    assert h.content_type == "text/plain" and "x-oss-meta-k" not in h.headers and h.headers["x-oss-meta-n"] == "1"
    with pytest.raises(NoSuchKey):
        bucket.copy_object("test-bucket", "missing", "x")


def test_batch_delete(bucket: oss2.Bucket) -> None:
    keys = ["b/1", "b/中", "b/\x0c", "b/not-there"]
    for k in keys[:3]:
        bucket.put_object(k, b"x")
    r = bucket.batch_delete_objects(keys)
    assert sorted(r.deleted_keys) == sorted(keys)
    assert list(oss2.ObjectIteratorV2(bucket)) == []


def signed(bucket: oss2.Bucket, method: str, key: str, **kw: Any) -> requests.Response:
    """Send a request signed by the bucket's oss2 auth, but through plain requests, to see the raw response."""
    url = f"{bucket.endpoint}/{bucket.bucket_name}/{quote(key, safe='')}"
    req = oss2.http.Request(method, url, region=bucket.region, product=bucket.product, **kw)
    bucket.auth._sign_request(req, bucket.bucket_name, key)
    return requests.request(method, url, params=req.params, data=req.data, headers=dict(req.headers))


def test_batch_delete_checks_content_md5(bucket: oss2.Bucket) -> None:
    body = b"<Delete><Quiet>true</Quiet><Object><Key>k</Key></Object></Delete>"
    bad_md5 = base64.b64encode(hashlib.md5(b"nope").digest()).decode()
    r = signed(
        bucket, "POST", "", data=body, params={"delete": "", "encoding-type": "url"}, headers={"Content-MD5": bad_md5}
    )
    assert r.status_code == 400 and b"<Code>InvalidDigest</Code>" in r.content


def test_tagging(bucket: oss2.Bucket) -> None:
    bucket.put_object("t", b"body", headers={"x-oss-tagging": "a=1&b=two%20words"})
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == {"a": "1", "b": "two words"}
    rule = oss2.models.TaggingRule()
    rule.add("k", "v")
    bucket.put_object_tagging("t", oss2.models.Tagging(rule))
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == {"k": "v"}
    assert bucket.get_object("t").read() == b"body"  # tagging never touches the body
    bucket.delete_object_tagging("t")
    assert bucket.get_object_tagging("t").tag_set.tagging_rule == {}


def test_append(bucket: oss2.Bucket) -> None:
    r1 = bucket.append_object("ap", 0, b"abc")
    assert r1.next_position == 3 and r1.crc == crc64(b"abc")
    r2 = bucket.append_object("ap", 3, b"def", init_crc=r1.crc)
    assert r2.next_position == 6 and r2.crc == crc64(b"abcdef")
    assert bucket.get_object("ap").read() == b"abcdef"
    assert bucket.head_object("ap").object_type == "Appendable"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength):
        bucket.append_object("ap", 1, b"x")
    bucket.put_object("normal", b"x")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("normal", 1, b"x")


def test_listing_paging_prefix_delimiter(bucket: oss2.Bucket) -> None:
    keys = sorted([f"p/{i:03d}" for i in range(25)] + ["p/sub/x", "p/sub/y", "p/zz/1", "q", "p"])
    for k in keys:
        bucket.put_object(k, b"")
    r = bucket.list_objects(prefix="p/", delimiter="/", max_keys=10)
    assert r.is_truncated and len(r.object_list) == 10
    everything = [o.key for o in oss2.ObjectIterator(bucket, prefix="p/", delimiter="/", max_keys=7)]
    assert everything == [f"p/{i:03d}" for i in range(25)] + ["p/sub/", "p/zz/"]
    v2 = [o.key for o in oss2.ObjectIteratorV2(bucket, prefix="p/", delimiter="/", max_keys=4)]
    assert v2 == everything
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=3)] == keys
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, start_after="p/sub/x")] == ["p/sub/y", "p/zz/1", "q"]
    assert [o.key for o in oss2.ObjectIterator(bucket, marker="p/sub/", delimiter="/", prefix="p/")] == ["p/zz/"]


def test_listing_is_utf8_byte_order(bucket: oss2.Bucket) -> None:
    keys = ["z", "é", "\U0001f600", "中", "Z", "a b", "a+b"]
    for k in keys:
        bucket.put_object(k, b"")
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == sorted(keys, key=lambda k: k.encode())


def test_listing_has_no_xmlns(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"")
    r = signed(bucket, "GET", "", params={"list-type": "2", "encoding-type": "url"})
    assert r.status_code == 200 and b"<ListBucketResult>" in r.content and b"xmlns" not in r.content


def test_unknown_subresource_is_oss_error(bucket: oss2.Bucket) -> None:
    with pytest.raises(ServerError) as e:
        bucket.get_bucket_lifecycle()
    assert e.value.code == "NotImplemented" and e.value.request_id


def test_process_dispatch(local_oss: LocalOss, bucket: oss2.Bucket) -> None:
    bucket.put_object("face.jpg", b"\xff\xd8 jpeg")
    with pytest.raises(ServerError) as e:  # nothing registered: OSS's error, not fake results
        bucket.get_object("face.jpg", process="imm/detectface")
    assert e.value.status == 400 and e.value.code == "InvalidArgument"
    seen: list[ProcessRequest] = []

    def detect(req: ProcessRequest) -> tuple[int, str, bytes]:
        seen.append(req)
        assert req.path.read_bytes() == b"\xff\xd8 jpeg"
        if req.process.endswith("fail"):
            raise ProcessError(400, "Imm Client", "InvalidArgument, bad image")
        return 200, "application/json", b'{"Faces": []}'

    local_oss.set_processor("imm/detectface", detect)
    g = bucket.get_object("face.jpg", process="imm/detectface")
    assert g.read() == b'{"Faces": []}' and "x-oss-hash-crc64ecma" not in g.headers
    assert seen[0].key == "face.jpg" and seen[0].size == 7
    with pytest.raises(ServerError) as e:
        bucket.get_object("face.jpg", process="imm/detectface,fail")
    assert e.value.code == "Imm Client"


def test_object_created_events(local_oss: LocalOss, bucket: oss2.Bucket) -> None:
    events: list[ObjectCreated] = []
    local_oss.add_listener(events.append)

    def broken(event: ObjectCreated) -> None:
        raise RuntimeError("a broken listener must not break uploads")

    local_oss.add_listener(broken)
    bucket.put_object("e/1.jpg", b"12345", headers={"x-oss-meta-a": "b", "Content-Type": "image/jpeg"})
    bucket.copy_object("test-bucket", "e/1.jpg", "e/2.jpg")
    bucket.append_object("e/3", 0, b"ab")
    bucket.append_object("e/3", 2, b"cd")
    names = [e.event_name for e in events]
    assert names == [
        "ObjectCreated:PutObject",
        "ObjectCreated:CopyObject",
        "ObjectCreated:AppendObject",
        "ObjectCreated:AppendObject",
    ]
    put = events[0]
    assert (put.bucket, put.key, put.size, put.content_type) == ("test-bucket", "e/1.jpg", 5, "image/jpeg")
    assert put.etag == hashlib.md5(b"12345").hexdigest().upper() and put.user_meta == {"x-oss-meta-a": "b"}
    assert put.source_ip == "127.0.0.1" and put.request_id and put.time.tzinfo is not None
    assert (events[3].position, events[3].delta_size, events[3].size) == (2, 2, 4)
    bucket.delete_object("e/1.jpg")
    assert len(events) == 4


def test_bucket_operations(local_oss: LocalOss) -> None:
    service = oss2.Service(oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint)
    b = oss2.Bucket(oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint, "made-here")
    b.create_bucket()
    assert {x.name for x in oss2.BucketIterator(service)} == {"test-bucket", "made-here"}
    info = b.get_bucket_info()
    assert info.name == "made-here" and info.location == f"oss-{local_oss.region}"
    assert b.get_bucket_location().location == f"oss-{local_oss.region}"
    b.put_object("k", b"x")
    with pytest.raises(ServerError) as e:
        b.delete_bucket()
    assert e.value.status == 409 and e.value.code == "BucketNotEmpty"
    b.delete_object("k")
    b.delete_bucket()
    with pytest.raises(NotFound):
        b.get_bucket_info()
