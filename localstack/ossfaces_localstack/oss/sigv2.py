"""OSS's signature version 2 (``OSS2``), as oss2's ``AuthV2`` signs: HMAC-SHA256 over every query parameter.

Header: ``Authorization: OSS2 AccessKeyId:<id>[,AdditionalHeaders:<a;b>],Signature:<base64>``. Presigned URL:
``x-oss-signature-version=OSS2``, ``x-oss-access-key-id``, ``x-oss-expires`` (an absolute Unix time),
``[x-oss-additional-headers]``, ``x-oss-signature``. String to sign::

    VERB \\n Content-MD5 \\n Content-Type \\n Date (the URL: its expiry) \\n
    "name:value\\n" per x-oss-* and additional header, sorted \\n-less, then the additional names a;b \\n
    resource: uri-encoded "/bucket/key" (every byte but A-Z a-z 0-9 _ - ~ . encoded, "/" too), then "?" and every
    query parameter but the signature, uri-encoded, sorted

(``oss2.auth.ProviderAuthV2``: ``_sign_request``, ``_sign_url``, ``__get_bytes_to_sign``.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from .errors import access_denied, invalid_argument, signature_mismatch
from .names import parse_http_date

SecretFor = Callable[[str, "str | None"], str]  # (access key id, STS token) → secret, or raise (Authenticator)
CheckSkew = Callable[["datetime | None", float], None]  # (request time, now) → raise when too far apart


class SignedRequest(Protocol):  # auth.SignedRequest (a frozen dataclass)
    @property
    def method(self) -> str: ...

    @property
    def bucket(self) -> str | None: ...

    @property
    def key(self) -> str | None: ...

    @property
    def params(self) -> Sequence[tuple[str, str]]: ...

    @property
    def headers(self) -> Mapping[str, bytes]: ...

    def param(self, name: str) -> str | None: ...

    def header(self, name: str) -> str: ...


V2_ALGORITHM = "OSS2"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~.")


def v2_uri_encode(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def v2_string_to_sign(req: SignedRequest, date: bytes, additional: Sequence[str], skip_param: str | None) -> bytes:
    extra = {h.lower() for h in additional}
    signed = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-oss-") or k in extra)
    headers = b"".join(k.encode() + b":" + v + b"\n" for k, v in signed)
    resource = v2_uri_encode(f"/{req.bucket}/{req.key or ''}" if req.bucket else "/")
    params = sorted((v2_uri_encode(k), v2_uri_encode(v)) for k, v in req.params if k != skip_param)
    if params:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in params)
    return b"\n".join(
        [
            req.method.encode(),
            req.headers.get("content-md5", b""),
            req.headers.get("content-type", b""),
            date,
            headers + ";".join(sorted(extra)).encode(),
            resource.encode(),
        ]
    )


def _check(ak: str, secret: str, provided: str, string_to_sign: bytes) -> str:
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, provided):
        raise signature_mismatch(ak, provided, string_to_sign)
    return ak


def verify_header(req: SignedRequest, rest: str, now: float, secret_for: SecretFor, check_skew: CheckSkew) -> str:
    """``Authorization: OSS2 …``: the access key id, or the error OSS answers."""
    fields = dict(item.strip().partition(":")[::2] for item in rest.split(","))
    ak, provided = fields.get("AccessKeyId", ""), fields.get("Signature", "")
    if not ak or not provided:
        raise invalid_argument("Authorization header is invalid.", "Authorization", rest[:64])
    secret = secret_for(ak, req.header("x-oss-security-token"))
    date = req.headers.get("date", b"")
    skew_date = req.headers.get("x-oss-date") or date
    check_skew(parse_http_date(skew_date.decode("latin-1")) if skew_date else None, now)
    additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
    return _check(ak, secret, provided, v2_string_to_sign(req, date, additional, None))


def verify_query(req: SignedRequest, now: float, secret_for: SecretFor, check_skew: CheckSkew) -> str:
    """A URL presigned with ``x-oss-signature-version=OSS2``."""
    ak = req.param("x-oss-access-key-id") or ""
    provided = req.param("x-oss-signature") or ""
    expires = req.param("x-oss-expires") or ""
    secret = secret_for(ak, req.param("security-token"))
    if not expires.isdigit():
        raise invalid_argument("x-oss-expires is invalid.", "x-oss-expires", expires)
    if int(expires) < now:
        raise access_denied("Request has expired.")
    if req.header("x-oss-date"):  # a client's clock sent along is checked as for a signed header
        check_skew(parse_http_date(req.header("x-oss-date")), now)
    additional = [h for h in (req.param("x-oss-additional-headers") or "").split(";") if h]
    return _check(ak, secret, provided, v2_string_to_sign(req, expires.encode(), additional, "x-oss-signature"))
