"""``vision.nets``: one network per thread, and the loading thread's copies built in parallel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.nets import PerThread, load_all


class Made:
    """A stand-in for a network that remembers the thread that built it (building real ones is the analyzer tests')."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()


def test_each_thread_gets_its_own_copy_built_on_first_use() -> None:
    slot = PerThread(Made)
    mine = slot.get()
    assert slot.get() is mine
    theirs: list[Made] = []
    worker = threading.Thread(target=lambda: theirs.append(slot.get()))
    worker.start()
    worker.join()
    assert theirs[0] is not mine and theirs[0].thread != mine.thread


def test_load_all_builds_in_the_pool_and_hands_the_copies_to_the_calling_thread() -> None:
    slots = [PerThread(Made) for _ in range(4)]
    with ThreadPoolExecutor(2) as pool:
        load_all(slots, pool)
    built = [slot.get() for slot in slots]  # no build now: the pool's copies are this thread's
    assert all(m.thread != threading.get_ident() for m in built)
    assert [slot.get() for slot in slots] == built


def test_the_loading_thread_analyses_with_the_networks_built_at_load() -> None:
    """``FaceAnalyzer.load`` leaves the calling thread nothing to build: its first photo pays no network load."""
    analyzer = FaceAnalyzer.load(threads=2)
    nets: list[PerThread[Any]] = [analyzer._detector.net, *analyzer._attributes.nets.values()]
    assert all(getattr(slot._local, "value", None) is not None for slot in nets)
