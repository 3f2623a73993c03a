"""Bodies on disk: a body being received streams into a temp file (size, MD5 and CRC-64 computed on the way); it is
installed as an immutable blob only once complete and durable."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO

from .. import checksums
from ..errors import OssError


class BlobWriter:
    """A body being received: streams to a temp file while computing size, MD5 and CRC-64."""

    def __init__(self, path: Path, *, fsync: bool, init_crc: int = 0, max_size: int | None = None) -> None:
        self.blob_id = path.name
        self.path = path
        self._fsync = fsync
        self._file: IO[bytes] | None = path.open("xb")
        self._md5: hashlib._Hash | None = hashlib.md5()  # None once stored blobs were appended unread
        self.crc = init_crc
        self.size = 0
        self._max_size = max_size

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise RuntimeError("write after finish")
        self.size += len(data)
        if self._max_size is not None and self.size > self._max_size:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        self._file.write(data)
        if self._md5 is not None:
            self._md5.update(data)
        self.crc = checksums.crc64_update(self.crc, data)

    @property
    def md5(self) -> bytes:
        if self._md5 is None:
            raise RuntimeError("no MD5: stored blobs were appended without reading them")
        return self._md5.digest()

    def append_blob(self, path: Path, size: int, crc: int) -> None:
        """Append a stored blob whose size and CRC-64 are known: the kernel copies the bytes where it can, the CRC is
        combined from the two (nothing is read to hash it), and the MD5 of the whole is no longer known."""
        if self._file is None:
            raise RuntimeError("write after finish")
        self._file.flush()
        out = self._file.fileno()
        src = os.open(path, os.O_RDONLY)
        try:
            copied = copy_range(src, out, size)
            while copied < size and (chunk := os.read(src, min(1 << 20, size - copied))):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
                copied += len(chunk)
        finally:
            os.close(src)
        if copied != size:
            raise OSError(f"blob {path.name} holds {copied} bytes, {size} expected")
        self.size += size
        self.crc = checksums.crc64_combine(self.crc, crc, size)
        self._md5 = None

    def finish(self) -> None:
        """Make the bytes durable; after this the blob may be committed."""
        if self._file is not None:
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def copy_range(src: int, dst: int, size: int) -> int:
    """Copy up to ``size`` bytes from ``src``'s offset to ``dst``'s inside the kernel (``copy_file_range``, Linux) and
    say how many it copied: 0 where the system cannot (the caller copies the rest through user space)."""
    copy = getattr(os, "copy_file_range", None)
    copied = 0
    if copy is None:
        return copied
    try:
        while copied < size:
            n = copy(src, dst, size - copied)
            if n == 0:
                break
            copied += n
    except OSError:  # unsupported here (file system, kernel, sandbox): the offsets moved by what was copied
        pass
    return copied
