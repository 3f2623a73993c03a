"""OpenCV networks, one per thread, and the parallel load that makes up most of the engine's cold start.

OpenCV nets keep per-call state and are not safe to call from two threads at once, so every thread that analyses
photos gets its own copy, built on first use. The loading thread's copies are built in parallel instead
(:func:`load_all`): parsing the SFace and age networks and their first forward passes, which allocate, are most of
the time between ``import`` and the first photo, and ``cv2`` releases the GIL while it parses and runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

T = TypeVar("T")


class PerThread(Generic[T]):
    """One ``T`` per thread, made by ``make`` the first time a thread asks for it."""

    def __init__(self, make: Callable[[], T]) -> None:
        self.make = make
        self._local = threading.local()

    def get(self) -> T:
        value: T | None = getattr(self._local, "value", None)
        if value is None:
            value = self.set(self.make())
        return value

    def set(self, value: T) -> T:
        """Make ``value`` this thread's copy (built by :func:`load_all` in other threads)."""
        self._local.value = value
        return value


def load_all(slots: Sequence[PerThread[Any]], pool: Executor) -> None:
    """Build every slot's value in ``pool``, in parallel, and make them the calling thread's copies."""
    for slot, value in zip(slots, list(pool.map(lambda s: s.make(), slots)), strict=True):
        slot.set(value)
    release_freed_memory()


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``). Each pool thread has its own malloc
    arena, which keeps what parsing the models freed: without this, the first 24 MP photo peaked 24 MiB higher
    (317 vs 293 MiB) than with the old one-thread load; with it, 296. Nothing happens where libc is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def warm_net(path: Path, shape: tuple[int, ...]) -> cv2.dnn.Net:
    """The network in ``path`` after one forward pass over zeros of ``shape`` (the first pass allocates)."""
    net = cv2.dnn.readNet(str(path))
    net.setInput(np.zeros(shape, np.float32))
    net.forward()
    return net
