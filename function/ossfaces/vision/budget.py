"""A memory budget for the analyses one process runs at once.

FC runs one analysis per instance, but one process of the local stack runs several (``ossfaces up``: the trigger's
workers, ``imm/detectface``, the IMM v2 endpoint), and four worst-case photos at once must not take four times the
memory of one. Each analysis holds its estimate (``decode.analysis_bytes``: the decoder's peak, or the detector's
working set on the decoded array, whichever is larger) from before its pixels are decoded until it ends; the analyses
held at once never exceed the budget, so the process's peak is bounded by design, whatever arrives. An analysis larger
than the whole budget waits until it runs alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ossfaces.vision.decode import DECODE_BUDGET_BYTES, analysis_bytes

T = TypeVar("T")


class MemoryBudget:
    """Bytes held by the running analyses; :meth:`hold` waits until its share fits."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self.peak = 0  # the most held at once (for tests and benchmarks)
        self._free = threading.Condition()

    @contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        amount = max(0, min(amount, self.capacity))
        with self._free:
            self._free.wait_for(lambda: self.held + amount <= self.capacity)
            self.held += amount
            self.peak = max(self.peak, self.held)
        try:
            yield
        finally:
            with self._free:
                self.held -= amount
                self._free.notify_all()


ANALYSIS_MEMORY = MemoryBudget(DECODE_BUDGET_BYTES)
"""One per process: together, the analyses running at once hold at most one worst-case decode's budget."""


def within_memory_budget(analyze: Callable[[Any, bytes], T]) -> Callable[[Any, bytes], T]:
    """Decorates ``FaceAnalyzer.analyze(self, data)``: the analysis runs once its estimate fits ``ANALYSIS_MEMORY``."""

    @functools.wraps(analyze)
    def bounded(self: Any, data: bytes) -> T:
        with ANALYSIS_MEMORY.hold(analysis_bytes(data)):
            return analyze(self, data)

    return bounded
