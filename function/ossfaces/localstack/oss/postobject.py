"""PostObject (browser form uploads): a streaming ``multipart/form-data`` reader and OSS's policy checks.

OSS requires the ``file`` field to come last, so every other field is small and read into memory while the file is
streamed straight into a blob writer; nothing the size of the upload is ever held in memory.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from .errors import OssError, access_denied, invalid_argument

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 128


def boundary_of(content_type: str) -> bytes:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise OssError(
            400, "RequestIsNotMultiPartContent", "Bucket POST must be of the enclosure-type multipart/form-data."
        )
    for p in params.split(";"):
        name, _, value = p.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise invalid_argument("multipart/form-data without a boundary", "Content-Type", content_type)


def _disposition(headers: bytes) -> tuple[str, str | None]:
    name, filename = "", None
    for line in headers.split(b"\r\n"):
        k, _, v = line.decode("utf-8", "replace").partition(":")
        if k.strip().lower() != "content-disposition":
            continue
        for item in v.split(";"):
            pk, _, pv = item.strip().partition("=")
            pv = pv.strip().strip('"')
            if pk == "name":
                name = pv
            elif pk == "filename":
                filename = pv
    return name, filename


def _part_content_type(headers: bytes) -> str | None:
    for line in headers.split(b"\r\n"):
        k, _, v = line.decode("utf-8", "replace").partition(":")
        if k.strip().lower() == "content-type":
            return v.strip()
    return None


async def read_form(
    stream: AsyncIterator[bytes], boundary: bytes, on_file: Callable[[bytes], None]
) -> tuple[dict[str, str], str | None, str | None]:
    """Parse the form; file bytes go to ``on_file``. Returns (fields, file name, file part Content-Type)."""
    delim = b"\r\n--" + boundary
    buf = b"\r\n"  # so the first boundary looks like every other one
    fields: dict[str, str] = {}
    it = stream.__aiter__()
    eof = False

    async def more() -> bool:
        nonlocal buf, eof
        if eof:
            return False
        try:
            buf += await it.__anext__()
            return True
        except StopAsyncIteration:
            eof = True
            return False

    # preamble up to the first boundary
    while (i := buf.find(delim)) < 0:
        if len(buf) > MAX_FIELD_BYTES or not await more():
            raise invalid_argument("malformed multipart/form-data body")
    buf = buf[i + len(delim) :]
    filename: str | None = None
    file_ctype: str | None = None
    while True:
        while len(buf) < 2 and await more():
            pass
        if buf.startswith(b"--"):
            break  # closing boundary
        while (h := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > MAX_FIELD_BYTES or not await more():
                raise invalid_argument("malformed multipart/form-data body")
        headers, buf = buf[2:h], buf[h + 4 :]
        name, fname = _disposition(headers)
        if name.lower() == "file":
            filename, file_ctype = fname, _part_content_type(headers)
            while (j := buf.find(delim)) < 0:
                keep = len(delim)
                if len(buf) > keep:
                    on_file(buf[:-keep])
                    buf = buf[-keep:]
                if not await more():
                    raise invalid_argument("malformed multipart/form-data body")
            on_file(buf[:j])
            buf = buf[j + len(delim) :]
            break  # OSS ignores everything after the file field
        while (j := buf.find(delim)) < 0:
            if len(buf) > MAX_FIELD_BYTES or not await more():
                raise invalid_argument("malformed multipart/form-data body")
        if len(fields) >= MAX_FIELDS:
            raise invalid_argument("too many form fields")
        fields[name] = buf[:j].decode("utf-8", "replace")
        buf = buf[j + len(delim) :]
    # drain the rest so the connection stays usable
    while await more():
        buf = b""
    return fields, filename, file_ctype


def lowercase_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """OSS matches form field names case-insensitively, except the policy's own spelling of ``key``."""
    return {k.lower(): v for k, v in fields.items()}


def check_policy(policy_b64: str, form: Mapping[str, str], bucket: str, size: int, now: float | None = None) -> None:
    """Enforce the policy's expiration and conditions (eq, starts-with, content-length-range, exact matches)."""
    now = time.time() if now is None else now
    try:
        policy: dict[str, Any] = json.loads(base64.b64decode(policy_b64))
    except (ValueError, TypeError):
        raise invalid_argument("Invalid Policy: Invalid JSON.", "policy", policy_b64[:64]) from None
    expiration = policy.get("expiration")
    if not isinstance(expiration, str):
        raise invalid_argument("Invalid Policy: Policy expiration must be specified.", "policy", "")
    try:
        expires = datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid_argument("Invalid Policy: Invalid 'expiration' value.", "policy", expiration) from None
    if expires < now:
        raise access_denied("Invalid according to Policy: Policy expired.")
    values = {**lowercase_fields(form), "bucket": bucket}

    def field(name: str) -> str:
        return values.get(name.lstrip("$").lower(), "")

    for cond in policy.get("conditions", []):
        if isinstance(cond, dict):
            for name, expected in cond.items():
                if field(name) != str(expected):
                    raise access_denied(
                        f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}", "{expected}"]'
                    )
        elif isinstance(cond, list) and len(cond) == 3:
            op = str(cond[0]).lower()
            if op == "content-length-range":
                low, high = int(cond[1]), int(cond[2])
                if not low <= size <= high:
                    code = "EntityTooLarge" if size > high else "EntityTooSmall"
                    raise OssError(
                        400, code, f"Your proposed upload size {size} is outside the policy range [{low}, {high}]."
                    )
            elif (op == "eq" and field(str(cond[1])) != str(cond[2])) or (
                op == "starts-with" and not field(str(cond[1])).startswith(str(cond[2]))
            ):
                raise access_denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(cond)}")
            elif op not in ("eq", "starts-with", "content-length-range", "in", "not-in"):
                raise invalid_argument(f"Invalid Policy: Invalid condition operator {op}.", "policy", op)
