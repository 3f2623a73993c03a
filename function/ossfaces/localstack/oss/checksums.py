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
from oss2.utils import Crc64

# CRC-64/XZ (CRC-64/ECMA-182 as OSS names it), defined once by oss2 (``oss2.utils.Crc64``: the polynomial and xor-out
# it checks every upload and download against), built the way oss2 builds it, with crcmod; as a plain function,
# because ``Crc64()`` also builds a combine table (~0.5 ms) and the writer extends its CRC chunk by chunk.
_crc64: Callable[[bytes, int], int] = cast(
    "Callable[[bytes, int], int]", crcmod.mkCrcFun(Crc64._POLY, initCrc=0, xorOut=Crc64._XOROUT, rev=True)
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
