"""Conditional requests and ranges, shared by GET, processed GET and the copy operations."""

from __future__ import annotations

from ..call import Call
from ..errors import OssError
from ..names import parse_http_date
from ..storage import ObjectMeta


def parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` for a single satisfiable range; None to send the whole object; InvalidRange if unsatisfiable."""
    unit, _, ranges = spec.partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    first_s, dash, last_s = ranges.strip().partition("-")
    if not dash:
        return None
    try:
        if first_s == "":
            n = int(last_s)
            if n <= 0 or size == 0:
                raise invalid_range(size)
            return max(0, size - n), size - 1
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError:
        return None
    if first < 0 or last < first:
        return None
    if first >= size:
        raise invalid_range(size)
    return first, min(last, size - 1)


def invalid_range(size: int) -> OssError:
    return OssError(
        416, "InvalidRange", "The requested range cannot be satisfied", headers={"Content-Range": f"bytes */{size}"}
    )


def _etag_listed(header: str, etag: str) -> bool:
    """If-Match / If-None-Match test; oss2's resumable download sends the ETag without quotes, so accept both."""
    tokens = [t.strip().strip('"') for t in header.split(",")]
    return "*" in tokens or etag in tokens


def _failed(condition: str) -> OssError:
    return OssError(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        extra={"Condition": condition},
    )


def check_conditions(c: Call, meta: ObjectMeta, prefix: str = "") -> bool:
    """Evaluate If-* (or x-oss-copy-source-if-*) headers; True means "not modified" (304 for GET).

    With a ``prefix`` (the copy operations) every failed condition is a 412.
    """
    mtime = meta.mtime.replace(microsecond=0)
    if_match = c.header(prefix + "if-match")
    if if_match and not _etag_listed(if_match, meta.etag):
        raise _failed("If-Match")
    unmodified_s = c.header(prefix + "if-unmodified-since")
    if_unmodified = parse_http_date(unmodified_s) if unmodified_s else None
    if if_unmodified is not None and mtime > if_unmodified:
        raise _failed("If-Unmodified-Since")
    if_none_match = c.header(prefix + "if-none-match")
    if if_none_match:
        if _etag_listed(if_none_match, meta.etag):
            if prefix:
                raise _failed("If-None-Match")
            return True
        return False
    modified_s = c.header(prefix + "if-modified-since")
    if_modified = parse_http_date(modified_s) if modified_s else None
    if if_modified is not None and mtime <= if_modified:
        if prefix:
            raise _failed("If-Modified-Since")
        return True
    return False
