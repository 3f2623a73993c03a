"""Authentication as OSS does it: V1/V4 headers, presigned URLs, STS tokens, and the 403s for everything else."""

from __future__ import annotations

import time
from email.utils import formatdate

import oss2
import pytest
import requests
from oss2.exceptions import AccessDenied, ServerError

from ossfaces_localstack.oss import LocalOss


def _bucket(server: LocalOss, auth: oss2.AuthBase, v4: bool = False) -> oss2.Bucket:
    return oss2.Bucket(auth, server.endpoint, "test-bucket", region=server.region if v4 else None)


@pytest.mark.parametrize("v4", [False, True])
def test_wrong_secret_is_signature_mismatch(local_oss: LocalOss, v4: bool) -> None:
    auth = (oss2.AuthV4 if v4 else oss2.Auth)(local_oss.access_key_id, "wrong-secret")
    with pytest.raises(ServerError) as e:
        _bucket(local_oss, auth, v4).put_object("k", b"x")
    assert e.value.status == 403 and e.value.code == "SignatureDoesNotMatch"
    assert "StringToSign" in e.value.details and e.value.details["OSSAccessKeyId"] == local_oss.access_key_id


@pytest.mark.parametrize("v4", [False, True])
def test_unknown_key(local_oss: LocalOss, v4: bool) -> None:
    auth = (oss2.AuthV4 if v4 else oss2.Auth)("LTAI-unknown", "x")
    with pytest.raises(ServerError) as e:
        _bucket(local_oss, auth, v4).get_object("k")
    assert e.value.status == 403 and e.value.code == "InvalidAccessKeyId"


def test_clock_skew(local_oss: LocalOss, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: formatdate(time.time() - 16 * 60, usegmt=True))
    with pytest.raises(ServerError) as e:
        _bucket(local_oss, oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)).put_object("k", b"x")
    assert e.value.status == 403 and e.value.code == "RequestTimeTooSkewed"
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: formatdate(time.time() - 14 * 60, usegmt=True))
    _bucket(local_oss, oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)).put_object("k", b"x")


def test_anonymous_is_denied(local_oss: LocalOss) -> None:
    with pytest.raises(AccessDenied):
        _bucket(local_oss, oss2.AnonymousAuth()).get_object("k")
    r = requests.get(f"{local_oss.endpoint}/test-bucket/k")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content and r.headers["x-oss-request-id"]


def test_tampered_request_fails(local_oss: LocalOss, oss_bucket: oss2.Bucket) -> None:
    oss_bucket.put_object("k", b"x")
    url = oss_bucket.sign_url("GET", "k", 60)
    assert requests.get(url).content == b"x"
    assert requests.get(url.replace("/k?", "/other?")).status_code == 403


@pytest.mark.parametrize("v4", [False, True])
def test_presigned_urls(local_oss: LocalOss, v4: bool) -> None:
    auth = (oss2.AuthV4 if v4 else oss2.Auth)(local_oss.access_key_id, local_oss.access_key_secret)
    b = _bucket(local_oss, auth, v4)
    key = "presign/中 文+%.jpg"
    put_url = b.sign_url("PUT", key, 60, headers={"Content-Type": "image/jpeg"})
    assert requests.put(put_url, data=b"jpeg", headers={"Content-Type": "image/jpeg"}).status_code == 200
    get_url = b.sign_url("GET", key, 60, params={"response-content-type": "text/plain"})
    r = requests.get(get_url)
    assert r.status_code == 200 and r.content == b"jpeg" and r.headers["Content-Type"] == "text/plain"
    expired = b.sign_url("GET", key, -5 if not v4 else 1)
    if v4:
        time.sleep(2.1)
    r = requests.get(expired)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content and b"expired" in r.content


@pytest.mark.parametrize("version", [oss2.AUTH_VERSION_1, oss2.AUTH_VERSION_4])
def test_sts_credentials(local_oss: LocalOss, version: str) -> None:
    ak, sk, token = local_oss.issue_sts()
    v4 = version == oss2.AUTH_VERSION_4
    b = _bucket(local_oss, oss2.StsAuth(ak, sk, token, auth_version=version), v4)
    b.put_object("sts", b"ok")
    assert b.get_object("sts").read() == b"ok"
    assert requests.get(b.sign_url("GET", "sts", 60)).content == b"ok"
    with pytest.raises(ServerError) as e:
        _bucket(local_oss, oss2.StsAuth(ak, sk, token + "x", auth_version=version), v4).get_object("sts")
    assert e.value.status == 403
    with pytest.raises(ServerError) as e:  # the STS key alone, without its token
        _bucket(local_oss, (oss2.AuthV4 if v4 else oss2.Auth)(ak, sk), v4).get_object("sts")
    assert e.value.status == 403


def test_expired_sts_token(local_oss: LocalOss) -> None:
    ak, sk, token = local_oss.issue_sts(duration_s=-1)
    with pytest.raises(ServerError) as e:
        _bucket(local_oss, oss2.StsAuth(ak, sk, token)).get_object("k")
    assert e.value.code == "SecurityTokenExpired"


def test_virtual_host_addressing(local_oss: LocalOss) -> None:
    """``Host: test-bucket.localhost:PORT``: the bucket comes from the host name, the path is the key."""
    auth = oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)
    for method, body in [("PUT", b"vhost"), ("GET", None)]:
        url = f"{local_oss.endpoint}/v%2Fkey.txt"
        req = oss2.http.Request(method, url, data=body)
        auth._sign_request(req, "test-bucket", "v/key.txt")
        headers = {**req.headers, "Host": f"test-bucket.localhost:{local_oss.port}"}
        r = requests.request(method, url, data=body, headers=headers)
        assert r.status_code == 200, r.content
    assert r.content == b"vhost"
    path_style = oss2.Bucket(auth, local_oss.endpoint, "test-bucket")
    assert path_style.get_object("v/key.txt").read() == b"vhost"


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("test-bucket.oss-cn-hangzhou.aliyuncs.com", "/v%2Fkey.txt"),  # virtual-hosted, as ali-oss sends it
        ("test-bucket.oss-cn-hangzhou-internal.aliyuncs.com", "/v%2Fkey.txt"),  # FC's internal endpoint
        ("oss-cn-hangzhou.aliyuncs.com", "/test-bucket/v%2Fkey.txt"),  # path-style on OSS's region endpoint
    ],
)
def test_oss_own_host_names(local_oss: LocalOss, host: str, path: str) -> None:
    """A request sent to the local OSS's IP but carrying one of OSS's own host names in ``Host``."""
    auth = oss2.Auth(local_oss.access_key_id, local_oss.access_key_secret)
    for method, body in [("PUT", b"own host"), ("GET", None)]:
        url = f"{local_oss.endpoint}{path}"
        req = oss2.http.Request(method, url, data=body)
        auth._sign_request(req, "test-bucket", "v/key.txt")
        r = requests.request(method, url, data=body, headers={**req.headers, "Host": host})
        assert r.status_code == 200, r.content
    assert r.content == b"own host"


def test_signature_v2_headers_urls_and_additional_headers(local_oss: LocalOss) -> None:
    """OSS's V2 signature (oss2.AuthV2: HMAC-SHA256 over every query parameter), in the Authorization header and in
    presigned URLs, with additional signed headers; a wrong secret and a skewed x-oss-date are refused as OSS does."""
    v2 = oss2.Bucket(
        oss2.AuthV2(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint, "test-bucket"
    )
    v2.put_object("v2/a b+c.txt", b"Hello OSS")
    assert v2.get_object("v2/a b+c.txt", byte_range=(1, 3)).read() == b"ell"
    assert [o.key for o in v2.list_objects(prefix="v2/", delimiter="/", max_keys=10).object_list] == ["v2/a b+c.txt"]
    headers = {"Content-Length": "9", "custom-header": "abc"}
    url = v2.sign_url("PUT", "v2/url.txt", 600, slash_safe=True, headers=headers, additional_headers={"custom-header"})
    assert "x-oss-signature-version=OSS2" in url and "x-oss-additional-headers=custom-header" in url
    v2.put_object_with_url(url, b"Hello OSS", headers=headers)
    get_url = v2.sign_url("GET", "v2/url.txt", 600)
    assert v2.get_object_with_url(get_url, byte_range=(2, 3)).read() == b"ll"
    with pytest.raises(ServerError) as skewed:
        v2.list_objects("v2/", headers={"x-oss-date": oss2.utils.http_date(int(time.time()) - 24 * 3600)})
    assert (skewed.value.status, skewed.value.code) == (403, "RequestTimeTooSkewed")
    wrong = oss2.Bucket(oss2.AuthV2(local_oss.access_key_id, "wrong"), local_oss.endpoint, "test-bucket")
    with pytest.raises(ServerError) as mismatch:
        wrong.get_object("v2/url.txt")
    assert (mismatch.value.status, mismatch.value.code) == (403, "SignatureDoesNotMatch")
    tampered = get_url.replace("url.txt", "a%20b%2Bc.txt")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_a_v4_url_signed_for_no_region_names_the_credential(local_oss: LocalOss) -> None:
    """oss2 signs a V4 URL without a region with an empty one; OSS answers that the credential's region is invalid
    (oss2's own test_sign_v4_no_region checks these words)."""
    auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    url = oss2.Bucket(auth, local_oss.endpoint, "test-bucket").sign_url("PUT", "v4.txt", 600, headers={})
    with pytest.raises(ServerError) as refused:
        oss2.Bucket(auth, local_oss.endpoint, "test-bucket").put_object_with_url(url, b"x")
    assert (refused.value.status, refused.value.message) == (400, "The signing region in credential is invalid.")
