"""One parsed OSS request (:class:`Call`) and the request-side helpers every handler shares.

Handlers read what the client sent through a :class:`Call`: addressing, decoded query parameters, raw header bytes,
and the body (an XML document read into memory within a bound, or an upload streamed into a blob writer).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import checksums, xmlcodec
from .auth import is_sha256_hex
from .errors import OssError, invalid_argument
from .limits import check_user_meta, tags_from_pairs
from .storage import BlobWriter, Storage

MAX_PUT_SIZE = 5 * 1024**3  # single PUT / append / part: 5 GB
OWNER_ID = "1000000000000000"
# Standard headers OSS stores with an object and returns on GET/HEAD.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
STORAGE_CLASSES = ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive")
OBJECT_ACLS = ("default", "private", "public-read", "public-read-write")
SSE_HEADERS = (
    "x-oss-server-side-encryption",
    "x-oss-server-side-data-encryption",
    "x-oss-server-side-encryption-key-id",
)
# The KMS key of SSE-KMS when a request names none (on OSS: the OSS-managed key of the region).
DEFAULT_KMS_KEY_ID = "local-oss-managed-kms-key"


def new_request_id() -> str:
    return secrets.token_hex(12).upper()


def wire_text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 where valid (oss2 sends UTF-8), else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def to_wire(text: str) -> str:
    """Text for a response header: Starlette encodes header values as Latin-1, so pre-encode UTF-8 to survive it."""
    return text.encode("utf-8").decode("latin-1")


def parse_query(qs: bytes) -> list[tuple[str, str]]:
    """Query parameters, percent-decoded as UTF-8; ``+`` stays a plus (OSS clients escape it)."""
    out = []
    for item in qs.decode("latin-1").split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        out.append((unquote(k), unquote(v)))
    return out


@dataclass
class Call:
    """One parsed request."""

    request: Request
    request_id: str
    method: str
    bucket: str | None
    key: str | None
    params: list[tuple[str, str]]
    headers: dict[str, bytes]
    source_ip: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def b(self) -> str:
        """The bucket, for operations routed only when there is one."""
        assert self.bucket is not None
        return self.bucket

    @property
    def k(self) -> str:
        """The key, for operations routed only when there is one."""
        assert self.key is not None
        return self.key

    @property
    def level(self) -> str:
        """What the request addresses: ``service`` (no bucket), ``bucket`` or ``object``."""
        return "service" if self.bucket is None else "bucket" if self.key is None else "object"

    @property
    def is_form_post(self) -> bool:
        """A browser form upload (PostObject): signed by its policy, not by an Authorization header."""
        return (
            self.method == "POST"
            and self.level == "bucket"
            and self.header("content-type").lower().startswith("multipart/form-data")
        )

    def has(self, name: str) -> bool:
        return name in self.query

    def header(self, name: str, default: str = "") -> str:
        raw = self.headers.get(name)
        return wire_text(raw) if raw is not None else default

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise invalid_argument(f"Argument {name} must be an integer between {low} to {high}.", name, raw)
        return int(raw)

    @property
    def url_encoded(self) -> bool:
        """``encoding-type=url``: keys in the answer are percent-encoded."""
        return self.query.get("encoding-type") == "url"

    # -- headers that describe the object being written ---------------------------------------------------------------

    def forbid_overwrite(self) -> bool:
        value = self.header("x-oss-forbid-overwrite").strip().lower()
        if value in ("", "false"):
            return False
        if value == "true":
            return True
        raise invalid_argument("Invalid forbid overwrite header value.", "x-oss-forbid-overwrite", value)

    def user_meta(self) -> dict[str, str]:
        """The ``x-oss-meta-*`` headers; MetadataTooLarge over OSS's 8 KB."""
        meta = {k: wire_text(v) for k, v in self.headers.items() if k.startswith("x-oss-meta-")}
        check_user_meta(meta)
        return meta

    def stored_headers(self) -> dict[str, str]:
        return {k: wire_text(v) for k, v in self.headers.items() if k in STORED_HEADERS}

    def tagging_header(self) -> dict[str, str]:
        raw = self.header("x-oss-tagging")
        if not raw:
            return {}
        pairs = []
        for item in raw.split("&"):
            k, _, v = item.partition("=")
            if not k:
                raise invalid_argument("Invalid tag.", "x-oss-tagging", raw)
            pairs.append((unquote(k), unquote(v)))
        return tags_from_pairs(pairs)

    def storage_class(self, default: str = "Standard") -> str:
        """``x-oss-storage-class``: the class of the object being written (OSS's five names, case as OSS spells them)."""
        if "x-oss-storage-class" not in self.headers:
            return default
        value = self.header("x-oss-storage-class").strip()
        if value not in STORAGE_CLASSES:
            raise invalid_argument("Invalid storage class.", "x-oss-storage-class", value, ec="0017-00000132")
        return value

    def object_acl(self) -> str | None:
        """``x-oss-object-acl``, or None when the request names none."""
        if "x-oss-object-acl" not in self.headers:
            return None
        value = self.header("x-oss-object-acl").strip()
        if value not in OBJECT_ACLS:
            raise invalid_argument("no such object access control exists", "x-oss-object-acl", value)
        return value

    def server_side_encryption(self) -> tuple[str, str, str]:
        """``(algorithm, data cipher, KMS key id)`` a write asks for: AES256, SM4 or KMS (the last optionally with
        SM4 data and a key id; without one, the OSS-managed key); empty strings when it asks for none."""
        sse = self.header("x-oss-server-side-encryption").strip()
        if not sse:
            return "", "", ""
        if sse not in ("AES256", "KMS", "SM4"):
            raise OssError(400, "InvalidEncryptionAlgorithmError", "The Encryption request you specified is not valid. "
                           "Supported value: AES256/KMS/SM4", extra={"ArgumentValue": sse})  # fmt: skip
        if sse != "KMS":
            return sse, "", ""
        data = self.header("x-oss-server-side-data-encryption").strip()
        if data not in ("", "SM4"):
            raise invalid_argument("Invalid data encryption algorithm.", "x-oss-server-side-data-encryption", data)
        return sse, data, self.header("x-oss-server-side-encryption-key-id").strip() or DEFAULT_KMS_KEY_ID

    def refuse_encryption_headers(self) -> None:
        """UploadPart and CompleteMultipartUpload take the encryption of their InitiateMultipartUpload: naming one is
        InvalidArgument (oss2's suite checks it)."""
        for name in SSE_HEADERS:
            if name in self.headers:
                raise invalid_argument(f"{name} is not allowed here.", name, self.header(name))

    def content_type(self) -> str:
        return self.header("content-type") or "application/octet-stream"

    # -- bodies ---------------------------------------------------------------------------------------------------------

    def signed_payload_hash(self) -> str | None:
        """The body's SHA-256 (hex) a V4 signature covers; None for UNSIGNED-PAYLOAD (what the SDKs send)."""
        value = self.header("x-oss-content-sha256")
        return value.lower() if is_sha256_hex(value) else None

    def check_payload_hash(self, expected: str | None, digest: Any) -> None:
        if expected is not None and digest.hexdigest() != expected:
            raise invalid_argument(
                "The x-oss-content-sha256 you specified did not match the request body.",
                "x-oss-content-sha256",
                expected,
            )

    async def read_xml_body(self) -> bytes:
        body = b""
        async for chunk in self.request.stream():
            body += chunk
            if len(body) > xmlcodec.MAX_XML_BODY:
                raise OssError(400, "EntityTooLarge", "Your proposed request body exceeds the maximum allowed size.")
        md5 = self.header("content-md5")
        if md5 and not checksums.content_md5_matches(md5, hashlib.md5(body).digest()):
            raise invalid_digest()
        self.check_payload_hash(self.signed_payload_hash(), hashlib.sha256(body))
        return body

    async def receive_body(self, storage: Storage, init_crc: int = 0) -> BlobWriter:
        """Stream the request body to a temp blob (never into memory), checking size limit and Content-MD5."""
        declared = self.header("content-length")
        if declared.isdigit() and int(declared) > MAX_PUT_SIZE:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        expected_sha256 = self.signed_payload_hash()
        sha256 = hashlib.sha256() if expected_sha256 is not None else None
        w = await run_in_threadpool(storage.new_writer, init_crc=init_crc, max_size=MAX_PUT_SIZE)
        try:
            async for chunk in self.request.stream():
                if chunk:
                    w.write(chunk)
                    if sha256 is not None:
                        sha256.update(chunk)
            md5 = self.header("content-md5")
            if md5 and not checksums.content_md5_matches(md5, w.md5):
                raise invalid_digest()
            self.check_payload_hash(expected_sha256, sha256)
            await run_in_threadpool(w.finish)
        except BaseException:
            w.discard()
            raise
        return w


def invalid_digest() -> OssError:
    return OssError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")


def method_not_allowed() -> OssError:
    return OssError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")


def not_implemented(what: str) -> OssError:
    return OssError(501, "NotImplemented", f"The local OSS does not implement {what}.")


def xml_response(root: Any, status: int = 200) -> Response:
    return Response(xmlcodec.to_bytes(root), status, media_type="application/xml")


def xml_bytes_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="application/xml")
