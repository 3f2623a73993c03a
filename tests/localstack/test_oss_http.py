"""HTTP-level behaviour of the local OSS that SDKs do not show: connection reuse and slow clients (raw http.client)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import oss2

from ossfaces_localstack.oss import LocalOss


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_get_declaring_a_body_it_never_sends_does_not_break_the_next_request(
    local_oss: LocalOss, oss_bucket: oss2.Bucket
) -> None:
    """A GET with ``Content-Length: 10`` and no body, then a plain GET on the same keep-alive connection."""
    oss_bucket.put_object("k.txt", b"hello")
    path = _path(oss_bucket.sign_url("GET", "k.txt", 600))
    conn = http.client.HTTPConnection("127.0.0.1", local_oss.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Content-Length": "10"})
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"hello")
        conn.request("GET", path)
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"hello")
    finally:
        conn.close()


def test_get_with_a_body_keeps_the_connection(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    """A GET whose declared body does arrive: the body is ignored and the connection stays usable (no reconnect)."""
    oss_bucket.put_object("k.txt", b"hello")
    path = _path(oss_bucket.sign_url("GET", "k.txt", 600))
    conn = http.client.HTTPConnection("127.0.0.1", local_oss.port, timeout=10)
    try:
        conn.request("GET", path, body=b"0123456789")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"hello")
        sock = conn.sock
        conn.request("GET", path)
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"hello")
        assert conn.sock is sock, "the connection was not reused"
    finally:
        conn.close()


def test_get_with_accept_encoding_gzip_is_compressed_and_chunked(oss_bucket: oss2.Bucket) -> None:
    """As OSS: a whole GET of a web text object of at least 1 KB, by a client that accepts gzip, comes gzip-encoded
    and chunked, without ETag, Content-Length or Accept-Ranges; photos, small objects, ranges and clients that do not
    ask (oss2 sends ``identity``) get the bytes as stored."""
    text = b'{"Faces": []}' * 200
    oss_bucket.put_object("doc.faces.json", text, headers={"Content-Type": "application/json"})
    oss_bucket.put_object("photo.jpg", text, headers={"Content-Type": "image/jpeg"})
    oss_bucket.put_object("small.json", b"{}", headers={"Content-Type": "application/json"})
    gz = oss_bucket.get_object("doc.faces.json", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gz.headers.get("Transfer-Encoding") == "chunked"
    assert "ETag" not in gz.headers and "Content-Length" not in gz.headers and "Accept-Ranges" not in gz.headers
    assert gz.read() == text  # requests decodes it, as oss2 reads it
    for key, headers in [
        ("doc.faces.json", None),
        ("photo.jpg", {"Accept-Encoding": "gzip"}),
        ("small.json", {"Accept-Encoding": "gzip"}),
    ]:
        plain = oss_bucket.get_object(key, headers=headers)
        assert "Content-Encoding" not in plain.headers and plain.headers["ETag"], key
    ranged = oss_bucket.get_object("doc.faces.json", byte_range=(0, 9), headers={"Accept-Encoding": "gzip"})
    assert ranged.read() == text[:10] and "Content-Encoding" not in ranged.headers


def test_listing_live_channels_is_empty(oss_bucket: oss2.Bucket) -> None:
    """The local OSS has no RTMP ingest; a client cleaning a bucket (oss2's own test suite does) lists none."""
    assert list(oss2.LiveChannelIterator(oss_bucket)) == []


def test_requests_through_a_proxy_in_absolute_form(local_oss: LocalOss) -> None:
    """A client whose HTTP proxy is this server (``HTTP_PROXY``, or oss2's ``proxies``) sends absolute-form request
    lines, ``PUT http://bucket.oss-cn-shanghai.aliyuncs.com/key``: the server takes the bucket and key from them, for
    either signature version (how oss2's suite reaches the local OSS with the real endpoints some of its tests name)."""
    proxies = {"http": local_oss.endpoint}
    v1 = oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)
    v4 = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    shanghai = oss2.Bucket(v1, "http://oss-cn-shanghai.aliyuncs.com", "far-bucket", proxies=proxies)
    shanghai.create_bucket()
    shanghai.put_object("a/b.txt", b"through the proxy")
    hangzhou = oss2.Bucket(v4, "http://oss-cn-hangzhou.aliyuncs.com", "far-bucket", proxies=proxies,
                           region=local_oss.region)  # fmt: skip
    assert hangzhou.get_object("a/b.txt").read() == b"through the proxy"
    assert [o.key for o in oss2.ObjectIterator(hangzhou)] == ["a/b.txt"]
    assert local_oss.storage.head("far-bucket", "a/b.txt").size == 17
