"""PostObject (browser form uploads): the ``multipart/form-data`` body read with python-multipart's streaming parser,
and OSS's policy checks.

OSS requires the ``file`` field to come last, so every other field is small and read into memory while the file is
streamed straight into a blob writer; nothing the size of the upload is ever held in memory.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import OssError, access_denied, invalid_argument

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 128


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    if kind.lower() != b"multipart/form-data":
        raise OssError(
            400, "RequestIsNotMultiPartContent", "Bucket POST must be of the enclosure-type multipart/form-data."
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise invalid_argument("multipart/form-data without a boundary", "Content-Type", content_type)
    return boundary


class _FormReader:
    """python-multipart callbacks: small fields into memory, the ``file`` field's bytes to ``on_file``."""

    def __init__(self, on_file: Callable[[bytes], None]) -> None:
        self.on_file = on_file
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_ctype: str | None = None
        self.file_done = False
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._in_file = False
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._data = {}, bytearray()
        self._header_name = self._header_value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._in_file = self._name.lower() == "file" and not self.file_done
        if self._in_file:
            filename = params.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename is not None else None
            ctype = self._headers.get(b"content-type")
            self.file_ctype = ctype.decode("utf-8", "replace").strip() if ctype is not None else None
        elif not self.file_done and len(self.fields) >= MAX_FIELDS:
            raise invalid_argument("too many form fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file_done:
            return  # OSS ignores everything after the file field
        if self._in_file:
            self.on_file(data[start:end])
            return
        self._data += data[start:end]
        if len(self._data) > MAX_FIELD_BYTES:
            raise invalid_argument("form field too large", self._name)

    def _part_end(self) -> None:
        if self.file_done:
            return
        if self._in_file:
            self.file_done = True
        else:
            self.fields[self._name] = self._data.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True


async def read_form(
    stream: AsyncIterator[bytes], boundary: bytes, on_file: Callable[[bytes], None]
) -> tuple[dict[str, str], str | None, str | None]:
    """Parse the form; file bytes go to ``on_file``. Returns (fields, file name, file part Content-Type)."""
    reader = _FormReader(on_file)
    try:
        parser = MultipartParser(boundary, reader.callbacks())
    except FormParserError as e:
        raise invalid_argument(f"malformed multipart/form-data body: {e}") from None
    async for chunk in stream:  # read to the end so the connection stays usable
        if chunk and not reader.ended:
            try:
                parser.write(chunk)
            except FormParserError as e:
                raise invalid_argument(f"malformed multipart/form-data body: {e}") from None
    if not (reader.ended or reader.file_done):
        raise invalid_argument("malformed multipart/form-data body")
    return reader.fields, reader.filename, reader.file_ctype


def lowercase_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """OSS matches form field names case-insensitively, except the policy's own spelling of ``key``."""
    return {k.lower(): v for k, v in fields.items()}


def check_policy(policy_b64: str, form: Mapping[str, str], bucket: str, size: int, now: float | None = None) -> None:
    """Enforce the policy's expiration and conditions (eq, starts-with, in, not-in, content-length-range, exact
    matches)."""
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
            elif op in ("in", "not-in"):
                if not isinstance(cond[2], list):
                    raise invalid_argument(f"Invalid Policy: the values of '{op}' must be a list.", "policy", op)
                listed = field(str(cond[1])) in [str(v) for v in cond[2]]
                if listed != (op == "in"):
                    raise access_denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(cond)}")
            elif (op == "eq" and field(str(cond[1])) != str(cond[2])) or (
                op == "starts-with" and not field(str(cond[1])).startswith(str(cond[2]))
            ):
                raise access_denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(cond)}")
            elif op not in ("eq", "starts-with", "content-length-range", "in", "not-in"):
                raise invalid_argument(f"Invalid Policy: Invalid condition operator {op}.", "policy", op)
