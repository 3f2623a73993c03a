"""The local OSS's CRC-64 is oss2's: same parameters, same values, also when extended chunk by chunk."""

from __future__ import annotations

import os

from oss2.utils import Crc64

from ossfaces_localstack.oss import checksums


def test_crc64_parameters_are_oss2s() -> None:
    assert (checksums.POLY, checksums.XOROUT) == (Crc64._POLY, Crc64._XOROUT)


def test_crc64_matches_oss2_chunk_by_chunk() -> None:
    chunks = [b"", b"123456789", os.urandom(1), os.urandom(70_000), os.urandom(4096)]
    reference = Crc64()
    ours = 0
    for chunk in chunks:
        reference.update(chunk)
        ours = checksums.crc64_update(ours, chunk)
        assert ours == reference.crc
    assert checksums.crc64(b"123456789") == 11051210869376104954  # the documented check value


def test_crc64_combine_matches_oss2s() -> None:
    """crc(A + B) from crc(A), crc(B) and len(B) alone, as oss2's Crc64.combine computes it (multipart objects)."""
    reference = Crc64()
    pieces = [b"", b"a", b"123456789", os.urandom(1000), os.urandom(65_537), b"\x00" * 4096, os.urandom(3)]
    for first in pieces:
        for second in pieces:
            crc1, crc2 = checksums.crc64(first), checksums.crc64(second)
            ours = checksums.crc64_combine(crc1, crc2, len(second))
            assert ours == reference.combine(crc1, crc2, len(second)) == checksums.crc64(first + second)
    for length in (1, 7, 8, 1 << 20, 10 * (1 << 20) + 3, (1 << 40) + 5):  # lengths only: no bytes needed
        assert checksums.crc64_combine(0x1234_5678_9ABC_DEF0, 42, length) == reference.combine(
            0x1234_5678_9ABC_DEF0, 42, length
        )
