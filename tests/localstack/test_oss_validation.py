"""Requests OSS refuses, refused the same way by the local OSS (issue 11, item 12), through oss2 or raw HTTP.

Where the error code is documented (OSS's EC pages, or answers of the real service quoted in SDK issues) the test pins
it; see each test's docstring.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import oss2
import pytest
import requests
from oss2.exceptions import ServerError

from ossfaces_localstack.oss import LocalOss

BUCKET = "test-bucket"


def _v4_bucket(local_oss: LocalOss, region: str | None = None) -> oss2.Bucket:
    auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    return oss2.Bucket(auth, local_oss.endpoint, BUCKET, region=region or local_oss.region)


def _tagging(pairs: dict[str, str]) -> oss2.models.Tagging:
    rule = oss2.models.TaggingRule()
    rule.tagging_rule.update(pairs)  # not rule.add(): oss2 would refuse long keys itself, before the server sees them
    return oss2.models.Tagging(rule)


@pytest.mark.parametrize(
    ("key", "value", "ec"),
    [
        ("k" * 129, "v", "0010-00000209"),  # tag key over 128 characters
        ("k", "v" * 257, "0010-00000214"),  # tag value over 256 characters
        ("k#", "v", "0010-00000217"),  # a character outside letters, digits, space and + - = . _ : /
        ("k", "v<", "0010-00000217"),
    ],
)
def test_invalid_tags_are_refused(oss_bucket: oss2.Bucket, key: str, value: str, ec: str) -> None:
    """PutObjectTagging and ``x-oss-tagging`` on PutObject: 400 InvalidTag (EC pages 0010-00000209/214/217)."""
    oss_bucket.put_object("tagged.txt", b"x")
    with pytest.raises(ServerError) as by_api:
        oss_bucket.put_object_tagging("tagged.txt", _tagging({key: value}))
    assert (by_api.value.status, by_api.value.code, by_api.value.ec) == (400, "InvalidTag", ec)
    with pytest.raises(ServerError) as by_header:
        oss_bucket.put_object("other.txt", b"x", headers={"x-oss-tagging": f"{quote(key)}={quote(value)}"})
    assert (by_header.value.status, by_header.value.code) == (400, "InvalidTag")
    assert not oss_bucket.object_exists("other.txt")


def test_duplicate_tag_keys_are_refused(oss_bucket: oss2.Bucket) -> None:
    """``x-oss-tagging: a=b&a=c`` names one key twice: refused (oss2's own multipart tests expect an error), as is a
    TagSet with a repeated Key."""
    with pytest.raises(ServerError) as by_header:
        oss_bucket.init_multipart_upload("dup.txt", headers={"x-oss-tagging": "a=b&a=c"})
    assert (by_header.value.status, by_header.value.code) == (400, "InvalidTag")
    oss_bucket.put_object("dup.txt", b"x")
    body = b"<Tagging><TagSet>" + b"<Tag><Key>a</Key><Value>b</Value></Tag>" * 2 + b"</TagSet></Tagging>"
    with pytest.raises(ServerError) as by_api:
        oss_bucket.put_object_tagging("dup.txt", body)  # oss2 sends bytes as they are
    assert (by_api.value.status, by_api.value.code) == (400, "InvalidTag")


def test_valid_tags_at_the_limits(oss_bucket: oss2.Bucket) -> None:
    tags = {"k" * 128: "v" * 256, "a b+c-d=e.f_g:h/i": "中文 value", "empty": ""}
    oss_bucket.put_object("tagged.txt", b"x")
    oss_bucket.put_object_tagging("tagged.txt", _tagging(tags))
    assert oss_bucket.get_object_tagging("tagged.txt").tag_set.tagging_rule == tags


def test_user_metadata_over_8_kb_is_refused(oss_bucket: oss2.Bucket) -> None:
    """OSS limits the user metadata (x-oss-meta-* names and values) of an object to 8 KB: 400 MetadataTooLarge."""
    big = {"x-oss-meta-a": "a" * 5000, "x-oss-meta-b": "b" * 4000}
    with pytest.raises(ServerError) as put:
        oss_bucket.put_object("meta.txt", b"x", headers=big)
    assert (put.value.status, put.value.code) == (400, "MetadataTooLarge")
    with pytest.raises(ServerError) as init:
        oss_bucket.init_multipart_upload("meta.txt", headers=big)
    assert init.value.code == "MetadataTooLarge"
    assert not oss_bucket.object_exists("meta.txt")
    oss_bucket.put_object("meta.txt", b"x", headers={"x-oss-meta-a": "a" * 7000})  # under the limit: fine


def test_v4_presigned_url_valid_for_more_than_7_days_is_refused(local_oss: LocalOss) -> None:
    """x-oss-expires must be 1..604800 s (EC page 0002-00000232): a URL signed for 8 days is refused at once."""
    bucket = _v4_bucket(local_oss)
    bucket.put_object("k.txt", b"hello")
    assert requests.get(bucket.sign_url("GET", "k.txt", 7 * 86400)).content == b"hello"
    r = requests.get(bucket.sign_url("GET", "k.txt", 8 * 86400))
    assert r.status_code == 400 and b"<Code>InvalidArgument</Code>" in r.content, r.content
    assert r.headers["x-oss-ec"] == "0002-00000232"


class _KeepPayloadHash(oss2.CaseInsensitiveDict):  # type: ignore[misc]
    """Headers on which oss2's V4 signer cannot replace a preset x-oss-content-sha256 with UNSIGNED-PAYLOAD."""

    def __setitem__(self, key: str, value: object) -> None:
        if key.lower() == "x-oss-content-sha256" and key in self:
            return
        super().__setitem__(key, value)


def _put_with_payload_hash(local_oss: LocalOss, key: str, body: bytes, payload_hash: str) -> requests.Response:
    """A V4 PUT signed by oss2's own signer, with ``x-oss-content-sha256: payload_hash`` in the signature."""
    url = f"{local_oss.endpoint}/{BUCKET}/{key}"
    req = oss2.http.Request("PUT", url, data=body, region=local_oss.region, product="oss")
    req.headers = _KeepPayloadHash(req.headers)
    req.headers["x-oss-content-sha256"] = payload_hash
    oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)._sign_request(req, BUCKET, key)
    headers = {k: v for k, v in req.headers.items() if v is not None}
    return requests.put(url, data=body, headers=headers)


def test_signed_payload_hash_is_checked_against_the_body(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    body = b"the signed payload"
    ok = _put_with_payload_hash(local_oss, "signed.txt", body, hashlib.sha256(body).hexdigest())
    assert ok.status_code == 200, ok.content
    assert oss_bucket.get_object("signed.txt").read() == body
    tampered = _put_with_payload_hash(local_oss, "tampered.txt", body, hashlib.sha256(b"other").hexdigest())
    assert tampered.status_code == 400 and b"x-oss-content-sha256" in tampered.content, tampered.content
    assert not oss_bucket.object_exists("tampered.txt")
    garbage = _put_with_payload_hash(local_oss, "garbage.txt", body, "not-a-sha256")
    assert garbage.status_code == 400 and garbage.headers["x-oss-ec"] == "0002-00000214"  # EC page: invalid value


def test_wrong_v4_region_error(local_oss: LocalOss) -> None:
    """Real OSS answers 400 InvalidArgument "Invalid signing region in Authorization header." (EC 0002-00000226,
    as quoted in alibabacloud-oss-go-sdk-v2 issues #29 and #85)."""
    with pytest.raises(ServerError) as e:
        _v4_bucket(local_oss, region="cn-beijing").put_object("k.txt", b"x")
    assert (e.value.status, e.value.code, e.value.ec) == (400, "InvalidArgument", "0002-00000226")
    assert e.value.message == "Invalid signing region in Authorization header."


def _policy(conditions: list[object]) -> str:
    expiration = (datetime.now(timezone.utc) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()


def _v1_form(local_oss: LocalOss, policy: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(local_oss.access_key_secret.encode(), policy.encode(), hashlib.sha1).digest())
    return {"OSSAccessKeyId": local_oss.access_key_id, "policy": policy, "Signature": signature.decode()}


def test_post_policy_in_and_not_in_conditions(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    policy = _policy([["in", "$content-type", ["image/jpeg", "image/png"]], ["not-in", "$cache-control", ["no-cache"]]])
    url = f"{local_oss.endpoint}/{BUCKET}"
    form = {**_v1_form(local_oss, policy), "key": "post/a.png", "Content-Type": "image/png"}
    ok = requests.post(url, data=form, files={"file": ("a.png", b"png")})
    assert ok.status_code == 204, ok.content
    not_in_list = requests.post(url, data={**form, "Content-Type": "text/plain"}, files={"file": ("a", b"t")})
    assert not_in_list.status_code == 403 and b"Policy" in not_in_list.content, not_in_list.content
    in_refused = requests.post(url, data={**form, "Cache-Control": "no-cache"}, files={"file": ("a", b"t")})
    assert in_refused.status_code == 403 and b"Policy" in in_refused.content, in_refused.content


def _v4_form(local_oss: LocalOss, policy: str, date: str, region: str, when: str | None = None) -> dict[str, str]:
    """A V4 PostObject form; its signature follows OSS's V4 scheme with the credential's own date and region."""
    key = f"aliyun_v4{local_oss.access_key_secret}".encode()
    for part in (date, region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return {
        "x-oss-signature-version": "OSS4-HMAC-SHA256",
        "x-oss-credential": f"{local_oss.access_key_id}/{date}/{region}/oss/aliyun_v4_request",
        "x-oss-date": when or f"{date}T{datetime.now(timezone.utc).strftime('%H%M%S')}Z",
        "policy": policy,
        "x-oss-signature": hmac.new(key, policy.encode(), hashlib.sha256).hexdigest(),
    }


def test_post_v4_form_scope(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """The V4 form's credential must name this region (400 InvalidArgument, EC 0002-00000715 "The signing region in
    credential is invalid.") and the day of x-oss-date."""
    policy = _policy([["starts-with", "$key", "post/"]])
    url = f"{local_oss.endpoint}/{BUCKET}"
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    good = _v4_form(local_oss, policy, today, local_oss.region)
    ok = requests.post(url, data={**good, "key": "post/v4.txt"}, files={"file": ("v4.txt", b"v4")})
    assert ok.status_code == 204, ok.content
    wrong_region = _v4_form(local_oss, policy, today, "cn-beijing")
    r = requests.post(url, data={**wrong_region, "key": "post/x.txt"}, files={"file": ("x", b"x")})
    assert r.status_code == 400 and r.headers["x-oss-ec"] == "0002-00000715", r.content
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y%m%d")
    wrong_day = _v4_form(local_oss, policy, yesterday, local_oss.region, when=good["x-oss-date"])
    r = requests.post(url, data={**wrong_day, "key": "post/y.txt"}, files={"file": ("y", b"y")})
    assert r.status_code == 400 and b"InvalidArgument" in r.content, r.content
    assert [o.key for o in oss2.ObjectIterator(oss_bucket, prefix="post/")] == ["post/v4.txt"]


@pytest.fixture
def impatient_oss(tmp_path: Path) -> Iterator[LocalOss]:
    """A local OSS that waits at most 1 s for a request's headers or the next piece of its body."""
    with LocalOss(tmp_path / "oss", buckets=[BUCKET], read_timeout=1.0) as server:
        yield server


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    sock.settimeout(limit_s)
    started, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - started


def test_slow_headers_time_out(impatient_oss: LocalOss) -> None:
    """A client that sends part of its request line and headers and stalls: 400 RequestTimeout, connection closed."""
    with socket.create_connection(("127.0.0.1", impatient_oss.port)) as sock:
        sock.sendall(b"GET /test-bucket/k.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        data, waited = _read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in data, data
    assert waited < 5


def test_slow_body_times_out(impatient_oss: LocalOss) -> None:
    """A PUT whose body stops arriving: 400 RequestTimeout, nothing stored, connection closed."""
    bucket = oss2.Bucket(
        oss2.Auth(impatient_oss.access_key_id, impatient_oss.access_key_secret), impatient_oss.endpoint, BUCKET
    )
    url = bucket.sign_url("PUT", "slow.txt", 600)
    path = url.split(str(impatient_oss.port), 1)[1]
    with socket.create_connection(("127.0.0.1", impatient_oss.port)) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n".encode() + b"x" * 10)
        data, waited = _read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in data, data
    assert waited < 5
    assert not bucket.object_exists("slow.txt")
