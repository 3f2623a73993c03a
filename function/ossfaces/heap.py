"""The C heap: glibc's malloc, told how a process that holds and frees blocks of megabytes uses it.

glibc serves large blocks with ``mmap`` and returns them on ``free``, but it raises that threshold to the size of
each such block freed (up to 32 MiB): after the first large block, every block of a few megabytes comes from the heap
instead, where freed holes between live blocks are never returned. A fixed threshold keeps blocks over 4 MiB in their
own mappings. The engine decodes photos of tens of megabytes: on the worst files the decoder accepts this took 30-50
MiB off the peak (``benchmarks/bench_decode_memory.py``); a 24-megapixel photo's time moved within the machine's noise
(``benchmarks/bench_engine.py``). The ``ossfaces`` command widens and frees blocks of embeddings: the second run of
``people`` at a million faces peaked at 1,517 MB instead of 1,587 (``benchmarks/bench_people.py --from-index
1000000``). Nothing happens where libc is not glibc.
"""

from __future__ import annotations

import contextlib
import ctypes

M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter number (glibc's ``malloc.h``); setting it also turns the dynamic threshold off."""
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Blocks at least this large get their own mapping: a decoded frame, a reduced array, a 24-megapixel detector blob.
Smaller ones (a band of 128 rows, a face crop) are reused from the heap, as before."""


def _glibc() -> ctypes.CDLL | None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


def keep_large_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD_BYTES`` for this process; False where that is not possible."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1)


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (``malloc_trim``). Each thread that built a network has its own
    malloc arena, which keeps what building it freed."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
