"""What OSS accepts as bucket and object names, and the timestamp formats it writes.

Keys arrive percent-encoded in the request path; they are decoded to bytes first and must then be valid UTF-8.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from .errors import OssError, invalid_object_name

MAX_KEY_BYTES = 1023
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def check_bucket_name(name: str) -> None:
    if not _BUCKET_RE.match(name):
        raise OssError(400, "InvalidBucketName", "The specified bucket is not valid.", extra={"BucketName": name})


def decode_key(raw: bytes) -> str:
    """Validate an object name given as UTF-8 bytes and return it as text, or raise InvalidObjectName."""
    if not raw:
        raise invalid_object_name("The Object name can not be empty")
    if len(raw) > MAX_KEY_BYTES:
        raise invalid_object_name("The Length of Object name must be less than 1024")
    try:
        key = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_object_name() from None
    if key[0] in "/\\":
        raise invalid_object_name()
    return key


def check_key(key: str) -> str:
    """Validate a key that arrived as text (XML bodies, form fields, copy sources)."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_object_name() from None
    return decode_key(raw)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def http_date(t: datetime) -> str:
    """RFC 1123 as OSS writes Last-Modified / Date: ``Tue, 07 Jan 2025 08:09:10 GMT``."""
    return format_datetime(t.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def iso8601(t: datetime) -> str:
    """Timestamps inside XML bodies: ``2025-01-07T08:09:10.000Z``."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
