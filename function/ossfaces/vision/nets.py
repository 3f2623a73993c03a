"""The networks on onnxruntime: one session per network per process, its threads fitted to the instance's CPUs, built
and warmed in parallel at load (most of the engine's cold start).

An onnxruntime session may be run from many threads at once, so unlike OpenCV's nets (which kept per-call state and
needed a copy per thread) one session serves every thread of the process.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ossfaces.heap import release_freed_memory


def cpu_budget() -> int:
    """The CPUs this process may use: its affinity, and below that the cgroup's CPU quota, which is how FC gives an
    instance its vCPUs (``os.cpu_count()`` there is the host's)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    with contextlib.suppress(OSError, ValueError):
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota_us > 0:
            cpus = min(cpus, math.ceil(quota_us / period_us))
    return max(1, cpus)


class Net:
    """One network: an onnxruntime session over a model file, warmed by a first pass over zeros of ``warm_shape``
    (the first pass plans and allocates). ``run`` is safe from many threads."""

    def __init__(self, path: Path, threads: int, warm_shape: tuple[int, ...]) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # warnings about unused initializers etc. are noise in FC's logs
        # Idle pool threads sleep instead of spinning: spinning took a loaded core from the other process of a pair
        # (bench_engine's throughput) and made one thread's SFace 1.5x slower here (39 vs 26 ms at load 3).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.run_all(np.zeros(warm_shape, np.float32))

    def run_all(self, blob: NDArray[Any]) -> list[NDArray[Any]]:
        """Every output of one forward pass over ``blob``."""
        return list(self.session.run(None, {self.input: blob}))

    def run(self, blob: NDArray[Any]) -> NDArray[Any]:
        """The first output of one forward pass over ``blob``, as float32."""
        return np.asarray(self.session.run(None, {self.input: blob})[0], dtype=np.float32)


def load_all(makers: Sequence[Callable[[], Net]], pool: Executor) -> list[Net]:
    """Build every network in ``pool``, in parallel (onnxruntime parses, optimises and runs without the GIL), then
    hand the C heap the pool threads freed back to the system."""
    nets = list(pool.map(lambda make: make(), makers))
    release_freed_memory()
    return nets
