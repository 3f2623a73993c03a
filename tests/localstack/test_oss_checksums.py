"""The local OSS's CRC-64 is oss2's: same parameters, same values, also when extended chunk by chunk."""

from __future__ import annotations

import os

from oss2.utils import Crc64

from ossfaces.localstack.oss import checksums


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
