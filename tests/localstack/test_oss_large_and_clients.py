"""A 100 MB object streamed through with bounded server memory; a second, independent SDK; browser PostObject."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import resource
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import oss2
import pytest
import requests

from ossfaces_localstack.oss import LocalOss, ObjectCreated
from ossfaces_localstack.oss.checksums import crc64_update

MB = 1024 * 1024


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_100mb_streamed_put_get(oss_bucket: oss2.Bucket, tmp_path: Path) -> None:
    """Server and client share this process, so peak RSS growth bounds what the server held in memory."""
    block = os.urandom(MB)
    crc = 0
    for _ in range(100):
        crc = crc64_update(crc, block)
    before = _peak_rss_mb()

    def body() -> Iterator[bytes]:
        for _ in range(100):
            yield block

    r = oss_bucket.put_object("big/100mb.bin", body())  # chunked transfer encoding, CRC checked by oss2
    assert r.crc == crc
    target = tmp_path / "100mb.bin"
    oss_bucket.get_object_to_file("big/100mb.bin", str(target))  # streamed; oss2 checks length and CRC
    assert target.stat().st_size == 100 * MB
    growth = _peak_rss_mb() - before
    print(f"peak RSS growth during 100 MB put+get: {growth:.1f} MB")
    assert growth < 60, f"server held too much in memory: +{growth:.1f} MB"


def test_second_client_alibabacloud_oss_v2(local_oss: LocalOss) -> None:
    import alibabacloud_oss_v2 as oss

    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        local_oss.access_key_id, local_oss.access_key_secret
    )
    cfg.region = local_oss.region
    cfg.endpoint = local_oss.endpoint
    cfg.use_path_style = True
    cfg.disable_ssl = True
    client = oss.Client(cfg)
    key = "v2/中文 key+%.txt"
    put = client.put_object(oss.PutObjectRequest(bucket="test-bucket", key=key, body=b"from v2"))
    assert put.status_code == 200 and put.etag == f'"{hashlib.md5(b"from v2").hexdigest().upper()}"'
    got = client.get_object(oss.GetObjectRequest(bucket="test-bucket", key=key))
    assert got.body.read() == b"from v2"
    listed = client.list_objects_v2(oss.ListObjectsV2Request(bucket="test-bucket"))
    assert [o.key for o in listed.contents or []] == [key]
    client.delete_object(oss.DeleteObjectRequest(bucket="test-bucket", key=key))
    assert not client.is_object_exist("test-bucket", key)


def _policy(conditions: list[object], minutes: int = 10) -> str:
    expiration = (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()


def test_post_object_v1_policy(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    events: list[ObjectCreated] = []
    local_oss.add_listener(events.append)
    policy = _policy(
        [{"bucket": "test-bucket"}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1024]]
    )
    signature = base64.b64encode(
        hmac.new(local_oss.access_key_secret.encode(), policy.encode(), hashlib.sha1).digest()
    ).decode()
    fields = {
        "key": "uploads/${filename}", "OSSAccessKeyId": local_oss.access_key_id, "policy": policy,
        "Signature": signature, "success_action_status": "201", "x-oss-meta-from": "browser",
    }  # fmt: skip
    url = f"{local_oss.endpoint}/test-bucket"
    r = requests.post(url, data=fields, files={"file": ("photo 1.jpg", b"\xff\xd8 image", "image/jpeg")})
    assert r.status_code == 201, r.content
    assert b"<Key>uploads/photo 1.jpg</Key>" in r.content
    assert oss_bucket.get_object("uploads/photo 1.jpg").read() == b"\xff\xd8 image"
    assert oss_bucket.head_object("uploads/photo 1.jpg").headers["x-oss-meta-from"] == "browser"
    assert [e.event_name for e in events] == ["ObjectCreated:PostObject"]
    bad = requests.post(url, data={**fields, "key": "elsewhere/x"}, files={"file": ("x", b"x")})
    assert bad.status_code == 403 and b"Policy" in bad.content
    too_big = requests.post(url, data=fields, files={"file": ("x", b"x" * 2000)})
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content
    forged = requests.post(url, data={**fields, "Signature": "AAAA"}, files={"file": ("x", b"x")})
    assert forged.status_code == 403 and b"SignatureDoesNotMatch" in forged.content
    assert [e.event_name for e in events] == ["ObjectCreated:PostObject"]


def test_post_object_form_edges(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """python-multipart reads the form: a 3 MB file in small chunks, fields after ``file`` ignored, a cut body refused."""
    policy = _policy([["starts-with", "$key", "edge/"]])
    signature = base64.b64encode(
        hmac.new(local_oss.access_key_secret.encode(), policy.encode(), hashlib.sha1).digest()
    ).decode()
    fields = [("key", "edge/${filename}"), ("OSSAccessKeyId", local_oss.access_key_id), ("policy", policy)]
    fields.append(("Signature", signature))
    payload = os.urandom(3 * MB)
    boundary = "----edgeBoundary7MA4YWxkTrZu0gW"

    def form(file_part: bytes, after: list[tuple[str, str]]) -> bytes:
        out = b""
        for name, value in fields:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'.encode()
        out += b"Content-Type: application/x-test\r\n\r\n" + file_part + b"\r\n"
        for name, value in after:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        return out + f"--{boundary}--\r\n".encode()

    def chunks(body: bytes) -> Iterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    url = f"{local_oss.endpoint}/test-bucket"
    ok = requests.post(url, data=chunks(form(payload, [("key", "elsewhere/x")])), headers=headers)
    assert ok.status_code == 204, ok.content
    got = oss_bucket.get_object("edge/a.bin")
    assert got.read() == payload and got.headers["Content-Type"] == "application/x-test"
    cut = form(b"partial", [])[:-40]
    refused = requests.post(url, data=cut, headers=headers)
    assert refused.status_code == 400 and b"InvalidArgument" in refused.content, refused.content
    assert [o.key for o in oss2.ObjectIterator(oss_bucket, prefix="e")] == ["edge/a.bin"]
