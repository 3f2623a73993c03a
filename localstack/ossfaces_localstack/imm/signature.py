"""IMM's side of Alibaba Cloud's V3 request signature (ACS3-HMAC-SHA256), as ``alibabacloud-tea-openapi`` signs.

The client sends ``Authorization: ACS3-HMAC-SHA256 Credential=<key id>,SignedHeaders=<a;b;c>,Signature=<hex>`` and
``x-acs-content-sha256: hex(sha256(body))``. The server rebuilds the canonical request from what arrived::

    METHOD \\n PATH \\n sorted query (RFC 3986 encoded) \\n "name:value\\n" per signed header \\n signed;headers \\n body hash

and compares ``hex(hmac_sha256(secret, "ACS3-HMAC-SHA256\\n" + hex(sha256(canonical request))))``. Every ``x-acs-*``
header and ``host`` must be signed; the date must be within 15 minutes; a nonce is accepted once.
(Alibaba Cloud "Request syntax and signature method V3"; ``alibabacloud_tea_openapi.utils.Utils.get_authorization``.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from .errors import ImmError
from .nonces import NonceStore

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
REQUIRED_SIGNED = (
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
)

# access key id, security token (or None) → secret; raises ImmError for an unknown key or a bad token
KeyStore = Callable[[str, "str | None"], str]


@dataclass(frozen=True)
class Request:
    """What the signature covers. Header names lower-case; query parameters decoded, in arrival order."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes


def _encode(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_request(request: Request, signed: Sequence[str], payload_hash: str) -> str:
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(request.query))
    headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
    return f"{request.method}\n{request.path or '/'}\n{query}\n{headers}\n{';'.join(signed)}\n{payload_hash}"


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret: str, to_sign: str) -> str:
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _incomplete(message: str) -> ImmError:
    return ImmError(
        400, "IncompleteSignature", f"The request signature does not conform to Aliyun standards. {message}"
    )


class Verifier:
    """Checks requests against a key store; remembers nonces for twice the skew window (a replay is refused), in
    ``nonces`` (SQLite: across restarts) or in memory."""

    def __init__(self, keys: KeyStore, *, max_skew_s: int = MAX_SKEW_S, nonces: NonceStore | None = None) -> None:
        self.keys = keys
        self.max_skew_s = max_skew_s
        self.nonces = nonces or NonceStore(None, 2 * max_skew_s)

    def verify(self, request: Request, now: float | None = None) -> str:
        """The access key id the request is signed with, or raise the ImmError IMM's gateway would answer."""
        now = time.time() if now is None else now
        key_id = self.verify_head(request, now)
        self.check_body(request, request.body)
        self.use_nonce(request, now)
        return key_id

    def verify_head(self, request: Request, now: float | None = None) -> str:
        """Everything the headers and query prove, before a byte of the body is read: the signature over the body's
        declared hash (``x-acs-content-sha256``), the key, the token, the date. The body is checked against that hash
        once read (``check_body``), and only then is the nonce used (``use_nonce``)."""
        now = time.time() if now is None else now
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith(ALGORITHM + " "):
            raise _incomplete(f"Authorization must start with {ALGORITHM}.")
        fields = dict(
            part.strip().split("=", 1) for part in authorization[len(ALGORITHM) + 1 :].split(",") if "=" in part
        )
        key_id, signed_list, provided = (fields.get(n, "") for n in ("Credential", "SignedHeaders", "Signature"))
        if not (key_id and signed_list and provided):
            raise _incomplete("Credential, SignedHeaders and Signature are required.")
        signed = signed_list.split(";")
        if signed != sorted(signed) or any(name != name.lower() for name in signed):
            raise _incomplete("SignedHeaders must be lower-case and sorted.")
        acs = {name for name in request.headers if name.startswith("x-acs-")}
        missing = [name for name in (*REQUIRED_SIGNED, *sorted(acs)) if name not in signed]
        if missing:
            raise _incomplete(f"These headers must be signed: {', '.join(dict.fromkeys(missing))}.")
        payload_hash = request.headers.get("x-acs-content-sha256", "")
        self._check_date(request.headers.get("x-acs-date", ""), now)
        token = request.headers.get("x-acs-security-token") or None
        if token and request.headers.get("x-acs-accesskey-id", key_id) != key_id:
            raise ImmError(
                400, "InvalidSecurityToken.MismatchWithAccessKey", "The security token does not match the access key."
            )
        secret = self.keys(key_id, token)
        canonical = canonical_request(request, signed, payload_hash)
        to_sign = string_to_sign(canonical)
        if not hmac.compare_digest(sign(secret, to_sign), provided):
            raise ImmError(
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{to_sign}",
            )
        return key_id

    @staticmethod
    def check_body(request: Request, body: bytes) -> None:
        if request.headers.get("x-acs-content-sha256", "") != hashlib.sha256(body).hexdigest():
            raise ImmError(
                400, "InvalidParameter.ContentSha256", "x-acs-content-sha256 does not match the request body."
            )

    def use_nonce(self, request: Request, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if not self.nonces.use(request.headers.get("x-acs-signature-nonce", ""), now):
            raise ImmError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _check_date(self, value: str, now: float) -> None:
        try:
            when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise ImmError(400, "InvalidTimeStamp.Format", f"Specified time stamp {value!r} is not valid.") from None
        if abs(when - now) > self.max_skew_s:
            raise ImmError(400, "InvalidTimeStamp.Expired", f"Specified time stamp or date value is expired: {value}.")
