"""Request authentication as OSS does it: V1 (HMAC-SHA1) and V4 (HMAC-SHA256) header signatures and presigned URLs,
plus STS security tokens.

The server recomputes the string to sign from what arrived on the wire, exactly as oss2 builds it (``oss2/auth.py``),
so a wrong secret, an unknown key, a stale clock or an expired URL gets the same 403 a real bucket would give.
Everything here works on bytes: oss2 sends header values as UTF-8 and the string to sign is UTF-8.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from . import sigv2
from .errors import OssError, access_denied, invalid_argument, signature_mismatch
from .names import parse_http_date

MAX_SKEW_S = 15 * 60

# Sub-resources that take part in a V1 signature (oss2's ProviderAuth._subresource_key_set); list parameters do not.
V1_SUBRESOURCES = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "logging",
        "response-content-encoding",
        "acl",
        "uploadId",
        "uploads",
        "partNumber",
        "group",
        "link",
        "delete",
        "website",
        "location",
        "objectInfo",
        "objectMeta",
        "response-expires",
        "response-content-disposition",
        "cors",
        "lifecycle",
        "restore",
        "qos",
        "referer",
        "stat",
        "bucketInfo",
        "append",
        "position",
        "security-token",
        "live",
        "comp",
        "status",
        "vod",
        "startTime",
        "endTime",
        "x-oss-process",
        "symlink",
        "callback",
        "callback-var",
        "tagging",
        "encryption",
        "versions",
        "versioning",
        "versionId",
        "policy",
        "requestPayment",
        "x-oss-traffic-limit",
        "qosInfo",
        "asyncFetch",
        "x-oss-request-payer",
        "sequential",
        "inventory",
        "inventoryId",
        "continuation-token",
        "worm",
        "wormId",
        "wormExtend",
        "replication",
        "replicationLocation",
        "replicationProgress",
        "transferAcceleration",
        "cname",
        "metaQuery",
        "x-oss-ac-source-ip",
        "x-oss-ac-subnet-mask",
        "x-oss-ac-vpc-id",
        "x-oss-ac-forward-allow",
        "resourceGroup",
        "style",
        "styleName",
        "x-oss-async-process",
        "regionList",
        "x-oss-write-get-object-response",
        "bucketArchiveDirectRead",
        "httpsConfig",
        "redundancyTransition",
        "x-oss-target-redundancy-type",
        "x-oss-redundancy-transition-taskid",
        "accessPoint",
        "accessPointPolicy",
        "publicAccessBlock",
        "x-oss-access-point-name",
        "requesterQosInfo",
        "qosRequester",
        "resourcePoolInfo",
        "resourcePool",
        "resourcePoolBuckets",
    ]
)
V4_ALGORITHM = "OSS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_V4_URL_EXPIRES_S = 7 * 24 * 3600
V4_DEFAULT_SIGNED = ("content-type", "content-md5")

DEFAULT_ACCESS_KEY_ID = "LTAI5tLocalOssDevKey0001"
DEFAULT_ACCESS_KEY_SECRET = "LocalOssDevSecretNotForProduction01"  # documented, loopback-only default pair


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that signatures cover. Header names lowercase, values as raw wire bytes."""

    method: str
    bucket: str | None
    key: str | None
    params: Sequence[tuple[str, str]]  # decoded query parameters, in arrival order
    headers: Mapping[str, bytes]

    def param(self, name: str) -> str | None:
        for k, v in self.params:
            if k == name:
                return v
        return None

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode("latin-1")


@dataclass(frozen=True)
class StsToken:
    secret: str
    token: str
    expires: float


def is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _b64_hmac_sha1(secret: str, data: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha1).digest()).decode()


def v4_uri_encode(raw: str, keep_slash: bool) -> str:
    """RFC 3986 encoding as oss2's ``__v4_uri_encode``: unreserved kept, ``/`` kept only in the path."""
    out = []
    for b in raw.encode():
        c = chr(b)
        if (c.isascii() and (c.isalnum() or c in "_-~.")) or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def v4_signing_key(secret: str, date: str, region: str, product: str = "oss") -> bytes:
    key = hmac.new(f"aliyun_v4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class Authenticator:
    """Knows the accepted key pairs (static and STS-issued) and checks each request's signature."""

    def __init__(self, credentials: Mapping[str, str], region: str, *, max_skew_s: int = MAX_SKEW_S) -> None:
        self._static = dict(credentials)
        self._sts: dict[str, StsToken] = {}
        self._lock = threading.Lock()
        self.region = region
        self.max_skew_s = max_skew_s

    def issue_sts(self, duration_s: int = 3600) -> tuple[str, str, str]:
        """A temporary (ak, secret, security token) triple, as FC hands a function in ``context.credentials``."""
        ak = "STS." + secrets.token_hex(12)
        sk = secrets.token_urlsafe(30)
        token = "CAIS" + secrets.token_urlsafe(96)
        with self._lock:
            self._sts[ak] = StsToken(sk, token, time.time() + duration_s)
        return ak, sk, token

    def secret_for(self, ak: str, token: str | None) -> str:
        """The secret of key ``ak`` (static, or STS-issued with its ``token``), as every signature check needs it; the
        local IMM v2 endpoint checks its requests against the same store. Raises ``OssError`` InvalidAccessKeyId,
        InvalidSecurityToken or SecurityTokenExpired."""
        if ak in self._static:
            return self._static[ak]
        with self._lock:
            sts = self._sts.get(ak)
        if sts is None:
            raise OssError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
                extra={"OSSAccessKeyId": ak},
            )
        if not token or not hmac.compare_digest(token, sts.token):
            raise OssError(403, "InvalidSecurityToken", "The security token you provided is invalid.")
        if time.time() > sts.expires:
            raise OssError(403, "SecurityTokenExpired", "The security token you provided has expired.")
        return sts.secret

    def check_skew(self, when: datetime | None, now: float) -> None:
        if when is None:
            raise access_denied("Authorization requires a valid Date or x-oss-date header.")
        if abs(when.timestamp() - now) > self.max_skew_s:
            raise OssError(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                extra={
                    "RequestTime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "ServerTime": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "MaxAllowedSkewMilliseconds": str(self.max_skew_s * 1000),
                },
            )

    def authenticate(self, req: SignedRequest, now: float | None = None) -> str:
        """Return the access key id the request is signed with, or raise the OSS error a real bucket would answer."""
        now = time.time() if now is None else now
        authorization = req.header("authorization")
        if authorization.startswith("OSS "):
            return self._v1_header(req, authorization[4:], now)
        if authorization.startswith(V4_ALGORITHM):
            return self._v4_header(req, authorization[len(V4_ALGORITHM) :], now)
        if authorization.startswith(sigv2.V2_ALGORITHM + " "):
            return sigv2.verify_header(
                req, authorization[len(sigv2.V2_ALGORITHM) + 1 :], now, self.secret_for, self.check_skew
            )
        if authorization:
            raise invalid_argument("Authorization header is invalid.", "Authorization", authorization[:64])
        if req.param("Signature") is not None and req.param("OSSAccessKeyId") is not None:
            return self._v1_query(req, now)
        if req.param("x-oss-signature") is not None:
            if req.param("x-oss-signature-version") == sigv2.V2_ALGORITHM:
                return sigv2.verify_query(req, now, self.secret_for, self.check_skew)
            return self._v4_query(req, now)
        raise access_denied("You have no right to access this object because of bucket acl.")

    # -- V1 ---------------------------------------------------------------------------------------------------------

    @staticmethod
    def v1_string_to_sign(req: SignedRequest, date: bytes) -> bytes:
        oss_headers = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-oss-"))
        canon_headers = b"".join(k.encode() + b":" + v + b"\n" for k, v in oss_headers)
        resource = f"/{req.bucket}/{req.key or ''}" if req.bucket else "/"
        sub = sorted((k, v) for k, v in req.params if k in V1_SUBRESOURCES)
        if sub:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
        return b"\n".join(
            [
                req.method.encode(),
                req.headers.get("content-md5", b""),
                req.headers.get("content-type", b""),
                date,
                canon_headers + resource.encode(),
            ]
        )

    def _v1_header(self, req: SignedRequest, credential: str, now: float) -> str:
        ak, sep, provided = credential.strip().rpartition(":")
        if not sep or not ak:
            raise invalid_argument("Authorization header is invalid.", "Authorization", credential[:64])
        secret = self.secret_for(ak, req.header("x-oss-security-token"))
        date = req.headers.get("x-oss-date") or req.headers.get("date") or b""
        self.check_skew(parse_http_date(date.decode("latin-1")) if date else None, now)
        sts = self.v1_string_to_sign(req, date)
        if not hmac.compare_digest(_b64_hmac_sha1(secret, sts), provided):
            raise signature_mismatch(ak, provided, sts)
        return ak

    def _v1_query(self, req: SignedRequest, now: float) -> str:
        ak = req.param("OSSAccessKeyId") or ""
        provided = req.param("Signature") or ""
        expires = req.param("Expires") or ""
        secret = self.secret_for(ak, req.param("security-token"))
        if not expires.isdigit():
            raise invalid_argument("Expires is invalid.", "Expires", expires)
        if int(expires) < now:
            raise OssError(
                403,
                "AccessDenied",
                "Request has expired.",
                extra={
                    "Expires": datetime.fromtimestamp(int(expires), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "ServerTime": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                },
            )
        sts = self.v1_string_to_sign(req, expires.encode())
        if not hmac.compare_digest(_b64_hmac_sha1(secret, sts), provided):
            raise signature_mismatch(ak, provided, sts)
        return ak

    # -- V4 ---------------------------------------------------------------------------------------------------------

    def v4_canonical_request(self, req: SignedRequest, additional: Sequence[str], skip_param: str | None) -> bytes:
        uri = f"/{req.bucket}/{req.key or ''}" if req.bucket else "/"
        encoded = sorted((v4_uri_encode(k, False), v4_uri_encode(v, False)) for k, v in req.params if k != skip_param)
        query = "&".join(f"{k}={v}" if v else k for k, v in encoded)
        extra = {h.lower() for h in additional}
        signed = sorted(
            (k, v) for k, v in req.headers.items() if k.startswith("x-oss-") or k in V4_DEFAULT_SIGNED or k in extra
        )
        headers = b"".join(k.encode() + b":" + v.strip() + b"\n" for k, v in signed)
        payload = req.headers.get("x-oss-content-sha256", UNSIGNED_PAYLOAD.encode())
        return b"\n".join(
            [
                req.method.encode(),
                v4_uri_encode(uri, True).encode(),
                query.encode(),
                headers,
                ";".join(sorted(extra)).encode(),
                payload,
            ]
        )

    def _v4_verify(
        self,
        req: SignedRequest,
        credential: str,
        provided: str,
        date_time: str,
        additional: Sequence[str],
        skip_param: str | None,
        token: str | None,
    ) -> str:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aliyun_v4_request":
            raise invalid_argument("Invalid credential in Authorization header.", "Credential", credential)
        ak, date, region, product, _ = parts
        secret = self.secret_for(ak, token)
        if date != date_time[:8]:
            raise invalid_argument("Invalid signing date in Authorization header.", "Credential", credential)
        if region != self.region and skip_param is None:  # OSS's answer (EC 0002-00000226) to another region's client
            raise invalid_argument("Invalid signing region in Authorization header.", ec="0002-00000226")
        if region != self.region:  # a presigned URL: OSS names the credential (oss2's own test_sign_v4_no_region)
            raise invalid_argument(
                "The signing region in credential is invalid.", "x-oss-credential", credential, ec="0002-00000715"
            )
        if product != "oss":
            raise invalid_argument("Invalid signing product in Authorization header.", ec="0002-00000227")
        canonical = self.v4_canonical_request(req, additional, skip_param)
        scope = f"{date}/{region}/{product}/aliyun_v4_request"
        string_to_sign = f"{V4_ALGORITHM}\n{date_time}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}".encode()
        expected = hmac.new(v4_signing_key(secret, date, region, product), string_to_sign, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, provided):
            raise signature_mismatch(ak, provided, string_to_sign, canonical)
        return ak

    @staticmethod
    def _parse_v4_time(value: str) -> datetime | None:
        try:
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return None

    def _v4_header(self, req: SignedRequest, rest: str, now: float) -> str:
        fields: dict[str, str] = {}
        for item in rest.split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value
        if "Credential" not in fields or "Signature" not in fields:
            raise invalid_argument("Authorization header is invalid.", "Authorization", rest[:64])
        date_time = req.header("x-oss-date")
        self.check_skew(self._parse_v4_time(date_time), now)
        payload_hash = req.header("x-oss-content-sha256")
        if payload_hash != UNSIGNED_PAYLOAD and not is_sha256_hex(payload_hash):
            raise invalid_argument(
                "The value of the x-oss-content-sha256 header is invalid.",
                "x-oss-content-sha256",
                payload_hash,
                ec="0002-00000214",
            )
        additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
        return self._v4_verify(
            req,
            fields["Credential"],
            fields["Signature"],
            date_time,
            additional,
            None,
            req.header("x-oss-security-token"),
        )

    def _v4_query(self, req: SignedRequest, now: float) -> str:
        if req.param("x-oss-signature-version") != V4_ALGORITHM:
            raise invalid_argument("Invalid x-oss-signature-version.", "x-oss-signature-version", "")
        date_time = req.param("x-oss-date") or ""
        when = self._parse_v4_time(date_time)
        expires = req.param("x-oss-expires") or ""
        if when is None or not expires.isdigit():
            raise access_denied("Invalid x-oss-date or x-oss-expires in the query string.")
        if not 1 <= int(expires) <= MAX_V4_URL_EXPIRES_S:
            raise invalid_argument(
                f"x-oss-expires must be between 1 and {MAX_V4_URL_EXPIRES_S} seconds (7 days).",
                "x-oss-expires",
                expires,
                ec="0002-00000232",
            )
        if when.timestamp() + int(expires) < now:
            raise access_denied("Request has expired.")
        additional = [h for h in (req.param("x-oss-additional-headers") or "").split(";") if h]
        return self._v4_verify(
            req,
            req.param("x-oss-credential") or "",
            req.param("x-oss-signature") or "",
            date_time,
            additional,
            "x-oss-signature",
            req.param("x-oss-security-token"),
        )

    # -- PostObject -------------------------------------------------------------------------------------------------

    def verify_post_policy(self, fields: Mapping[str, str], now: float | None = None) -> str:
        """Check the signature over a browser-upload policy (V1 and V4 forms); return the access key id."""
        now = time.time() if now is None else now
        policy = fields.get("policy", "")
        token = fields.get("x-oss-security-token")
        if fields.get("x-oss-signature-version") == V4_ALGORITHM:
            credential = fields.get("x-oss-credential", "")
            parts = credential.split("/")
            if len(parts) != 5:
                raise invalid_argument("Invalid x-oss-credential.", "x-oss-credential", credential)
            ak, date, region, product, _ = parts
            secret = self.secret_for(ak, token)
            if region != self.region:
                raise invalid_argument(
                    "The signing region in credential is invalid.", "x-oss-credential", credential, ec="0002-00000715"
                )
            if product != "oss" or date != fields.get("x-oss-date", "")[:8]:
                raise invalid_argument(
                    "The signing date or product in credential is invalid.", "x-oss-credential", credential
                )
            expected = hmac.new(
                v4_signing_key(secret, date, region, product), policy.encode(), hashlib.sha256
            ).hexdigest()
            provided = fields.get("x-oss-signature", "")
        else:
            ak = fields.get("OSSAccessKeyId", "")
            if not ak:
                raise access_denied("Anonymous access is forbidden for this operation.")
            secret = self.secret_for(ak, token)
            expected = _b64_hmac_sha1(secret, policy.encode())
            provided = fields.get("Signature", "")
        if not hmac.compare_digest(expected, provided):
            raise signature_mismatch(ak, provided, policy.encode())
        return ak
