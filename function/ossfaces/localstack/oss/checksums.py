"""Integrity values exactly as OSS computes them: CRC-64/XZ (``x-oss-hash-crc64ecma``), MD5 and ETags.

oss2 compares the server's CRC with its own on every write and on ``get_object_to_file``; ETags are quoted uppercase
hex.  Keeping the formulas here means the server and its tests use one definition.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from typing import cast

import crcmod

# CRC-64/XZ (CRC-64/ECMA-182 as OSS names it) built with crcmod exactly as oss2 builds its own (``oss2.utils.Crc64``:
# polynomial 0x142F0E1EBA9EA3693, reflected, init 0, xor-out all ones), which checks every upload and download against
# ours. oss2 itself is not imported here: it would cost the server ~0.4 s and ~24 MB at start for two constants, and
# ``Crc64()`` builds a combine table (~0.5 ms) per object. tests/localstack/test_oss_checksums.py pins the two together.
POLY = 0x142F0E1EBA9EA3693
XOROUT = 0xFFFFFFFFFFFFFFFF
_crc64: Callable[[bytes, int], int] = cast(
    "Callable[[bytes, int], int]", crcmod.mkCrcFun(POLY, initCrc=0, xorOut=XOROUT, rev=True)
)


def crc64_update(crc: int, data: bytes) -> int:
    """Extend ``crc`` (a finished CRC of the preceding bytes, 0 for none) over ``data``."""
    return _crc64(data, crc)


def crc64(data: bytes) -> int:
    return _crc64(data, 0)


def etag_of_md5(digest: bytes) -> str:
    """ETag of a simple upload: uppercase hex MD5 (unquoted; quoting happens when it goes on the wire)."""
    return digest.hex().upper()


def multipart_etag(part_md5s: Iterable[bytes]) -> str:
    """ETag of a completed multipart upload: MD5 over the concatenated binary part MD5s, then ``-<number of parts>``."""
    parts = list(part_md5s)
    return f"{hashlib.md5(b''.join(parts)).hexdigest().upper()}-{len(parts)}"


def quoted(etag: str) -> str:
    return f'"{etag}"'


def content_md5_matches(header_value: str, digest: bytes) -> bool:
    """True if the base64 ``Content-MD5`` header names ``digest``."""
    try:
        return base64.b64decode(header_value.strip(), validate=True) == digest
    except ValueError:
        return False
