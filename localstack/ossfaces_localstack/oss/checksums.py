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


# CRC combination as zlib's crc32_combine (1.2.12+) does it, in 64 bits: polynomials over GF(2) in the CRC's reflected
# bit order (bit 63 is x^0), multiplied modulo the CRC polynomial. Appending n zero bytes to a message multiplies its
# raw CRC register by x^(8n), so crc(A + B) = crc(A) * x^(8 * len(B)) ^ crc(B) for a CRC whose init equals its xor-out
# (CRC-64/XZ: both all ones). Tens of µs per combine, whatever len(B); oss2's Crc64.combine gives the same values.
_REFLECTED_POLY = int(f"{POLY & XOROUT:064b}"[::-1], 2)  # 0xC96C5795D7870F42
_X0 = 1 << 63  # the polynomial 1 (x^0)


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC polynomial."""
    product = 0
    bit = _X0
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _REFLECTED_POLY if b & 1 else b >> 1
    return product


_X2N = [_X0 >> 1]  # x^(2^k) for k = 0 … 66: x^1, x^2, x^4, …, enough for any n < 2^64 bytes (8n < 2^67)
while len(_X2N) < 67:
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def _x8nmodp(n: int) -> int:
    """x^(8n) modulo the CRC polynomial: the operator of n zero bytes (0 <= n < 2^64)."""
    if not 0 <= n < 1 << 64:
        raise ValueError(f"length out of range: {n}")
    product, k = _X0, 3  # 8n = n * 2^3
    while n:
        if n & 1:
            product = _multmodp(_X2N[k], product)
        n >>= 1
        k += 1
    return product


def crc64_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-64 of A + B from ``crc1`` = crc64(A), ``crc2`` = crc64(B) and ``len2`` = len(B), without their bytes."""
    return _multmodp(_x8nmodp(len2), crc1) ^ crc2


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
