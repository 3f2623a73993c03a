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
