"""``vision.nets``: one onnxruntime session per network, shared by every thread, threads fitted to the instance."""

from __future__ import annotations

import os
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ossfaces.heap import keep_large_blocks_mapped
from ossfaces.vision import FaceAnalyzer
from ossfaces.vision.models import BY_ROLE, resolve_models_dir
from ossfaces.vision.nets import Net, cpu_budget, load_all


def test_cpu_budget_is_within_the_cpus_this_process_may_use() -> None:
    assert 1 <= cpu_budget() <= len(os.sched_getaffinity(0))


def test_one_session_serves_many_threads_at_once() -> None:
    """The same forward pass from four threads at once gives the one-thread answer (onnxruntime's ``Run`` is
    thread-safe; OpenCV's nets were not, which is why revision 3 kept a copy per thread)."""
    net = Net(resolve_models_dir() / BY_ROLE["gender"].filename, 2, (1, 3, 32, 32))
    rng = np.random.default_rng(0)
    blobs = [rng.uniform(-0.5, 0.5, (3, 3, 32, 32)).astype(np.float32) for _ in range(16)]
    alone = [net.run(b) for b in blobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(net.run, blobs))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_load_all_builds_every_network_in_the_pool() -> None:
    path: Path = resolve_models_dir() / BY_ROLE["emotion"].filename
    with ThreadPoolExecutor(2) as pool:
        nets = load_all([lambda: Net(path, 1, (1, 1, 64, 64)) for _ in range(3)], pool)
    assert len({id(n) for n in nets}) == 3
    assert all(n.run(np.zeros((2, 1, 64, 64), np.float32)).shape == (2, 7) for n in nets)


def test_the_analyzer_sessions_use_the_threads_asked_for() -> None:
    analyzer = FaceAnalyzer.load(threads=1)
    nets = {id(n): n for n in [analyzer._detector.yunet.net, *analyzer._attributes.nets.values()]}.values()
    assert len(nets) == 5
    assert all(n.session.get_session_options().intra_op_num_threads == 1 for n in nets)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap policy is glibc's (FC's runtimes are Debian)")
def test_the_heap_keeps_large_blocks_mapped_on_glibc() -> None:
    assert keep_large_blocks_mapped()
